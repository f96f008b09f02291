"""Kill -9 trials of the real `cchc-bot run` process against the fake Bot API.

Sixteen unit contacts join with their invite codes and answer four typed items while an
admin's notice (`cchc-bot notice send`) goes out to all of them. The bot is killed with
SIGKILL three times, at points drawn from a seed and counted in the fake's requests:

1. at the k-th reply while the contacts join;
2. at the k-th notice request, while that request is in flight;
3. at the k-th reply while they answer.

Each time the process is restarted, and at the end it is stopped. Then, for each kind of
message, what docs/ARCHITECTURE.md "Delivery guarantees" promises is checked:

- every update a contact sent was handled, and none was handled twice;
- every answer is stored once, with one revision, the acknowledged ones included;
- every message got exactly one reply, unless it was handled before a kill and its reply
  was not sent yet (replies are at most once);
- the notice reached every recipient at most once. Each one not in doubt got it exactly
  once. The rows in doubt are exactly those being sent at the kills, each kill holding at
  most the worker's concurrency.

Polling and webhook mode (the fake's webhook posts again, at the next start, what did not
get a 200) on SQLite and PostgreSQL. The bot and the `notice send` command run as child
processes forked from one server that imported the bot once (`forkserver`), with the
console script's own entry point. The only waits are bounded: on the fake's recorded calls,
on the processes, and a poll of the outbox at the end.

On Zalo (issue 16), over long polling, six contacts join by typing their code and answer
the same items; the bot is killed once, at a seeded sendMessage while it is in flight, and
restarted. Zalo has no offset, so an event the dead process took from getUpdates is lost
(docs/ARCHITECTURE.md "Delivery guarantees"): its contact, who got no answer, types it
again. Checked: no message handled twice, each one handled unless lost that way, every
answer stored once, each contact done, and SIGTERM exits 0.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import func, select

from common.clock import FrozenClock, SystemClock
from schedules.delivery import DeliverySettings
from storage.db.models import (
    Answer,
    AnswerRevision,
    Assignment,
    ChatAccount,
    HandledUpdate,
    Item,
    OutboxMessage,
    OutboxStatus,
    Submission,
    Unit,
)
from storage.formats.campaign_spec import ItemSpec, ItemType, SectionSpec
from tests import factories
from tests.chat_harness import import_and_codes
from tests.conftest import Db
from tests.fake_telegram import FakeTelegram, FakeUser, RecordedCall, free_port
from tests.fake_zalo import FakeZalo, ZaloCall, ZaloUser

CONTACTS = 16
CAMPAIGN = "KT-CRASH"
NOTICE = "Thông báo số 15: họp giao ban chiều thứ Sáu"
REPLY_TIMEOUT = 45.0  # one reply, a restart included, on a loaded machine
PHASE_TIMEOUT = 90.0
REPLY_METHODS = ("sendMessage", "editMessageText")


def _items() -> tuple[ItemSpec, ...]:
    return (
        ItemSpec("1.1", "Số văn bản ban hành", ItemType.NUMBER, min=0),
        ItemSpec("1.2", "Tỷ lệ hồ sơ đúng hạn", ItemType.PERCENT),
        ItemSpec("1.3", "Ngày ban hành kế hoạch", ItemType.DATE),
        ItemSpec("1.4", "Ghi chú", ItemType.TEXT, required=False),
    )


def _answers(n: int) -> dict[str, tuple[str, object]]:
    """What contact `n` types for each item, and the value stored for it."""
    day = date(2020, 12, n)
    return {
        "1.1": (str(n), float(n)),
        "1.2": (str(50 + n), float(50 + n)),
        "1.3": (day.strftime("%d/%m/%Y"), day.isoformat()),
        "1.4": (f"Đã xong <việc> số {n}", f"Đã xong <việc> số {n}"),
    }


@dataclass
class Sent:
    """One message a contact sent, and what became of it."""

    chat: int
    update_id: int
    mark: int  # the fake's call index when it was sent: its replies come after
    expect: str  # a fragment of the reply it should get
    lost: asyncio.Future[None]  # set at a kill: handled, its reply never sent
    until: int | None = None  # the call index of the contact's next message


def is_notice(call: RecordedCall) -> bool:
    return call.method == "sendMessage" and NOTICE in call.text


def is_reply_request(call: RecordedCall) -> bool:
    """As it arrives (no answer yet): a reply being sent."""
    return call.method == "sendMessage" and NOTICE not in call.text


def is_reply(call: RecordedCall) -> bool:
    return call.ok and call.method in REPLY_METHODS and NOTICE not in call.text


def cchc_bot(args: list[str], env: dict[str, str], cwd: str, log: str) -> None:
    """In a child process: what the `cchc-bot` console script does for `cchc-bot ARGS`,
    in `cwd` with exactly `env`, its output to `log`."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(out, 1)
    os.dup2(out, 2)
    sys.argv = ["cchc-bot", *args]
    from bot.cli import main

    main()


class BotProcess:
    """`cchc-bot run` in a process of its own, forked from a server that has imported the
    bot already (see `forkserver`); each start logs to a file of its own."""

    def __init__(
        self, forks: BaseContext, args: list[str], env: dict[str, str], logs: Path
    ) -> None:
        self.forks, self.args, self.env, self.logs = forks, args, env, logs
        self.starts = 0
        self.process: BaseProcess | None = None

    async def start(self) -> None:
        self.starts += 1
        log = str(self.logs / f"bot-{self.starts}.log")
        process = self.forks.Process(  # type: ignore[attr-defined]
            target=cchc_bot,
            args=(["run", *self.args], self.env, str(self.logs), log),
            daemon=True,
        )
        await asyncio.to_thread(process.start)
        self.process = process

    def signal(self, number: signal.Signals) -> None:
        """Send `number` to the process if it still runs (exitcode reaps a dead one)."""
        process = self.process
        if process is not None and process.pid is not None and process.exitcode is None:
            os.kill(process.pid, number)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    async def wait(self, timeout: float) -> int | None:
        """The exit code (-N: killed by signal N); None if still running after `timeout`."""
        assert self.process is not None
        await asyncio.to_thread(self.process.join, timeout)
        return self.process.exitcode

    def log_text(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.logs.glob("bot-*.log"))
        )


class Request(Protocol):
    """A request as either fake records it (RecordedCall, ZaloCall)."""

    @property
    def method(self) -> str: ...

    @property
    def text(self) -> str: ...


@dataclass
class Trigger:
    """Kills the bot from inside the fake as the `count`-th matching request arrives, so
    that request is in flight at the kill."""

    bot: BotProcess
    count: int
    matches: Callable[[Any], bool]
    fired: asyncio.Event = field(default_factory=asyncio.Event)
    seen: int = 0

    def arrived(self, call: Request) -> None:
        if self.fired.is_set() or call.method != "sendMessage" or not self.matches(call):
            return
        self.seen += 1
        if self.seen == self.count:
            self.bot.kill()
            self.fired.set()


@dataclass
class Kill:
    phase: str
    sending: int  # outbox rows SENDING once the process was dead: its requests in flight
    lost_replies: list[Sent]


class Trial:
    """The fake, the bot process, the contacts and what happened to them."""

    def __init__(self, db: Db, fake: FakeTelegram, bot: BotProcess, codes: list[str]) -> None:
        self.db, self.fake, self.bot = db, fake, bot
        self.users = [
            fake.user(8000 + n, first_name=f"Đầu mối {n}") for n in range(1, CONTACTS + 1)
        ]
        self.codes = codes
        self.sent: dict[int, list[Sent]] = {user.chat: [] for user in self.users}
        self.kills: list[Kill] = []
        self.trigger: Trigger | None = None
        fake.on_arrival(self._arrived)

    def _arrived(self, call: RecordedCall) -> None:
        if self.trigger is not None:
            self.trigger.arrived(call)

    def key(self, sent: Sent) -> str:
        return f"{self.fake.bot_id}:{sent.update_id}"

    # ---- the contacts --------------------------------------------------------------------

    async def say(self, user: FakeUser, text: str, expect: str) -> None:
        """Send `text` (a command when it starts with /) and wait for its reply, unless a
        kill showed it handled with its reply lost."""
        history = self.sent[user.chat]
        mark = self.fake.mark()
        if history:
            history[-1].until = mark
        if text.startswith("/"):
            command, _, args = text[1:].partition(" ")
            update = self.fake.send_command(user, command, args)
        else:
            update = self.fake.send_text(user, text)
        lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        sent = Sent(user.chat, update["update_id"], mark, expect, lost)
        history.append(sent)
        reply = asyncio.ensure_future(
            self.fake.wait_for(is_reply, timeout=REPLY_TIMEOUT, since=mark, chat_id=user.chat)
        )
        done, _ = await asyncio.wait({reply, lost}, return_when=asyncio.FIRST_COMPLETED)
        if reply not in done:
            reply.cancel()
            return
        try:
            reply.result()
        except TimeoutError:
            raise AssertionError(
                f"{text!r} of chat {user.chat} got no reply\n{self.bot.log_text()}"
            ) from None

    async def join(self, n: int) -> None:
        await self.say(self.users[n - 1], f"/start {self.codes[n - 1]}", "Xin chào")

    async def open_checklist(self, n: int) -> None:
        user = self.users[n - 1]
        await self.say(user, "/checklist", "Mục 1/4")
        await self.say(user, _answers(n)["1.1"][0], "Đã lưu mục 1.1")

    async def answer_the_rest(self, n: int) -> None:
        user = self.users[n - 1]
        for code in ("1.2", "1.3", "1.4"):
            await self.say(user, _answers(n)[code][0], f"Đã lưu mục {code}")

    # ---- the kills -----------------------------------------------------------------------

    def arm(self, count: int, matches: Callable[[RecordedCall], bool]) -> Trigger:
        self.trigger = Trigger(self.bot, count, matches)
        return self.trigger

    async def survive(self, trigger: Trigger, phase: str) -> None:
        """Once the trigger killed the bot: see what the dead process left, restart it."""
        await trigger.fired.wait()
        assert await self.bot.wait(10) == -signal.SIGKILL
        sending = await self.count_outbox(OutboxStatus.SENDING)
        handled = await self.handled_keys()
        lost = []
        for history in self.sent.values():
            last = history[-1] if history else None
            if last is None or last.lost.done() or self.replies(last):
                continue
            if self.key(last) in handled:  # committed, the dead process's reply never went
                last.lost.set_result(None)
                lost.append(last)
        self.kills.append(Kill(phase, sending, lost))
        await self.bot.start()

    async def phase(self, name: str, *steps: Awaitable[None]) -> None:
        try:
            async with asyncio.timeout(PHASE_TIMEOUT):
                await asyncio.gather(*steps)
        except TimeoutError:
            recent = [
                f"{c.index}:{c.method}({c.chat_id}) {c.status} {c.text[:50]!r}"
                for c in self.fake.calls[-15:]
            ]
            raise AssertionError(
                f"phase {name!r} not over in {PHASE_TIMEOUT} s; kills {self.kills}; "
                f"last calls {recent}\n{self.bot.log_text()}"
            ) from None

    # ---- reading what happened -----------------------------------------------------------

    def replies(self, sent: Sent) -> list[RecordedCall]:
        end = sent.until if sent.until is not None else self.fake.mark()
        return [
            call
            for call in self.fake.calls_to(chat_id=sent.chat)
            if sent.mark <= call.index < end and is_reply(call)
        ]

    async def count_outbox(self, status: OutboxStatus) -> int:
        async with self.db.sessions() as session:
            query = select(func.count()).where(OutboxMessage.status == status)
            return int(await session.scalar(query) or 0)

    async def handled_keys(self) -> set[str]:
        return set(await _handled_keys(self.db, "telegram"))

    async def outbox_by_chat(self) -> dict[int, str]:
        async with self.db.sessions() as session:
            rows = await session.execute(
                select(ChatAccount.chat_id, OutboxMessage.status).join(
                    ChatAccount, OutboxMessage.chat_account_id == ChatAccount.id
                )
            )
            return {int(chat): str(status) for chat, status in rows}

    async def outbox_settled(self, timeout: float = 30.0) -> dict[int, str]:
        """Bounded poll until every outbox row is SENT or IN_DOUBT."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            rows = await self.outbox_by_chat()
            settled = {OutboxStatus.SENT, OutboxStatus.IN_DOUBT}
            if len(rows) == CONTACTS and set(rows.values()) <= settled:
                return rows
            assert loop.time() < deadline, f"outbox not settled: {rows}"
            await asyncio.sleep(0.1)


async def _handled_keys(db: Db, platform: str) -> list[str]:
    """The update keys of `platform` in handled_updates, one per row."""
    async with db.sessions() as session:
        query = select(HandledUpdate.update_key).where(HandledUpdate.platform == platform)
        return list(await session.scalars(query))


async def _stored_answers(db: Db) -> dict[tuple[str, str], tuple[Any, int, int]]:
    """(unit, item) -> (value, revision, revision rows)."""
    async with db.sessions() as session:
        revisions = (
            select(func.count()).where(AnswerRevision.answer_id == Answer.id).scalar_subquery()
        )
        rows = await session.execute(
            select(Unit.code, Item.code, Answer.value, Answer.revision, revisions)
            .join(Submission, Answer.submission_id == Submission.id)
            .join(Assignment, Submission.assignment_id == Assignment.id)
            .join(Unit, Assignment.unit_id == Unit.id)
            .join(Item, Answer.item_id == Item.id)
        )
        return {(u, i): (v, r, c) for u, i, v, r, c in rows}


async def _seed(db: Db, contacts: int = CONTACTS) -> list[str]:
    """A campaign of `contacts` units, one contact each, four typed items; its codes."""
    now = SystemClock().now()  # the bot runs on the system clock
    spec = replace(
        factories.campaign(CAMPAIGN, units=contacts),
        deadline=now + timedelta(days=60),  # far: no reminder is due during the trial
        sections=(SectionSpec("1. Công tác chỉ đạo, điều hành", _items()),),
    )
    spec = replace(
        spec, units=tuple(replace(u, deadline=None, visit=None, contacts=1) for u in spec.units)
    )
    codes = await import_and_codes(db, FrozenClock(now), spec)
    return [codes[f"U{n}"][0] for n in range(1, contacts + 1)]


def _environment(db: Db, tmp_path: Path, **channel: str) -> dict[str, str]:
    """The bot's environment: this test's database and files, the `channel`'s settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BOT_", "ZALO_", "TELEGRAM_", "WEB_", "ADMIN_", "OUTBOX_"))
        and key not in ("DATABASE_URL", "EVIDENCE_DIR", "WEBHOOK_SECRET", "PUBLIC_URL")
    }
    env.update(
        DATABASE_URL=db.url,
        EVIDENCE_DIR=str(tmp_path / "evidence"),
        OUTBOX_INSTANCE="crash-trial",  # one process at a time: a restart takes claims back
        WEBHOOK_SECRET="crash-trial-secret",
        LOG_LEVEL="INFO",
        CCHC_LANG="vi",
        **channel,
    )
    return env


async def _send_notice(forks: BaseContext, env: dict[str, str], cwd: Path) -> str:
    """The admin's `cchc-bot notice send` to every unit, while the bot runs (a process
    forked like the bot's, see `forkserver`); what it printed."""
    log = cwd / "notice-send.log"
    args = ["notice", "send", CAMPAIGN, "--to", "all", "--text", NOTICE]
    process = forks.Process(  # type: ignore[attr-defined]
        target=cchc_bot, args=(args, env, str(cwd), str(log)), daemon=True
    )
    await asyncio.to_thread(process.start)
    await asyncio.to_thread(process.join, 60)
    out = log.read_text()
    assert process.exitcode == 0, out
    return out


def _check_updates(trial: Trial, handled: set[str], *, webhook: bool) -> list[Sent]:
    """Each update handled once; each reply once, or lost with its process (returned)."""
    everything = [sent for history in trial.sent.values() for sent in history]
    assert len(everything) == CONTACTS * 6
    assert [s.update_id for s in everything if trial.key(s) not in handled] == []
    lost = [s for k in trial.kills for s in k.lost_replies]
    for sent in everything:
        replies = trial.replies(sent)
        assert len(replies) <= 1, (sent, [c.text for c in replies])
        if replies:
            assert sent.expect in replies[0].text, (sent, replies[0].text)
        else:
            assert sent in lost, sent
    assert trial.fake.pending_updates == []
    if webhook:  # the kills did cut deliveries short; each was posted again
        deliveries = trial.fake.stats.webhook_deliveries
        failed = {update for update, status in deliveries if status != 200}
        assert failed and failed <= {update for update, status in deliveries if status == 200}
    return lost


def _check_answers(
    answers: dict[tuple[str, str], tuple[Any, int, int]], contacts: int = CONTACTS
) -> None:
    """Every answer stored once, with the value typed, acknowledged or not."""
    for n in range(1, contacts + 1):
        for code, (_, value) in _answers(n).items():
            assert answers[(f"U{n}", code)] == (value, 1, 1), (n, code)
    assert len(answers) == contacts * 4


def _check_notice(trial: Trial, outbox: dict[int, str]) -> list[int]:
    """At most once each; exactly once unless in doubt; in doubt only what was being sent
    at the kills, at most the worker's concurrency each. The chats in doubt."""
    received = {user.chat: 0 for user in trial.users}
    for call in trial.fake.calls:
        if is_notice(call) and call.ok:
            received[call.chat_id or 0] += 1
    in_doubt = [chat for chat, status in outbox.items() if status == OutboxStatus.IN_DOUBT]
    assert set(outbox) == set(received)
    assert all(count <= 1 for count in received.values()), received
    assert all(received[chat] == 1 for chat, s in outbox.items() if s == OutboxStatus.SENT)
    assert sum(1 for count in received.values() if count == 0) <= len(in_doubt)
    assert len(in_doubt) == sum(k.sending for k in trial.kills)
    assert all(k.sending <= DeliverySettings().concurrency for k in trial.kills)
    assert trial.kills[1].sending >= 1  # the request held in flight was marked first
    return in_doubt


@pytest.fixture(scope="module")
def forkserver() -> Iterator[BaseContext]:
    """Bot processes forked from one server that imported the bot once: aiogram's import
    alone costs about 12 s of CPU on the 2-core test machine, and each trial starts the
    bot four times. A forked child is a process of its own (its own event loop, database
    connections and sockets), killed with SIGKILL like any other."""
    forks = multiprocessing.get_context("forkserver")
    forks.set_forkserver_preload(["bot.cli", "bot.runner"])
    warm = forks.Process(target=os.getpid)  # starts the server: the imports happen once
    warm.start()
    warm.join(120)
    assert warm.exitcode == 0
    yield forks


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_kill_9_three_times_loses_no_update_no_answer_and_sends_nothing_twice(
    db: Db, mode: str, tmp_path: Path, forkserver: BaseContext
) -> None:
    draw = random.Random(f"issue-15-{db.backend}-{mode}")
    at_join, at_notice, at_answer = draw.randint(3, 12), draw.randint(1, 10), draw.randint(5, 30)
    codes = await _seed(db)
    async with FakeTelegram() as fake:
        env = _environment(
            db,
            tmp_path,
            BOT_TOKEN=fake.token,
            BOT_USERNAME=fake.bot_username,
            TELEGRAM_API_URL=fake.base_url,
        )
        args: list[str] = []
        if mode == "webhook":
            port = free_port()
            url = f"http://127.0.0.1:{port}/telegram"
            args = ["--webhook", url, "--host", "127.0.0.1", "--port", str(port)]
        bot = BotProcess(forkserver, args, env, tmp_path)
        trial = Trial(db, fake, bot, codes)
        contacts = range(1, CONTACTS + 1)
        await bot.start()
        try:
            trigger = trial.arm(at_join, is_reply_request)
            await trial.phase("join", *map(trial.join, contacts), trial.survive(trigger, "join"))
            # Armed first: the running bot may send the notice before the command exits.
            trigger = trial.arm(at_notice, is_notice)
            out = await _send_notice(forkserver, env, tmp_path)
            assert f"{CONTACTS}" in out, out
            await trial.phase(
                "notice", *map(trial.open_checklist, contacts), trial.survive(trigger, "notice")
            )
            trigger = trial.arm(at_answer, is_reply_request)
            await trial.phase(
                "answers", *map(trial.answer_the_rest, contacts), trial.survive(trigger, "answers")
            )
            outbox = await trial.outbox_settled()
            bot.signal(signal.SIGTERM)
            stopped = await bot.wait(30)
        finally:
            bot.kill()
        assert stopped == 0, bot.log_text()
        handled = await trial.handled_keys()
        answers = await _stored_answers(db)
    logs = bot.log_text()
    assert [k.phase for k in trial.kills] == ["join", "notice", "answers"]
    assert "Traceback" not in logs, logs
    lost = _check_updates(trial, handled, webhook=mode == "webhook")
    _check_answers(answers)
    in_doubt = _check_notice(trial, outbox)
    print(
        f"\n{db.backend}/{mode}: kills at reply {at_join}, notice {at_notice}, reply "
        f"{at_answer}; replies lost {len(lost)}, notices in doubt {len(in_doubt)}, "
        f"webhook deliveries {len(fake.stats.webhook_deliveries)}"
    )


# ---- Zalo: the same trial through the Zalo channel -------------------------------------

ZALO_CONTACTS = 6
HANDLED, DROPPED = "handled", "dropped"


@dataclass
class Typed:
    """One message a Zalo contact typed, and what became of it."""

    chat: str
    message_id: str  # the update key
    mark: int  # the fake's call index when it was typed: its replies come after
    expect: str  # a fragment of the reply it should get
    # Set at a kill when its reply never came: HANDLED (committed, the reply died with the
    # process) or DROPPED (never committed and no longer at Zalo: lost, typed again).
    fate: asyncio.Future[str]
    until: int | None = None  # the call index of the contact's next message


def is_zalo_reply(call: ZaloCall) -> bool:
    return call.ok and call.method == "sendMessage"


class ZaloTrial:
    """The fake Zalo, the bot process, the contacts and what happened to what they typed.
    Zalo has no offset: an event handed to the killed process's getUpdates is lost, and
    its contact, who got no answer, types the same thing again, as a person would."""

    def __init__(self, fake: FakeZalo, bot: BotProcess, codes: list[str]) -> None:
        self.fake, self.bot, self.codes = fake, bot, codes
        self.users = [fake.user(str(7100 + n), f"Đầu mối {n}") for n in range(1, len(codes) + 1)]
        self.typed: dict[str, list[Typed]] = {user.chat: [] for user in self.users}
        self.trigger: Trigger | None = None
        fake.on_arrival(self._arrived)

    def _arrived(self, call: ZaloCall) -> None:
        if self.trigger is not None:
            self.trigger.arrived(call)

    def replies(self, typed: Typed) -> list[ZaloCall]:
        end = typed.until if typed.until is not None else self.fake.mark()
        return [
            call
            for call in self.fake.calls[typed.mark : end]
            if is_zalo_reply(call) and call.chat_id == typed.chat
        ]

    def answered(self, typed: Typed) -> bool:
        return any(typed.expect in call.text for call in self.replies(typed))

    async def say(self, user: ZaloUser, text: str, expect: str) -> None:
        """Type `text` until the bot answers it or a kill shows it handled."""
        while True:
            history = self.typed[user.chat]
            mark = self.fake.mark()
            if history:
                history[-1].until = mark
            event = self.fake.send_text(user, text)
            fate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            typed = Typed(user.chat, str(event["message"]["message_id"]), mark, expect, fate)
            history.append(typed)
            reply = asyncio.ensure_future(
                self.fake.wait_for(
                    lambda c: is_zalo_reply(c) and c.chat_id == user.chat and expect in c.text,
                    since=mark,
                    timeout=REPLY_TIMEOUT,
                )
            )
            done, _ = await asyncio.wait({reply, fate}, return_when=asyncio.FIRST_COMPLETED)
            if reply in done:
                try:
                    reply.result()
                except TimeoutError:
                    raise AssertionError(
                        f"{text!r} of chat {user.chat} got no reply\n{self.bot.log_text()}"
                    ) from None
                return
            reply.cancel()
            if fate.result() == HANDLED:
                return

    async def converse(self, n: int) -> None:
        user = self.users[n - 1]
        await self.say(user, self.codes[n - 1], "Xin chào")  # the code typed, no /start
        await self.say(user, "/checklist", "Mục 1/4")
        for code, (text, _) in _answers(n).items():
            await self.say(user, text, f"Đã lưu mục {code}")

    async def survive(self, trigger: Trigger, db: Db) -> None:
        """Once the trigger killed the bot: settle the fate of each message left without
        its reply (handled, or lost with the dead process's poll), restart the bot."""
        await trigger.fired.wait()
        assert await self.bot.wait(10) == -signal.SIGKILL
        handled = set(await _handled_keys(db, "zalo"))
        pending = set(self.fake.pending_message_ids)
        for history in self.typed.values():
            last = history[-1] if history else None
            if last is None or last.fate.done() or self.answered(last):
                continue
            if last.message_id in handled:
                last.fate.set_result(HANDLED)
            elif last.message_id not in pending:  # the restarted bot will never see it
                last.fate.set_result(DROPPED)
        await self.bot.start()


def _check_typed(trial: ZaloTrial, handled: list[str]) -> tuple[int, int]:
    """Each message handled at most once; each answered unless handled or dropped at the
    kill; a dropped one got no reply at all. (replies lost, messages dropped)."""
    everything = [typed for history in trial.typed.values() for typed in history]
    assert len(handled) == len(set(handled)), "a message handled twice"
    fates = [typed.fate.result() if typed.fate.done() else None for typed in everything]
    for typed, fate in zip(everything, fates, strict=True):
        if fate == DROPPED:
            assert typed.message_id not in handled and trial.replies(typed) == [], typed
        else:
            assert typed.message_id in handled, typed
            assert fate == HANDLED or trial.answered(typed), (typed, trial.replies(typed))
    assert len(handled) == len(everything) - fates.count(DROPPED)
    assert trial.fake.pending_message_ids == []
    assert all(1 <= len(call.text) <= 2000 for call in trial.fake.calls if is_zalo_reply(call))
    return fates.count(HANDLED), fates.count(DROPPED)


async def test_kill_9_on_zalo_resumes_and_stores_each_answer_once(
    db: Db, tmp_path: Path, forkserver: BaseContext
) -> None:
    """Six contacts join by typing their code and answer by typing, over Zalo's long
    polling; the bot is killed at a seeded sendMessage, in flight, and restarted."""
    at_reply = random.Random(f"issue-16-zalo-{db.backend}").randint(5, 30)
    codes = await _seed(db, ZALO_CONTACTS)
    async with FakeZalo() as fake:
        env = _environment(db, tmp_path, ZALO_BOT_TOKEN=fake.token, ZALO_BOT_API_URL=fake.base_url)
        bot = BotProcess(forkserver, [], env, tmp_path)
        trial = ZaloTrial(fake, bot, codes)
        trigger = trial.trigger = Trigger(bot, at_reply, lambda call: True)
        await bot.start()
        try:
            async with asyncio.timeout(PHASE_TIMEOUT):
                await asyncio.gather(
                    *map(trial.converse, range(1, ZALO_CONTACTS + 1)),
                    trial.survive(trigger, db),
                )
            bot.signal(signal.SIGTERM)
            stopped = await bot.wait(30)
        finally:
            bot.kill()
        assert stopped == 0, bot.log_text()
    handled = await _handled_keys(db, "zalo")
    answers = await _stored_answers(db)
    logs = bot.log_text()
    assert bot.starts == 2 and "Traceback" not in logs, logs
    lost, dropped = _check_typed(trial, handled)
    _check_answers(answers, ZALO_CONTACTS)
    print(
        f"\n{db.backend}/zalo: kill at sendMessage {at_reply}; replies lost {lost}, "
        f"messages dropped and typed again {dropped}"
    )
