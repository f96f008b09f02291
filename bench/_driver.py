"""Load driver: simulated users talk to a bot through the fake Telegram server.

Generic over the bot: `drive` takes the fake server, a `BotRunner` (a coroutine function
that runs the bot until the given stop event is set) and one script per user. Each user
sends its next update only after the reply to the previous one arrived, like a person
would; latency is the time from queueing an update to the fake receiving the reply
(sendMessage, an edit, a document...). It prints figures and asserts nothing.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.fake_telegram import FakeTelegram, FakeUser, RecordedCall

BotRunner = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
REPLY_METHODS = frozenset(
    {"sendMessage", "sendDocument", "sendPhoto", "editMessageText", "editMessageReplyMarkup"}
)


def is_reply(call: RecordedCall) -> bool:
    """Any successful message or edit: the default "the bot answered" condition."""
    return call.ok and call.method in REPLY_METHODS


@dataclass(frozen=True)
class Step:
    """One thing a user does (queue an update) and what counts as the bot's answer.

    `done` sees only calls to the user's chat made after the update was queued; make it
    specific when the bot answers one update with several messages, or the extra ones
    would be taken as the answer to the next step.
    """

    act: Callable[[FakeTelegram, FakeUser], object]
    done: Callable[[RecordedCall], bool] = is_reply


def say(text: str, done: Callable[[RecordedCall], bool] = is_reply) -> Step:
    return Step(lambda fake, user: fake.send_text(user, text), done)


def command(name: str, args: str = "", done: Callable[[RecordedCall], bool] = is_reply) -> Step:
    return Step(lambda fake, user: fake.send_command(user, name, args), done)


def press(callback_data: str, done: Callable[[RecordedCall], bool] = is_reply) -> Step:
    return Step(lambda fake, user: fake.press(user, callback_data), done)


Script = Sequence[Step]


def chatter(
    users: int, messages: int, *, first_user_id: int = 10_000
) -> list[tuple[FakeUser, Script]]:
    """`users` people each saying `messages` distinct texts."""
    return [
        (
            FakeUser(first_user_id + u, first_name=f"User {u}", language_code="vi"),
            [say(f"tin nhắn {m} của người {u}") for m in range(messages)],
        )
        for u in range(users)
    ]


@dataclass
class UserOutcome:
    latencies: list[float] = field(default_factory=list)  # seconds
    timed_out: bool = False


@dataclass
class BenchResult:
    users: int
    updates: int  # updates queued
    elapsed: float  # seconds from the first update to the last answer
    latencies: list[float]  # seconds, one per answered update
    timeouts: int  # users that gave up waiting for an answer
    rate_limited: int  # 429 answers the fake served

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in seconds."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    def report(self, name: str) -> str:
        ms = 1000
        return "\n".join(
            [
                f"{name}: {self.users} users, {self.updates} updates, "
                f"{len(self.latencies)} answered in {self.elapsed:.2f} s",
                f"  throughput  {self.throughput:8.0f} updates/s",
                f"  latency     p50 {self.percentile(50) * ms:.1f} ms   "
                f"p99 {self.percentile(99) * ms:.1f} ms   "
                f"max {self.percentile(100) * ms:.1f} ms",
                f"  timeouts    {self.timeouts}   429s served {self.rate_limited}",
            ]
        )


async def _run_user(
    fake: FakeTelegram, user: FakeUser, script: Script, step_timeout: float
) -> UserOutcome:
    outcome = UserOutcome()
    for step in script:
        since = fake.mark()
        queued = time.perf_counter()
        step.act(fake, user)
        try:
            call = await fake.wait_for(step.done, step_timeout, since=since, chat_id=user.chat)
        except TimeoutError:
            outcome.timed_out = True  # a person would give up too; the rest is not sent
            return outcome
        outcome.latencies.append(call.at - queued)
    return outcome


async def _until_ready(ready: Awaitable[None], bot: asyncio.Task[None]) -> None:
    """Wait for `ready`, but fail fast if the bot dies while starting."""
    waiting = asyncio.ensure_future(ready)
    await asyncio.wait({waiting, bot}, return_when=asyncio.FIRST_COMPLETED)
    if not waiting.done():
        waiting.cancel()
        bot.result()  # raises the bot's startup error
        raise RuntimeError("the bot stopped before it was ready")
    waiting.result()


async def drive(
    fake: FakeTelegram,
    run_bot: BotRunner,
    scripts: Sequence[tuple[FakeUser, Script]],
    *,
    step_timeout: float = 30.0,
    ready: Callable[[], Awaitable[None]] | None = None,
    stop_timeout: float = 30.0,
) -> BenchResult:
    """Start the bot, play every user's script concurrently, stop the bot, return figures.

    `ready` defaults to "the bot made its first getUpdates"; for a webhook bot pass e.g.
    `lambda: fake.wait_for(lambda c: c.method == "setWebhook")`.
    """
    stop = asyncio.Event()
    bot = asyncio.create_task(run_bot(stop))
    try:
        await _until_ready((ready or fake.wait_polling)(), bot)
        rate_limited_before = fake.stats.rate_limited
        started = time.perf_counter()
        outcomes = await asyncio.gather(
            *(_run_user(fake, user, script, step_timeout) for user, script in scripts)
        )
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        try:
            await asyncio.wait_for(bot, stop_timeout)
        except TimeoutError:
            pass  # wait_for cancelled it; figures are still worth printing
    return BenchResult(
        users=len(scripts),
        updates=sum(len(script) for _, script in scripts),
        elapsed=elapsed,
        latencies=[latency for o in outcomes for latency in o.latencies],
        timeouts=sum(o.timed_out for o in outcomes),
        rate_limited=fake.stats.rate_limited - rate_limited_before,
    )
