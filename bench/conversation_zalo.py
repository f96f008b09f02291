"""Conversation throughput on Zalo: unit contacts answer their checklist through our bot,
and a bare echo bot written with the official SDK (`python-zalo-bot`) meets the same
contacts on the same fake, in the same run.

    uv run python bench/conversation_zalo.py                     # 50 contacts, both backends
    uv run python bench/conversation_zalo.py --contacts 20 --backends sqlite
    uv run python bench/conversation.py --channel zalo           # the same, from the main bench

Our side is the real runner (`bot.runner.run_bot`: the Zalo channel on httpx polling
`getUpdates`, the dispatcher, the outbox worker) against tests/fake_zalo/, on a fresh SQLite
file and a throw-away PostgreSQL database. Each contact types its invite code and answers
the 7 items of `tests.factories.campaign` by typing (numbers for the choices, a photo as
evidence): 13 messages, the next one sent only once the bot has answered the previous one.

The peer: `zalo_bot.Bot.get_update` in a loop, `send_message` back what was typed; the same
number of contacts each send 13 texts and wait for each echo. Zalo's `getUpdates` hands out
one event per call, so both bots are bounded by the same round trips to the fake.

Our bot paces everything it sends on Zalo (replies first, then the outbox) to
`ZALO_RATE_PER_SECOND`, 5 by default, as deployed: with more contacts typing than that,
the pacing is the bound. Each backend runs twice: at the default rate (what a deployment
gets) and with `--rate` (default 1000/s, no practical cap: the bot's own cost, comparable
with the unpaced echo bot).

Printed: messages/s, the ratio ours/echo, reply latency p50/p99/max, and the answers stored
against the answers given (not one may be lost). Asserts nothing; the exit status is 1 when
an answer was lost or a contact gave up.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

# Run as a script from anywhere: make the repository root importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import zalo_bot
from pydantic import SecretStr
from sqlalchemy import func, select
from zalo_bot.error import ZaloError

from bench._databases import fresh_database, import_contacts
from bench._driver import BenchResult
from bot.app import open_app
from bot.runner import run_bot
from bot.settings import Settings
from common.clock import FrozenClock
from storage.db.models import Answer
from tests.fake_zalo import FakeZalo, ZaloCall, ZaloUser

START = datetime(2021, 9, 1, 1, 0, tzinfo=UTC)  # 08:00 in Asia/Ho_Chi_Minh: nothing is late
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")  # magic bytes pass
MESSAGES_PER_CONTACT = 13  # what `answer_checklist` sends
ANSWERS_PER_CONTACT = 7
FIRST_USER = 800_000
CHOICE = re.compile(r"^(#?\d+)\. (.*)$")


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    given: int = 0
    failure: str | None = None


class Contact:
    """One person on Zalo: sends, times the first reply, waits for the expected one."""

    def __init__(self, fake: FakeZalo, user: ZaloUser, outcome: Outcome, timeout: float):
        self.fake, self.user, self.outcome, self.timeout = fake, user, outcome, timeout

    def _reply(self, since: int, fragment: str = "") -> Callable[[ZaloCall], bool]:
        chat = self.user.chat
        return lambda c: (
            c.ok and c.method == "sendMessage" and c.chat_id == chat and fragment in c.text
        )

    async def _step(self, send: Callable[[], object], expect: str, answer: bool) -> None:
        since, queued = self.fake.mark(), time.perf_counter()
        self.outcome.given += answer
        send()
        await self.fake.wait_for(self._reply(since), since=since, timeout=self.timeout)
        self.outcome.latencies.append(time.perf_counter() - queued)
        await self.fake.wait_for(self._reply(since, expect), since=since, timeout=self.timeout)

    async def text(self, text: str, expect: str, *, answer: bool = True) -> None:
        await self._step(lambda: self.fake.send_text(self.user, text), expect, answer)

    async def pick(self, label: str, expect: str, *, answer: bool = False) -> None:
        number = self._number(label)
        await self._step(lambda: self.fake.send_text(self.user, number), expect, answer)

    async def photo(self, expect: str) -> None:
        await self._step(lambda: self.fake.send_photo(self.user, JPEG), expect, False)

    def _number(self, label: str) -> str:
        """What to type for the choice `label` of the newest numbered list."""
        for text in reversed(self.fake.texts(self.user.chat)):
            for line in text.splitlines():
                match = CHOICE.match(line)
                if match and label in match.group(2):
                    return match.group(1)
        raise LookupError(f"no choice {label!r} in chat {self.user.chat}")


async def answer_checklist(fake: FakeZalo, user: ZaloUser, code: str, timeout: float) -> Outcome:
    outcome = Outcome()
    me = Contact(fake, user, outcome, timeout)
    try:
        await me.text(code, "Bắt đầu", answer=False)  # typed without /start
        await me.pick("Bắt đầu", "Mục 1/7")
        await me.text("31/12/2020", "tài liệu kiểm chứng")  # date, asks for evidence
        await me.photo("Đã nhận")
        await me.pick("Tiếp tục", "Mục 2/7")
        await me.pick("Có", "Đã lưu mục 1.2", answer=True)  # yes/no, evidence asked
        await me.pick("Tiếp tục", "Mục 3/7")  # no evidence: a warning, then item 3
        await me.text("95", "Mục 4/7")  # percent
        await me.text("0", "Mục 5/7")  # number
        await me.pick("Đã áp dụng", "Tiếp tục", answer=True)  # choice
        await me.pick("Tiếp tục", "Mục 6/7")
        await me.pick("Chữ ký số", "Mục 6/7")
        await me.pick("Xong", "Mục 7/7", answer=True)  # multi
        await me.text("Đề nghị bổ sung biên chế", "9.1")  # text, then the review
    except (TimeoutError, LookupError) as error:
        outcome.failure = f"{type(error).__name__}: {str(error)[:200]}"
    return outcome


@dataclass
class Run:
    name: str
    result: BenchResult
    given: int
    stored: int
    gave_up: list[str]

    @property
    def lost(self) -> int:
        return max(0, self.given - self.stored)


def _result(outcomes: list[Outcome], contacts: int, elapsed: float) -> BenchResult:
    return BenchResult(
        users=contacts,
        updates=MESSAGES_PER_CONTACT * contacts,
        elapsed=elapsed,
        latencies=[x for o in outcomes for x in o.latencies],
        timeouts=sum(o.failure is not None for o in outcomes),
        rate_limited=0,
    )


async def run_ours(backend: str, contacts: int, *, timeout: float, rate: float) -> Run:
    with tempfile.TemporaryDirectory(prefix=f"cchc-bench-zalo-{backend}-") as tmp:
        folder = Path(tmp)
        async with fresh_database(backend, folder) as url, FakeZalo() as fake:
            clock = FrozenClock(START)
            codes = await import_contacts(url, contacts, clock)
            settings = Settings(
                zalo_bot_token=SecretStr(fake.token),
                zalo_bot_api_url=fake.base_url,
                zalo_rate_per_second=rate,
                database_url=url,
                evidence_dir=folder / "evidence",
                _env_file=None,
            )
            app = await open_app(settings, clock=clock)
            stop = asyncio.Event()
            bot = asyncio.create_task(run_bot(app, stop=stop))
            try:
                await fake.wait_polling(30)
                users = [fake.user(str(FIRST_USER + n), f"Cán bộ {n}") for n in range(contacts)]
                started = time.perf_counter()
                flows = zip(users, codes, strict=True)
                outcomes = await asyncio.gather(
                    *(answer_checklist(fake, u, c, timeout) for u, c in flows)
                )
                elapsed = time.perf_counter() - started
            finally:
                stop.set()
                await asyncio.wait_for(bot, 30)
            async with app.sessions() as session:
                stored = await session.scalar(
                    select(func.count()).select_from(Answer).where(Answer.value.is_not(None))
                )
            await app.close()
    return Run(
        f"ours/{backend} {rate:g}/s",
        _result(list(outcomes), contacts, elapsed),
        given=sum(o.given for o in outcomes),
        stored=int(stored or 0),
        gave_up=[o.failure for o in outcomes if o.failure],
    )


async def _sdk_echo(fake: FakeZalo, stop: asyncio.Event) -> None:
    """The peer: the official SDK's documented calls, nothing of ours."""
    async with zalo_bot.Bot(fake.token, base_url=fake.base_url) as bot:
        while not stop.is_set():
            try:
                update = await bot.get_update(timeout=1)
            except ZaloError:  # 408 when nothing came within the timeout
                continue
            message = update.message if update else None
            if message is not None and message.text:
                await bot.send_message(message.chat.id, message.text)


async def _echo_contact(fake: FakeZalo, user: ZaloUser, timeout: float) -> Outcome:
    outcome = Outcome()
    chat = user.chat
    try:
        for n in range(MESSAGES_PER_CONTACT):
            text = f"tin nhắn {n} của {chat}"
            since, queued = fake.mark(), time.perf_counter()
            fake.send_text(user, text)
            await fake.wait_for(
                lambda c, t=text: c.ok and c.chat_id == chat and c.text == t,
                since=since,
                timeout=timeout,
            )
            outcome.latencies.append(time.perf_counter() - queued)
    except TimeoutError as error:
        outcome.failure = f"TimeoutError: {error}"
    return outcome


async def run_echo(contacts: int, *, timeout: float) -> Run:
    async with FakeZalo() as fake:
        stop = asyncio.Event()
        bot = asyncio.create_task(_sdk_echo(fake, stop))
        try:
            await fake.wait_polling(30)
            users = [fake.user(str(FIRST_USER + n), f"Cán bộ {n}") for n in range(contacts)]
            started = time.perf_counter()
            outcomes = await asyncio.gather(*(_echo_contact(fake, u, timeout) for u in users))
            elapsed = time.perf_counter() - started
        finally:
            stop.set()
            await asyncio.wait_for(bot, 30)
    return Run(
        "echo/python-zalo-bot",
        _result(list(outcomes), contacts, elapsed),
        given=0,
        stored=0,
        gave_up=[o.failure for o in outcomes if o.failure],
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def table(echo: Run, runs: list[Run]) -> str:
    lines = [
        f"{'run':<24}{'msg/s':>8}{'ratio':>7}{'p50':>11}{'p99':>11}{'max':>11}"
        f"{'stored/given':>14}{'lost':>6}{'gave up':>9}"
    ]
    for run in [echo, *runs]:
        r = run.result
        ratio = r.throughput / echo.result.throughput if echo.result.throughput else 0.0
        answers = f"{run.stored}/{run.given}" if run is not echo else "-"
        lines.append(
            f"{run.name:<24}{r.throughput:>8.1f}{ratio:>7.2f}{_ms(r.percentile(50)):>11}"
            f"{_ms(r.percentile(99)):>11}{_ms(r.percentile(100)):>11}{answers:>14}"
            f"{run.lost:>6}{len(run.gave_up):>9}"
        )
        lines += [f"    {why}" for why in run.gave_up[:3]]
    return "\n".join(lines)


async def main(contacts: int, backends: list[str], timeout: float, rate: float = 1000.0) -> bool:
    echo = await run_echo(contacts, timeout=timeout)
    default = Settings.model_fields["zalo_rate_per_second"].default
    runs = [
        await run_ours(backend, contacts, timeout=timeout, rate=r)
        for backend in backends
        for r in (default, rate)
    ]
    print(
        f"\nZalo conversation: {contacts} contacts x {MESSAGES_PER_CONTACT} messages "
        f"(one event per getUpdates)\n{table(echo, runs)}"
    )
    intact = all(not r.lost and not r.gave_up and r.stored == r.given for r in runs)
    return intact and not echo.gave_up


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=50)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--step-timeout", type=float, default=60.0)
    parser.add_argument(
        "--rate", type=float, default=1000.0, help="ZALO_RATE_PER_SECOND of the second run"
    )
    return parser.parse_args(argv)


def cli(argv: list[str] | None = None) -> int:
    args = parse(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    logging.basicConfig(level=logging.WARNING)
    met = asyncio.run(main(args.contacts, backends, args.step_timeout, args.rate))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(cli())
