"""The outbox worker on both backends: dedupe, pacing, errors, crashes, rendering, and two
workers on one PostgreSQL outbox. Time is virtual: the worker's sleep moves the clock."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.outbox_render import make_renderer
from common.clock import FrozenClock
from common.i18n import Catalog
from common.messages import (
    Capabilities,
    Choice,
    PermanentError,
    RateLimited,
    Reply,
    TransientError,
    Unreachable,
)
from schedules.delivery import DeliverySettings, DeliveryWorker, Render
from schedules.pacing import Pacer, RateLimits
from storage import db as storage_db
from storage.db import transaction
from storage.db.models import ChatAccount, OutboxMessage, OutboxStatus, Person
from storage.services.chat_open import open_chat
from storage.services.outbox import button, enqueue
from storage.services.outbox_delivery import (
    IN_DOUBT_ERROR,
    SKIPPED_UNREACHABLE,
    DeadWorkers,
    claim_due,
    mark_retry,
    mark_sending,
    mark_sent,
    recover_claims,
    resend_in_doubt,
)
from tests.conftest import Db

CATALOG = Catalog(
    {
        "vi": {
            "reminder.due": "Đơn vị <b>{unit}</b> cần nộp báo cáo trước {deadline}.",
            "common.open": "Mở danh mục",
            "delivery.fallback": "Bạn có thông báo mới.",
        },
        "en": {
            "reminder.due": "Unit <b>{unit}</b> must report by {deadline}.",
            "common.open": "Open checklist",
            "delivery.fallback": "You have a new notice.",
        },
    }
)
RENDER = make_renderer(CATALOG)
FAST = RateLimits(per_bot=1e6, per_chat=1e6, per_group_per_minute=1e6, margin=0)


@dataclass
class Sent:
    at: datetime
    chat_id: str
    reply: Reply


@dataclass
class RecordingChannel:
    """A channel that records sends at the virtual time and raises what it is told to."""

    clock: FrozenClock
    platform: str = "telegram"
    capabilities: Capabilities = field(default_factory=Capabilities)
    sent: list[Sent] = field(default_factory=list)
    attempts: list[tuple[datetime, str]] = field(default_factory=list)
    script: dict[str, list[BaseException]] = field(default_factory=dict)  # next errors
    always: dict[str, BaseException] = field(default_factory=dict)

    async def send(self, chat_id: str, reply: Reply) -> str:
        now = self.clock.now()  # when the request leaves, as the platform would count it
        self.attempts.append((now, chat_id))
        await asyncio.sleep(0)  # let other sends interleave, as on a network
        if chat_id in self.always:
            raise self.always[chat_id]
        if self.script.get(chat_id):
            raise self.script[chat_id].pop(0)
        self.sent.append(Sent(now, chat_id, reply))
        return str(len(self.sent))

    def count(self, chat_id: str) -> int:
        return sum(1 for s in self.sent if s.chat_id == chat_id)


def virtual_sleep(clock: FrozenClock) -> Any:
    async def sleep(delay: float) -> None:
        await asyncio.sleep(0)  # sends just started reach the "network" before time moves
        clock.advance(timedelta(seconds=max(0.0, delay)))
        await asyncio.sleep(0)

    return sleep


async def add_chats(
    db: Db,
    clock: FrozenClock,
    chat_ids: list[str],
    *,
    locale: str | None = None,
    hint: str | None = None,
) -> dict[str, int]:
    """One person and one Telegram chat account per chat id; returns chat id -> account id."""
    async with transaction(db.sessions) as session:
        accounts = {}
        for chat_id in chat_ids:
            person = Person(full_name=f"Cán bộ {chat_id}", locale=locale, created_at=clock.now())
            account = ChatAccount(
                person=person,
                platform="telegram",
                user_id=chat_id,
                chat_id=chat_id,
                language_hint=hint,
                created_at=clock.now(),
            )
            session.add(account)
            accounts[chat_id] = account
        await session.flush()
        return {chat_id: a.id for chat_id, a in accounts.items()}


async def put(
    db: Db, clock: FrozenClock, accounts: dict[str, int], per_chat: int = 1, **extra: Any
) -> None:
    async with transaction(db.sessions) as session:
        for chat_id, account_id in accounts.items():
            for n in range(per_chat):
                await enqueue(
                    session,
                    dedupe_key=f"test:{chat_id}:{n}",
                    kind="reminder",
                    chat_account_id=account_id,
                    template="reminder.due",
                    params={"unit": f"U{chat_id}", "deadline": "30/09/2021 17:00"},
                    now=clock.now(),
                    **extra,
                )


async def rows(db: Db) -> list[OutboxMessage]:
    async with db.sessions() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def worker(
    db: Db,
    clock: FrozenClock,
    channel: RecordingChannel,
    *,
    limits: RateLimits = FAST,
    worker_id: str = "w1",
    render: Render = RENDER,
    **settings: Any,
) -> DeliveryWorker:
    return DeliveryWorker(
        db.sessions,
        {"telegram": channel},
        render,
        clock,
        limits,
        worker_id,
        settings=DeliverySettings(**settings),
        sleep=virtual_sleep(clock),
    )


async def deliver_all(db: Db, clock: FrozenClock, w: DeliveryWorker, rounds: int = 200) -> None:
    """Run the worker, jumping the clock to the next due row whenever it runs dry."""
    for _ in range(rounds):
        if await w.run_once():
            continue
        async with db.sessions() as session:
            due = await session.scalar(
                select(func.min(OutboxMessage.not_before)).where(
                    OutboxMessage.status == OutboxStatus.PENDING
                )
            )
        if due is None:
            return
        clock.set(max(due, clock.now() + timedelta(milliseconds=1)))
    raise AssertionError("outbox not drained")


# -- dedupe, pacing --------------------------------------------------------------------------


async def test_enqueue_twice_sends_once(db: Db, clock: FrozenClock) -> None:
    accounts = await add_chats(db, clock, ["101"])
    await put(db, clock, accounts)
    await put(db, clock, accounts)  # a re-run of the planner
    channel = RecordingChannel(clock)
    w = worker(db, clock, channel)
    assert await w.run_once() == 1
    assert await w.run_once() == 0
    assert len(await rows(db)) == 1 and len(channel.sent) == 1
    (row,) = await rows(db)
    assert (row.status, row.attempts, row.platform_message_id) == (OutboxStatus.SENT, 1, "1")


async def test_not_before_is_respected(db: Db, clock: FrozenClock) -> None:
    accounts = await add_chats(db, clock, ["101"])
    await put(db, clock, accounts, not_before=clock.now() + timedelta(hours=1))
    channel = RecordingChannel(clock)
    assert await worker(db, clock, channel).run_once() == 0
    clock.advance(timedelta(hours=1))
    assert await worker(db, clock, channel).run_once() == 1


def test_pacer_spacing() -> None:
    pacer = Pacer(RateLimits(margin=0.0))
    pacer.take("7", 100.0)
    assert pacer.earliest("8", 100.0) == pytest.approx(100 + 1 / 30)
    assert pacer.earliest("7", 100.0) == pytest.approx(101.0)
    pacer.take("-1007", 101.0)
    assert pacer.earliest("-1007", 101.0) == pytest.approx(104.0)  # 20 per minute
    pacer.pause(200.0)
    assert pacer.earliest("8", 150.0) == 200.0


def test_pacer_absorbs_timer_lateness_without_bursting() -> None:
    pacer = Pacer(RateLimits(margin=0.0))  # 30/s, no margin: easy numbers
    pacer.take("1", 10.0)
    pacer.take("2", 10.0 + 1 / 30 + 0.002)  # woken 2 ms late: the grid holds
    assert pacer.earliest("3", 10.0) == pytest.approx(10.0 + 2 / 30)
    pacer.take("3", 10.5)  # after a stall: a fresh start, nothing paid back in a burst
    assert pacer.earliest("4", 10.5) == pytest.approx(10.5 + 1 / 30)


async def test_pacing_keeps_every_limit(db: Db, clock: FrozenClock) -> None:
    private = [str(1000 + n) for n in range(40)]
    accounts = await add_chats(db, clock, [*private, "-100777"])
    await put(db, clock, accounts, per_chat=2)
    await put(db, clock, {"-100777": accounts["-100777"]}, per_chat=4)  # 2 more: dedupe
    channel = RecordingChannel(clock)
    limits = RateLimits()  # Telegram's: 30/s, 1/s per chat, 20/min per group
    await deliver_all(db, clock, worker(db, clock, channel, limits=limits, batch_size=50))

    times = sorted(s.at.timestamp() for s in channel.sent)
    assert len(times) == 84
    assert all(later - first > 1.0 for first, later in zip(times, times[30:], strict=False))
    by_chat: dict[str, list[float]] = {}
    for s in channel.sent:
        by_chat.setdefault(s.chat_id, []).append(s.at.timestamp())
    gaps = {c: min(b - a for a, b in itertools.pairwise(ts)) for c, ts in by_chat.items()}
    assert min(g for c, g in gaps.items() if c != "-100777") >= 1.0
    assert gaps["-100777"] >= 3.0
    assert {r.attempts for r in await rows(db)} == {1}  # waiting for a turn is no attempt


async def test_pacing_reaches_the_bot_rate(db: Db, clock: FrozenClock) -> None:
    accounts = await add_chats(db, clock, [str(3000 + n) for n in range(150)])
    await put(db, clock, accounts)
    channel = RecordingChannel(clock)
    await deliver_all(db, clock, worker(db, clock, channel, limits=RateLimits(), batch_size=40))
    times = sorted(s.at.timestamp() for s in channel.sent)
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert 0.9 * 30 <= rate <= 30


# -- errors ----------------------------------------------------------------------------------


async def test_429_pauses_that_chat_only_and_retries(db: Db, clock: FrozenClock) -> None:
    chats = ["201", "202", "203", "204", "205"]
    accounts = await add_chats(db, clock, chats)
    await put(db, clock, accounts)
    channel = RecordingChannel(clock, script={"202": [RateLimited(7)]})
    w = worker(db, clock, channel, limits=RateLimits(), concurrency=1)
    await w.run_once()
    ((hit_at, _),) = [(t, c) for t, c in channel.attempts if c == "202"][:1]
    row = next(r for r in await rows(db) if r.chat_account_id == accounts["202"])
    assert row.status == OutboxStatus.PENDING and row.attempts == 0
    # that chat waits from when the answer came back (the virtual network takes a few ticks)
    assert hit_at + timedelta(seconds=7) <= row.not_before <= hit_at + timedelta(seconds=7.1)
    # ...and the others went on at the bot's pace, within the same second
    others = [s.at for s in channel.sent if s.at > hit_at]
    assert len(others) == 3 and max(others) < hit_at + timedelta(seconds=1)
    await deliver_all(db, clock, w)
    assert sorted(s.chat_id for s in channel.sent) == chats
    assert w.stats.rate_limited == 1


async def test_a_flood_of_429s_pauses_the_whole_bot(db: Db, clock: FrozenClock) -> None:
    chats = [str(250 + n) for n in range(12)]
    accounts = await add_chats(db, clock, chats)
    await put(db, clock, accounts)
    # the first 4 sends all meet a 429: the bot is over its limit, not one chat
    channel = RecordingChannel(clock, script={c: [RateLimited(5)] for c in chats[:4]})
    w = worker(db, clock, channel, limits=RateLimits(), concurrency=1)
    await w.run_once()
    fourth = [t for t, c in channel.attempts][3]
    assert not [s for s in channel.sent if s.at < fourth + timedelta(seconds=5)]
    await deliver_all(db, clock, w)
    assert sorted(s.chat_id for s in channel.sent) == chats
    assert min(s.at for s in channel.sent) >= fourth + timedelta(seconds=5)


async def test_transient_errors_back_off_then_fail(db: Db, clock: FrozenClock) -> None:
    accounts = await add_chats(db, clock, ["301", "302", "303"])
    await put(db, clock, accounts)
    channel = RecordingChannel(
        clock,
        always={"301": TransientError("502 Bad Gateway")},
        script={"302": [TransientError("timeout"), TransientError("timeout")]},
    )
    await deliver_all(db, clock, worker(db, clock, channel))
    tries = [t for t, c in channel.attempts if c == "301"]
    gaps = [round((b - a).total_seconds()) for a, b in itertools.pairwise(tries)]
    assert gaps == [5, 10, 20, 40]
    status = {r.chat_account_id: r for r in await rows(db)}
    failed = status[accounts["301"]]
    assert (failed.status, failed.attempts) == (OutboxStatus.FAILED, 5)
    assert failed.last_error and failed.last_error.startswith("gave up after 5 attempts")
    recovered = status[accounts["302"]]
    assert (recovered.status, recovered.attempts) == (OutboxStatus.SENT, 3)
    assert status[accounts["303"]].status == OutboxStatus.SENT


async def test_unreachable_marks_the_account(db: Db, clock: FrozenClock) -> None:
    accounts = await add_chats(db, clock, ["401", "402"])
    await put(db, clock, accounts)
    channel = RecordingChannel(
        clock, always={"401": Unreachable("Forbidden: bot was blocked by the user")}
    )
    await worker(db, clock, channel).run_once()
    status = {r.chat_account_id: r.status for r in await rows(db)}
    assert status == {accounts["401"]: OutboxStatus.UNREACHABLE, accounts["402"]: OutboxStatus.SENT}
    async with db.sessions() as session:
        account = await session.get(ChatAccount, accounts["401"])
        assert account is not None and account.unreachable_at == clock.now()
        assert account.unreachable_reason == "Forbidden: bot was blocked by the user"
        other = await session.get(ChatAccount, accounts["402"])
        assert other is not None and other.unreachable_at is None


async def test_permanent_and_unexpected_errors_touch_one_row(db: Db, clock: FrozenClock) -> None:
    accounts = await add_chats(db, clock, ["501", "502", "503"])
    await put(db, clock, accounts)
    channel = RecordingChannel(
        clock,
        always={"501": PermanentError("Bad Request: can't parse")},
        script={"502": [RuntimeError("bug in an adapter")]},
    )
    await deliver_all(db, clock, worker(db, clock, channel))
    status = {r.chat_account_id: (r.status, r.attempts) for r in await rows(db)}
    assert status == {
        accounts["501"]: (OutboxStatus.FAILED, 1),
        accounts["502"]: (OutboxStatus.SENT, 2),  # unexpected: retried
        accounts["503"]: (OutboxStatus.SENT, 1),
    }


async def test_a_renderer_that_raises_fails_its_row_only(db: Db, clock: FrozenClock) -> None:
    accounts = await add_chats(db, clock, ["601", "602"])
    await put(db, clock, accounts)

    def render(message: OutboxMessage, account: ChatAccount, person: Person | None) -> Reply:
        if account.chat_id == "601":
            raise KeyError("boom")
        return RENDER(message, account, person)

    channel = RecordingChannel(clock)
    await worker(db, clock, channel, render=render).run_once()
    assert [s.chat_id for s in channel.sent] == ["602"]
    failed = next(r for r in await rows(db) if r.chat_account_id == accounts["601"])
    assert failed.status == OutboxStatus.FAILED and "render" in (failed.last_error or "")


# -- crashes ---------------------------------------------------------------------------------


def dead_workers(clock: FrozenClock, worker_id: str, instance: str | None) -> DeadWorkers:
    return DeadWorkers(
        now=clock.now(),
        worker_id=worker_id,
        instance=instance,
        claim_timeout=timedelta(minutes=2),
        send_timeout=timedelta(minutes=10),
    )


async def test_a_crash_mid_send_leaves_that_row_in_doubt_and_resends_the_rest(
    db: Db, clock: FrozenClock
) -> None:
    chats = ["701", "702", "703"]
    accounts = await add_chats(db, clock, chats)
    await put(db, clock, accounts)
    channel = RecordingChannel(clock)
    dying = RecordingChannel(clock, sent=channel.sent)  # same "platform", same inbox
    in_flight = asyncio.Event()

    async def send_and_hang(chat_id: str, reply: Reply) -> str:
        await RecordingChannel.send(dying, chat_id, reply)  # it reached the platform...
        in_flight.set()
        await asyncio.Event().wait()  # ...and the process is killed before the answer
        raise AssertionError("unreachable")

    dying.send = send_and_hang
    old = DeliveryWorker(
        db.sessions,
        {"telegram": dying},
        RENDER,
        clock,
        FAST,
        "host:1",
        instance="host",
        settings=DeliverySettings(concurrency=1),
        sleep=virtual_sleep(clock),
    )
    killed = asyncio.create_task(old.run_once())
    await asyncio.wait_for(in_flight.wait(), timeout=10)
    # kill -9: the old worker does nothing more (its task is left hanging until the end)
    assert Counter(r.status for r in await rows(db)) == {
        OutboxStatus.SENDING: 1,
        OutboxStatus.CLAIMED: 2,
    }

    restarted = DeliveryWorker(
        db.sessions,
        {"telegram": channel},
        RENDER,
        clock,
        FAST,
        "host:2",
        instance="host",
        sleep=virtual_sleep(clock),
    )
    assert await restarted.recover() == 3  # at once: "host:1" was our predecessor
    await deliver_all(db, clock, restarted)
    assert Counter(s.chat_id for s in channel.sent) == {c: 1 for c in chats}
    status = {r.chat_account_id: (r.status, r.last_error) for r in await rows(db)}
    first = channel.sent[0].chat_id
    assert status[accounts[first]] == (OutboxStatus.IN_DOUBT, IN_DOUBT_ERROR)
    assert {v for k, v in status.items() if k != accounts[first]} == {(OutboxStatus.SENT, None)}

    async with transaction(db.sessions) as session:  # the admin decides to send it again
        assert await resend_in_doubt(session, now=clock.now()) == 1
    await deliver_all(db, clock, restarted)
    assert Counter(s.chat_id for s in channel.sent)[first] == 2
    assert {r.status for r in await rows(db)} == {OutboxStatus.SENT}
    killed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await killed


async def test_claims_of_another_instance_wait_for_their_timeouts(
    db: Db, clock: FrozenClock
) -> None:
    accounts = await add_chats(db, clock, ["801", "802", "803"])
    await put(db, clock, accounts)
    async with transaction(db.sessions) as session:
        claimed = await claim_due(session, now=clock.now(), worker_id="other:9", limit=10)
    assert [(r.status, r.claimed_by, r.attempts) for r in claimed] == [
        (OutboxStatus.CLAIMED, "other:9", 0)
    ] * 3
    async with transaction(db.sessions) as session:
        assert await mark_sending(session, claimed[0].id, worker_id="other:9", now=clock.now())
        assert await mark_sending(session, claimed[1].id, worker_id="other:9", now=clock.now())
        # a row is marked sending only by the worker holding its claim
        assert not await mark_sending(session, claimed[2].id, worker_id="me:1", now=clock.now())
    async with transaction(db.sessions) as session:
        found = await recover_claims(session, dead_workers(clock, "me:1", "me"))
    assert (found.released, found.in_doubt) == ([], [])  # alive, as far as we know
    clock.advance(timedelta(minutes=3))
    async with transaction(db.sessions) as session:
        found = await recover_claims(session, dead_workers(clock, "me:1", "me"))
    assert (found.released, found.in_doubt) == ([claimed[2].id], [])
    clock.advance(timedelta(minutes=8))
    async with transaction(db.sessions) as session:
        found = await recover_claims(session, dead_workers(clock, "me:1", "me"))
        assert found.in_doubt == [claimed[0].id, claimed[1].id]
        # a slow worker that did send reports back: the row is corrected to SENT...
        assert await mark_sent(session, claimed[0].id, now=clock.now(), platform_message_id="9")
        # ...but a retry cannot resurrect a row in doubt
        assert not await mark_retry(session, claimed[1].id, not_before=clock.now(), error="x")
    assert [r.status for r in await rows(db)] == [
        OutboxStatus.SENT,
        OutboxStatus.IN_DOUBT,
        OutboxStatus.PENDING,
    ]


async def test_an_unreachable_chat_is_skipped_until_the_person_writes(
    db: Db, clock: FrozenClock
) -> None:
    accounts = await add_chats(db, clock, ["851", "852"])
    await put(db, clock, accounts)
    channel = RecordingChannel(clock, always={"851": Unreachable("Forbidden: bot was blocked")})
    w = worker(db, clock, channel)
    await deliver_all(db, clock, w)
    await put(db, clock, accounts, per_chat=2)  # a second message to each: n=1
    await deliver_all(db, clock, w)
    assert [c for _, c in channel.attempts].count("851") == 1  # not tried again
    skipped = [r for r in await rows(db) if r.chat_account_id == accounts["851"]]
    assert [(r.status, r.last_error) for r in skipped][1] == (
        OutboxStatus.UNREACHABLE,
        SKIPPED_UNREACHABLE,
    )
    async with transaction(db.sessions) as session:  # the person writes to the bot again
        await open_chat(
            session,
            platform="telegram",
            user_id="851",
            chat_id="851",
            display_name="",
            username=None,
            language_hint=None,
            now=clock.now(),
        )
    channel.always.clear()
    async with transaction(db.sessions) as session:
        await enqueue(
            session,
            dedupe_key="after",
            kind="reminder",
            chat_account_id=accounts["851"],
            template="reminder.due",
            params={"unit": "U", "deadline": "30/09/2021"},
            now=clock.now(),
        )
    await deliver_all(db, clock, w)
    assert channel.count("851") == 1


# -- rendering ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "hint", "text", "label"),
    [
        (
            None,
            None,
            "Đơn vị <b>U&lt;9&gt; &amp; co</b> cần nộp báo cáo trước 30/09/2021 17:00.",
            "Mở danh mục",
        ),
        (
            None,
            "en-US",
            "Unit <b>U&lt;9&gt; &amp; co</b> must report by 30/09/2021 17:00.",
            "Open checklist",
        ),
        (
            "vi",
            "en-US",
            "Đơn vị <b>U&lt;9&gt; &amp; co</b> cần nộp báo cáo trước 30/09/2021 17:00.",
            "Mở danh mục",
        ),
    ],
)
async def test_rendered_in_the_recipients_language(
    db: Db, clock: FrozenClock, locale: str | None, hint: str | None, text: str, label: str
) -> None:
    accounts = await add_chats(db, clock, ["901"], locale=locale, hint=hint)
    async with transaction(db.sessions) as session:
        await enqueue(
            session,
            dedupe_key="r",
            kind="reminder",
            chat_account_id=accounts["901"],
            template="reminder.due",
            now=clock.now(),
            params={
                "unit": "U<9> & co",
                "deadline": "30/09/2021 17:00",
                "_buttons": [[button("common.open", "cl:1")]],
            },
        )
    channel = RecordingChannel(clock)
    await worker(db, clock, channel).run_once()
    (sent,) = channel.sent
    assert sent.reply.text == text
    assert sent.reply.choices == [[Choice(label, "cl:1")]]


async def test_unknown_template_still_says_something(
    db: Db, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    accounts = await add_chats(db, clock, ["902", "903"], hint="en")
    async with transaction(db.sessions) as session:
        await enqueue(
            session,
            dedupe_key="a",
            kind="notice",
            chat_account_id=accounts["902"],
            template="nowhere.to.be.found",
            now=clock.now(),
        )
        await enqueue(
            session,
            dedupe_key="b",
            kind="notice",
            chat_account_id=accounts["903"],
            template="reminder.due",
            params={"unit": "X"},
            now=clock.now(),
        )
    channel = RecordingChannel(clock)
    await worker(db, clock, channel).run_once()
    assert [s.reply.text for s in channel.sent] == [
        "You have a new notice.",
        "Unit <b>X</b> must report by ….",
    ]
    assert "nowhere.to.be.found" in caplog.text and "deadline" in caplog.text


def test_real_catalog_has_the_fallback_in_every_language() -> None:
    catalog = Catalog.load()
    assert {catalog.texts[loc]["delivery.fallback"] != "" for loc in ("vi", "en")} == {True}


# -- the loop ----------------------------------------------------------------------------------


async def test_run_wakes_on_notify_and_stops(db: Db, clock: FrozenClock) -> None:
    accounts = await add_chats(db, clock, ["111"])
    forever = asyncio.Event()  # the timer never fires: only notify() can wake the loop
    delivered = asyncio.Event()

    class Notifying(RecordingChannel):
        async def send(self, chat_id: str, reply: Reply) -> str:
            result = await super().send(chat_id, reply)
            delivered.set()
            return result

    async def never(delay: float) -> None:
        await forever.wait()

    w = DeliveryWorker(
        db.sessions, {"telegram": Notifying(clock)}, RENDER, clock, FAST, "w", sleep=never
    )
    stop = asyncio.Event()
    running = asyncio.create_task(w.run(stop))
    await put(db, clock, accounts)
    w.notify()
    await asyncio.wait_for(delivered.wait(), timeout=10)
    stop.set()
    await asyncio.wait_for(running, timeout=10)
    assert [r.status for r in await rows(db)] == [OutboxStatus.SENT]


# -- PostgreSQL: several workers ---------------------------------------------------------------

POSTGRES_ONLY = pytest.mark.parametrize(
    "backend_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@POSTGRES_ONLY
async def test_skip_locked_claims_are_disjoint(db: Db, clock: FrozenClock) -> None:
    accounts = await add_chats(db, clock, [str(n) for n in range(1200, 1210)])
    await put(db, clock, accounts)
    async with db.sessions() as first, db.sessions() as second:
        a = await claim_due(first, now=clock.now(), worker_id="a", limit=6)
        b = await claim_due(second, now=clock.now(), worker_id="b", limit=6)  # a not committed
        assert len(a) == 6 and len(b) == 4
        assert not {r.id for r in a} & {r.id for r in b}
        await first.commit()
        await second.commit()


@POSTGRES_ONLY
async def test_two_workers_deliver_200_rows_without_duplicates(db: Db, clock: FrozenClock) -> None:
    accounts = await add_chats(db, clock, [str(2000 + n) for n in range(200)])
    await put(db, clock, accounts)
    second_engine = storage_db.create_engine(db.url)  # another process, in effect
    try:
        shared: list[Sent] = []
        workers = [
            DeliveryWorker(
                sessions,
                {"telegram": RecordingChannel(clock, sent=shared)},
                RENDER,
                clock,
                FAST,
                name,
                sleep=virtual_sleep(clock),
                settings=DeliverySettings(batch_size=10, concurrency=4),
            )
            for name, sessions in (
                ("a", db.sessions),
                ("b", storage_db.session_factory(second_engine)),
            )
        ]

        async def drain(w: DeliveryWorker) -> None:
            while await w.run_once():
                pass

        await asyncio.gather(*(drain(w) for w in workers))
    finally:
        await second_engine.dispose()
    assert len(shared) == 200
    assert len({s.chat_id for s in shared}) == 200
    final = await rows(db)
    assert {r.status for r in final} == {OutboxStatus.SENT}
    assert Counter(r.claimed_by for r in final).keys() == {"a", "b"}  # both took part
