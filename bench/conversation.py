"""Conversation throughput: N unit contacts answer their checklist through the real bot.

    uv run python bench/conversation.py                        # 200 contacts, both backends
    uv run python bench/conversation.py --contacts 50 --backends sqlite --queries
    uv run python bench/conversation.py --think 10             # a slower paced pass
    uv run python bench/conversation.py --think 0              # saturation only
    uv run python bench/conversation.py --channel zalo --contacts 50   # the Zalo pass

Every contact is a simulated Telegram user talking to the real runner (`bot.runner.run_bot`:
aiogram polling, the conversation dispatcher, the outbox worker) through the fake Bot API
server (tests/fake_telegram/), on a fresh SQLite file and a throw-away PostgreSQL database
(dropped afterwards). Each one joins with its invite code and answers the 7 items of
`tests.factories.campaign` (typing, pressing buttons, sending one PDF): 14 updates, the next
one sent only once the bot has finished answering the previous one.

Figures: updates/s over the whole run; per-update reply latency from queueing the update to
the first sendMessage/editMessageText to that chat after it; process CPU per update (bot,
fake and contacts share one event loop, so this is the cost the throughput is bounded by,
and it is steadier than updates/s when other work shares the machine). In the same run a
bare aiogram echo bot (bench/echo_aiogram.py) meets the same number of users and messages on
the same kind of fake, right before and right after each saturation pass: our throughput
is printed as a ratio of those two echo runs pooled (the machine's speed drifts over minutes,
and one short echo run alone swung by 10-20% from one run to the next).

Two passes per backend, with the same number of contacts (200 by default). Saturation:
every contact answers at once, so the bot runs flat out; that pass gives the throughput
and its ratio to the echo bot.
Paced: each contact waits 0.5-1.5 x --think seconds (default 4) before each update, as
people reading and typing would (200 of them at 4 s offer about 42 updates/s); that pass
gives the reply latency the floor is about. At saturation the latency is queueing, not
speed: with 200 contacts answering instantly, Little's law makes the mean latency 200
divided by the throughput, so no bot gets p99 near 150 ms there (the echo bot's own is
about that).

Floors (issue 14), checked at the end: at saturation, ratio >= 0.25 of the echo bot on
SQLite and >= 0.2 on PostgreSQL; paced, p99 < 150 ms; in both, not one answer lost: every
answer the contacts gave is in the answers table (contacts x 7 when all finish), no update
ended in an error, and the bot made no failed Bot API call (getUpdates aside). The exit
status is 1 when a floor is missed. `--queries` prints Bot API requests and SQL statements
per update, `--profile` dumps a cProfile of the conversations (setup excluded).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import logging
import math
import os
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

# Run as a script from anywhere: make the repository root importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench._databases import fresh_database, import_contacts
from bench._driver import BenchResult, chatter, drive
from bench.echo_aiogram import echo_bot
from bot.app import App, open_app
from bot.runner import run_bot
from bot.settings import Settings
from common.clock import FrozenClock
from storage.db.models import Answer
from tests.fake_telegram import FakeTelegram, FakeUser, RecordedCall

START = datetime(2021, 9, 1, 1, 0, tzinfo=UTC)  # 08:00 in Asia/Ho_Chi_Minh: nothing is late
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"
FIRST_USER = 700_000
UPDATES_PER_CONTACT = 14  # what `answer_checklist` sends
ANSWERS_PER_CONTACT = 7  # items it answers
ANSWER_METHODS = frozenset({"sendMessage", "editMessageText"})
# Issue 14's floors: the ratio to the echo bot at saturation, per backend.
FLOOR_RATIO = {"sqlite": 0.25, "postgres": 0.2}
FLOOR_P99 = 0.150  # seconds

Done = Callable[[RecordedCall], bool]


# --------------------------------------------------------------------------------------------
# One simulated contact
# --------------------------------------------------------------------------------------------


def _buttons(call: RecordedCall) -> list[dict[str, str]]:
    rows = (call.reply_markup or {}).get("inline_keyboard", [])
    return [button for row in rows for button in row]


def item(n: int, total: int = 7) -> Done:
    """The card of item n is shown (sent or edited in): its "Mục n/7" line."""
    marker = f"Mục {n}/{total}"
    return lambda call: call.ok and call.method in ANSWER_METHODS and marker in call.text


def button(label: str) -> Done:
    """A message carrying a button whose label contains `label`."""
    return lambda call: call.ok and any(label in str(b.get("text")) for b in _buttons(call))


def any_reply(call: RecordedCall) -> bool:
    return call.ok and call.method in ANSWER_METHODS


def saved(code: str) -> Done:
    """A reply naming the item code (the "saved" line), not e.g. an apology for an error."""
    return lambda call: any_reply(call) and code in call.text


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)  # seconds, one per answered update
    given: int = 0  # answers sent to the bot
    confirmed: int = 0  # of those, the ones the bot went on from
    failure: str | None = None  # why the contact gave up


class Talk:
    """A contact's side of the chat: queue one update, time the first reply, wait until the
    bot has finished answering (`until`) before the caller does anything else."""

    def __init__(
        self,
        fake: FakeTelegram,
        user: FakeUser,
        outcome: Outcome,
        timeout: float,
        think: float,
        rng: random.Random,
    ) -> None:
        self.fake, self.user, self.outcome, self.timeout = fake, user, outcome, timeout
        self.think, self.rng = think, rng

    async def _step(self, act: Callable[[], object], until: Done, answer: bool) -> None:
        if self.think:  # reading the reply and typing the next one: 0.5-1.5 x think
            await asyncio.sleep(self.think * self.rng.uniform(0.5, 1.5))
        chat = self.user.chat
        since = self.fake.mark()
        queued = time.perf_counter()
        self.outcome.given += answer
        act()
        first = await self.fake.wait_for(any_reply, self.timeout, since=since, chat_id=chat)
        self.outcome.latencies.append(first.at - queued)
        if not until(first):
            await self.fake.wait_for(until, self.timeout, since=since, chat_id=chat)
        self.outcome.confirmed += answer

    async def command(self, name: str, args: str, until: Done) -> None:
        await self._step(lambda: self.fake.send_command(self.user, name, args), until, False)

    async def text(self, value: str, until: Done, *, answer: bool = True) -> None:
        await self._step(lambda: self.fake.send_text(self.user, value), until, answer)

    async def document(self, data: bytes, name: str, until: Done) -> None:
        await self._step(lambda: self.fake.send_document(self.user, data, name), until, False)

    async def press(self, label: str, until: Done, *, answer: bool = False) -> None:
        data = self._callback_data(label)
        await self._step(lambda: self.fake.press(self.user, data), until, answer)

    def _callback_data(self, label: str) -> str:
        """The newest button labelled `label` (exactly, else containing it)."""
        calls = self.fake.calls_to(chat_id=self.user.chat, ok_only=True)
        for exact in (True, False):
            for call in reversed(calls):
                for b in _buttons(call):
                    shown = str(b.get("text", "")).strip()
                    if (shown == label) if exact else (label in shown):
                        return str(b["callback_data"])
        raise LookupError(f"no button {label!r} in chat {self.user.chat}")


async def answer_checklist(
    fake: FakeTelegram,
    user: FakeUser,
    code: str,
    *,
    timeout: float,
    think: float = 0.0,
    seed: int = 0,
) -> Outcome:
    """One unit contact: join, answer all 7 items (one with a PDF), 14 updates in all.

    Each step waits until the bot has finished answering (`until`) before the next one.
    """
    outcome = Outcome()
    talk = Talk(fake, user, outcome, timeout, think, random.Random(seed))
    try:
        await talk.command("start", code, until=button("Bắt đầu"))
        await talk.press("Bắt đầu", until=item(1))
        await talk.text("31/12/2020", until=button("Tiếp tục"))  # date, asks for evidence
        await talk.document(PDF, "ke-hoach-cchc-2021.pdf", until=button("Tiếp tục"))
        await talk.press("Tiếp tục", until=item(2))
        await talk.press("Có", until=button("Tiếp tục"), answer=True)  # yes/no, evidence asked
        await talk.press("Tiếp tục", until=item(3))  # no evidence: a warning, then item 3
        await talk.text("95", until=item(4))  # percent
        await talk.text("0", until=item(5))  # number
        await talk.press("Đã áp dụng", until=button("Tiếp tục"), answer=True)  # choice
        await talk.press("Tiếp tục", until=item(6))
        await talk.press("Chữ ký số", until=lambda c: item(6)(c) and "☑" in str(c.reply_markup))
        await talk.press("Xong", until=item(7), answer=True)  # multi
        await talk.text("Đề nghị bổ sung biên chế", until=saved("9.1"))  # text, then review
    except (TimeoutError, LookupError) as error:  # a person would give up too
        outcome.failure = f"{type(error).__name__}: {str(error)[:300]}"
    return outcome


# --------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------


class ErrorLog(logging.Handler):
    """What the bot logged at ERROR. On the conversation path (`handlers.*`, `bot.channels.*`)
    each one is an update answered with an apology or a reply that did not go out; the rest
    (scheduler jobs, ...) is reported apart and does not count against the floor."""

    CONVERSATION = ("handlers", "bot.channels")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.conversation: list[str] = []
        self.other: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        cause = record.exc_info[1] if record.exc_info else None
        detail = ""
        if cause is not None:
            first = (str(cause).splitlines() or [""])[0]
            detail = f" ({type(cause).__name__}: {first[:120]})"
        line = f"{record.name}: {record.getMessage()[:120]}{detail}"
        path = record.name.startswith(self.CONVERSATION)
        (self.conversation if path else self.other).append(line)


_TABLE_RE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)', re.IGNORECASE)


class QueryCounter:
    """SQL statements the engine runs, by shape ("SELECT answers", "UPDATE submissions").
    BEGIN and COMMIT are not statements SQLAlchemy reports here; `--queries` says so."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.sync_engine
        self.shapes: Counter[str] = Counter()
        event.listen(self.engine, "before_cursor_execute", self._count)
        self._listening = True

    def _count(self, conn: object, cursor: object, statement: str, *args: object) -> None:
        self._shape(statement)

    def _shape(self, statement: str) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
        table = _TABLE_RE.search(statement)
        self.shapes[f"{verb} {table.group(1) if table else ''}".strip()] += 1

    def close(self) -> None:
        if self._listening:
            event.remove(self.engine, "before_cursor_execute", self._count)
            self._listening = False


@dataclass
class Run:
    name: str
    result: BenchResult
    expected: int  # answers if every contact finished
    given: int  # answers the contacts sent
    confirmed: int  # answers the bot went on from
    stored: int  # non-empty rows in the answers table afterwards
    failed_calls: list[str] = field(default_factory=list)
    gave_up: list[str] = field(default_factory=list)
    bot_errors: list[str] = field(default_factory=list)
    other_errors: list[str] = field(default_factory=list)
    queries: Counter[str] = field(default_factory=Counter)
    cpu: float = 0.0  # process CPU seconds over the conversations (bot, fake and contacts)
    api_calls: Counter[str] = field(default_factory=Counter)  # Bot API requests, by method
    think: float = 0.0  # 0: the saturation pass; else the paced pass's think time

    @property
    def paced(self) -> bool:
        return self.think > 0

    @property
    def lost(self) -> int:
        """Answers sent that are not in the database (each contact gave `given` answers)."""
        return max(0, self.given - self.stored)

    @property
    def intact(self) -> bool:
        """Not one answer lost: everyone finished, everything stored, every call accepted."""
        return (
            self.stored == self.given == self.expected
            and not self.failed_calls
            and not self.gave_up
            and not self.bot_errors
        )


async def run_ours(
    backend: str,
    contacts: int,
    *,
    step_timeout: float,
    budget: float,
    think: float,
    profile: Path | None = None,
    count_queries: bool = False,
) -> Run:
    """Our bot on a fresh database; `profile` gets a cProfile dump of the conversations
    (not the setup) for `python -m pstats` or snakeviz."""
    profiler = cProfile.Profile() if profile else None
    with tempfile.TemporaryDirectory(prefix=f"cchc-bench-{backend}-") as tmp:
        folder = Path(tmp)
        async with fresh_database(backend, folder) as url, FakeTelegram() as fake:
            clock = FrozenClock(START)
            codes = await import_contacts(url, contacts, clock)
            settings = Settings(
                bot_token=SecretStr(fake.token),
                telegram_api_url=fake.base_url,
                database_url=url,
                evidence_dir=folder / "evidence",
                _env_file=None,
            )
            app = await open_app(settings, clock=clock)
            try:
                name = f"ours/{backend}" + (" paced" if think else "")
                return await _converse(
                    name,
                    app,
                    fake,
                    codes,
                    step_timeout=step_timeout,
                    budget=budget,
                    think=think,
                    profiler=profiler,
                    count_queries=count_queries,
                )
            finally:
                await app.close()
                if profiler is not None and profile is not None:
                    profiler.dump_stats(profile)


async def _converse(
    name: str,
    app: App,
    fake: FakeTelegram,
    codes: list[str],
    *,
    step_timeout: float,
    budget: float,
    think: float,
    profiler: cProfile.Profile | None,
    count_queries: bool,
) -> Run:
    users = [
        FakeUser(FIRST_USER + n, first_name=f"Cán bộ {n}", last_name="Nguyễn")
        for n in range(len(codes))
    ]
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    stop = asyncio.Event()
    bot = asyncio.create_task(run_bot(app, stop=stop))
    queries = None
    try:
        polling = asyncio.ensure_future(fake.wait_polling(30))
        await asyncio.wait({polling, bot}, return_when=asyncio.FIRST_COMPLETED)
        if not polling.done():
            polling.cancel()
            bot.result()  # the bot's startup error
            raise RuntimeError("the bot stopped before it was ready")
        polling.result()
        mark = fake.mark()
        queries = QueryCounter(app.engine) if count_queries else None  # costs CPU: opt-in
        if profiler is not None:
            profiler.enable()
        started, cpu_started = time.perf_counter(), time.process_time()
        flows = [
            asyncio.create_task(
                answer_checklist(fake, user, code, timeout=step_timeout, think=think, seed=n)
            )
            for n, (user, code) in enumerate(zip(users, codes, strict=True))
        ]
        done, pending = await asyncio.wait(flows, timeout=budget)
        for task in pending:  # over budget: whatever is still talking gives up
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if profiler is not None:
            profiler.disable()
        if queries is not None:
            queries.close()
        outcomes = [task.result() for task in done]
        outcomes += [Outcome(failure="over the time budget") for _ in pending]
    finally:
        stop.set()
        try:
            await asyncio.wait_for(bot, 30)
        except TimeoutError:
            pass  # cancelled by wait_for; the figures are still worth printing
        logging.getLogger().removeHandler(errors)
        if queries is not None:
            queries.close()
    async with app.sessions() as session:
        stored = await session.scalar(
            select(func.count()).select_from(Answer).where(Answer.value.is_not(None))
        )
    failed = [
        f"{c.method}({c.chat_id}) {c.status} {c.response.get('description', '')}"
        for c in fake.calls[mark:]
        if not c.ok and c.method != "getUpdates"
    ]
    result = BenchResult(
        users=len(codes),
        updates=UPDATES_PER_CONTACT * len(codes),
        elapsed=elapsed,
        latencies=[latency for o in outcomes for latency in o.latencies],
        timeouts=sum(o.failure is not None for o in outcomes),
        rate_limited=0,
    )
    return Run(
        name=name,
        result=result,
        expected=ANSWERS_PER_CONTACT * len(codes),
        given=sum(o.given for o in outcomes),
        confirmed=sum(o.confirmed for o in outcomes),
        stored=int(stored or 0),
        failed_calls=failed,
        gave_up=[o.failure for o in outcomes if o.failure],
        bot_errors=errors.conversation,
        other_errors=errors.other,
        queries=queries.shapes if queries is not None else Counter(),
        cpu=cpu,
        api_calls=Counter(c.method for c in fake.calls[mark:]),
        think=think,
    )


async def run_echo(users: int, messages: int) -> tuple[BenchResult, float]:
    """The echo bot's figures and the process CPU seconds they took (start-up included)."""
    async with FakeTelegram() as fake:
        cpu_started = time.process_time()
        result = await drive(fake, echo_bot(fake), chatter(users, messages))
        return result, time.process_time() - cpu_started


def _num(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


EchoRun = tuple[BenchResult, float]  # the echo bot's figures and the CPU seconds it took


def pooled(runs: list[EchoRun]) -> EchoRun:
    """Several echo runs as one: every answered update, over their summed time and CPU."""
    results = [result for result, _ in runs]
    return (
        BenchResult(
            users=results[0].users,
            updates=sum(r.updates for r in results),
            elapsed=sum(r.elapsed for r in results),
            latencies=[x for r in results for x in r.latencies],
            timeouts=sum(r.timeouts for r in results),
            rate_limited=sum(r.rate_limited for r in results),
        ),
        sum(cpu for _, cpu in runs),
    )


def _echo_line(echo_cpu: EchoRun) -> tuple[str, float]:
    echo, cpu = echo_cpu
    cpu_ms = cpu * 1000 / max(1, len(echo.latencies))
    return (
        f"{'echo_aiogram':<20}{echo.throughput:>10.0f}{1:>7.2f}"
        f"{_ms(echo.percentile(50)):>12}{_ms(echo.percentile(99)):>12}"
        f"{_ms(echo.percentile(100)):>12}{cpu_ms:>11.1f}{1:>10.2f}"
        f"{'-':>22}{'-':>6}"
    ), cpu_ms


def summary(echoes: dict[str, EchoRun], runs: list[Run]) -> tuple[str, bool]:
    """The comparison table and whether every run met its floors: the ratio at saturation,
    p99 paced, the answers in both. Each saturation run is compared with the echo bot
    measured just before and after it (`echoes`, by run name, pooled): the machine's speed
    drifts over minutes, and a ratio of runs far apart would carry it."""
    lines = [
        f"{'run':<20}{'updates/s':>10}{'ratio':>7}{'p50':>12}{'p99':>12}{'max':>12}"
        f"{'CPU ms/upd':>11}{'CPU ratio':>10}{'answers stored/given':>22}{'lost':>6}"
    ]
    all_met = True
    for run in runs:
        r = run.result
        echo, echo_cpu_ms = None, math.nan
        if run.name in echoes:
            echo = echoes[run.name][0]
            line, echo_cpu_ms = _echo_line(echoes[run.name])
            lines.append(line)
        ratio = r.throughput / echo.throughput if echo and echo.throughput else math.nan
        cpu_ms = run.cpu * 1000 / max(1, len(r.latencies))
        lines.append(
            f"{run.name:<20}{r.throughput:>10.0f}{_num(ratio):>7}"
            f"{_ms(r.percentile(50)):>12}{_ms(r.percentile(99)):>12}"
            f"{_ms(r.percentile(100)):>12}{cpu_ms:>11.1f}{_num(echo_cpu_ms / cpu_ms):>10}"
            f"{f'{run.stored}/{run.given}':>22}{run.lost:>6}"
        )
        misses = []
        floor = next(f for backend, f in FLOOR_RATIO.items() if backend in run.name)
        if echo is not None and not run.paced and not ratio >= floor:
            misses.append(f"ratio {ratio:.2f} < {floor}")
        if run.paced and not r.percentile(99) < FLOOR_P99:
            misses.append(f"p99 {_ms(r.percentile(99))} >= {_ms(FLOOR_P99)}")
        if not run.intact:
            misses.append(
                f"answers: {run.stored} stored of {run.given} given ({run.confirmed} "
                f"confirmed; {run.expected} if all finished), {len(run.gave_up)} contacts "
                f"gave up, {len(run.bot_errors)} bot errors, {len(run.failed_calls)} failed "
                f"Bot API calls"
            )
        all_met = all_met and not misses
        lines.append("  " + ("floor missed: " + "; ".join(misses) if misses else "floors met"))
        for detail in [*run.bot_errors[:3], *run.gave_up[:2], *run.failed_calls[:3]]:
            lines.append(f"    {detail[:200]}")
        if run.other_errors:  # not on the conversation path: reported, not counted
            lines.append(
                f"  note: {len(run.other_errors)} other errors logged, e.g. "
                f"{run.other_errors[0][:160]}"
            )
    return "\n".join(lines), all_met


async def _echo_run(contacts: int) -> EchoRun:
    # Our runner freezes what start-up allocated out of the collector's full passes
    # (bot/runner.py), and that lasts for the rest of this process: freeze for the echo bot
    # too, or whichever runs first pays for a heap the other does not.
    gc.collect()
    gc.freeze()
    echo_run = await run_echo(contacts, UPDATES_PER_CONTACT)
    print(echo_run[0].report("echo_aiogram"), flush=True)
    return echo_run


def breakdown(run: Run) -> str:
    """Work per answered update: Bot API requests by method, SQL statements by shape."""
    answered = max(1, len(run.result.latencies))
    calls = sum(run.api_calls.values())
    lines = [f"{run.name}: {calls / answered:.2f} Bot API requests per update"]
    for method, count in run.api_calls.most_common():
        lines.append(f"  {count / answered:6.2f}/update  {method}")
    total = sum(run.queries.values())
    lines.append(f"{run.name}: {total / answered:.1f} SQL statements per update")
    for shape, count in run.queries.most_common(15):
        lines.append(f"  {count / answered:6.2f}/update  {shape}")
    return "\n".join(lines)


async def main(
    contacts: int,
    backends: list[str],
    *,
    echo: bool,
    step_timeout: float,
    budget: float,
    think: float,
    saturation: bool,
    queries: bool,
    profile: Path | None = None,
) -> bool:
    load = os.getloadavg()[0]
    echoes: dict[str, EchoRun] = {}
    runs = []
    if echo and saturation:  # not measured: a process's first aiogram run pays its set-up
        await run_echo(min(contacts, 20), 3)
    for backend in backends:
        for pace in ([0.0] if saturation else []) + ([think] if think > 0 else []):
            around: list[EchoRun] = []
            compared = echo and not pace  # the ratio is the saturation pass's floor
            if compared:  # right before ours (and after it, below): see `summary`
                around.append(await _echo_run(contacts))
            label = f"{backend}-paced" if pace else backend
            dump = profile.with_name(f"{profile.stem}-{label}{profile.suffix}") if profile else None
            run = await run_ours(
                backend,
                contacts,
                step_timeout=step_timeout,
                budget=budget,
                think=pace,
                profile=dump,
                count_queries=queries,
            )
            if dump is not None:
                print(f"profile of {run.name} written to {dump}")
            print(run.result.report(run.name), flush=True)
            runs.append(run)
            if compared:
                around.append(await _echo_run(contacts))
                echoes[run.name] = pooled(around)
    table, met = summary(echoes, runs)
    passes = [
        *(["saturation (no think time)"] if saturation else []),
        *([f"paced (think time {think:g} s)"] if think > 0 else []),
    ]
    print(
        f"\nConversation throughput: {contacts} contacts x {UPDATES_PER_CONTACT} updates, "
        f"{' and '.join(passes)}; load average {load:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after ({os.cpu_count()} CPUs)\n{table}"
    )
    if queries:
        for run in runs:
            print("\n" + breakdown(run))
    return met


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=200)
    parser.add_argument(
        "--channel",
        choices=("telegram", "zalo"),
        default="telegram",
        help="zalo: the Zalo pass (bench/conversation_zalo.py) with its SDK echo peer",
    )
    parser.add_argument(
        "--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres"
    )
    parser.add_argument("--no-echo", action="store_true", help="skip the echo bot baseline")
    parser.add_argument(
        "--think",
        type=float,
        default=4.0,
        help="the paced pass: seconds a contact waits (0.5-1.5x) before "
        "each update; 0 skips that pass",
    )
    parser.add_argument(
        "--no-saturation",
        action="store_true",
        help="skip the saturation pass (and the echo bot with it)",
    )
    parser.add_argument(
        "--queries",
        action="store_true",
        help="print Bot API requests and SQL statements per update",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE.prof",
        help="cProfile the conversations; one FILE-<backend>[-paced].prof each",
    )
    parser.add_argument(
        "--step-timeout",
        type=float,
        default=30.0,
        help="seconds a contact waits for one answer before giving up",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=300.0,
        help="seconds all contacts of one backend may take in all",
    )
    args = parser.parse_args()
    chosen = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(chosen) - {"sqlite", "postgres"}
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.channel == "zalo":
        from bench.conversation_zalo import main as zalo_main

        sys.exit(0 if asyncio.run(zalo_main(args.contacts, chosen, args.step_timeout)) else 1)
    met = asyncio.run(
        main(
            args.contacts,
            chosen,
            echo=not args.no_echo,
            step_timeout=args.step_timeout,
            budget=args.budget,
            think=args.think,
            saturation=not args.no_saturation,
            queries=args.queries,
            profile=args.profile,
        )
    )
    sys.exit(0 if met else 1)
