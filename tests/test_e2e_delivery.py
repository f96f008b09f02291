"""Outbox delivery end to end: the real TelegramChannel against the fake Bot API.

A process killed between sending and marking never makes anyone get a message twice, and
two workers on PostgreSQL share one outbox without a single duplicate.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

import schedules.delivery as delivery_module
from bot.channels.telegram import TelegramChannel, build_bot
from bot.outbox_render import make_renderer
from common.clock import MovableClock
from schedules.delivery import DeliverySettings, DeliveryWorker
from schedules.pacing import RateLimits
from storage import db as storage_db
from storage.db import transaction
from storage.db.models import ChatAccount, OutboxMessage, OutboxStatus, Person
from storage.services.outbox import enqueue_many
from tests.chat_harness import CATALOG
from tests.conftest import Db, truncate_all
from tests.fake_telegram import FakeTelegram

FAST = RateLimits(per_bot=500, per_chat=50, per_group_per_minute=600)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


async def _people_with_messages(db: Db, count: int, now: datetime) -> None:
    async with transaction(db.sessions) as session:
        people = [Person(full_name=f"Người {n}", created_at=now) for n in range(count)]
        session.add_all(people)
        await session.flush()
        accounts = [
            ChatAccount(
                person_id=p.id,
                platform="telegram",
                user_id=str(7000 + n),
                chat_id=str(7000 + n),
                created_at=now,
            )
            for n, p in enumerate(people)
        ]
        session.add_all(accounts)
        await session.flush()
        await enqueue_many(
            session,
            [
                {
                    "dedupe_key": f"test:{a.id}",
                    "kind": "notice",
                    "chat_account_id": a.id,
                    "person_id": a.person_id,
                    "template": "questions.to_unit",
                    "params": {
                        "question": "Hạn nộp?",
                        "answer": f"Trả lời số {n}",
                        "name": "Đoàn",
                        "campaign": "KT",
                    },
                    "not_before": now,
                    "created_at": now,
                }
                for n, a in enumerate(accounts)
            ],
        )


def _worker(sessions, fake: FakeTelegram, clock: MovableClock, name: str):
    bot = build_bot(fake.token, fake.base_url)
    worker = DeliveryWorker(
        sessions,
        {"telegram": TelegramChannel(bot)},
        make_renderer(CATALOG),
        clock,
        FAST,
        worker_id=name,
        settings=DeliverySettings(poll_interval=0.05),
    )
    return worker, bot


async def _drain(worker: DeliveryWorker) -> None:
    for _ in range(200):  # bounded: a batch per call
        if await worker.run_once() == 0:
            return


async def _statuses(db: Db) -> Counter[str]:
    async with db.sessions() as session:
        return Counter(await session.scalars(select(OutboxMessage.status)))


async def test_a_crash_between_sending_and_marking_never_sends_twice(
    db: Db, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = MovableClock(datetime(2021, 9, 20, 1, 0, tzinfo=UTC))
    await _people_with_messages(db, 3, clock.now())
    real_mark_sent = delivery_module.mark_sent
    crashed: list[int] = []

    async def killed_after_sending(session, message_id, **kwargs):
        if not crashed:  # the first row: sent, then the process dies before marking it
            crashed.append(message_id)
            raise RuntimeError("process killed")
        return await real_mark_sent(session, message_id, **kwargs)

    monkeypatch.setattr(delivery_module, "mark_sent", killed_after_sending)
    first, bot = _worker(db.sessions, fake, clock, "first")
    await _drain(first)
    await bot.session.close()
    monkeypatch.setattr(delivery_module, "mark_sent", real_mark_sent)
    assert (await _statuses(db))[OutboxStatus.SENDING] == 1
    # A new process starts later; the stale claim is in doubt, never sent again.
    clock.advance(timedelta(minutes=11))
    second, bot = _worker(db.sessions, fake, clock, "second")
    assert await second.recover() == 1
    await _drain(second)
    await bot.session.close()
    sends = Counter(c.chat_id for c in fake.calls_to("sendMessage", ok_only=True))
    assert sorted(sends.values()) == [1, 1, 1]
    statuses = await _statuses(db)
    assert statuses[OutboxStatus.SENT] == 2 and statuses[OutboxStatus.IN_DOUBT] == 1


@pytest.fixture
async def pg_db(pg_database: str) -> AsyncIterator[Db]:
    """PostgreSQL only: on SQLite exactly one process delivers, by design."""
    engine = storage_db.create_engine(pg_database)
    await truncate_all(engine)
    yield Db("postgres", pg_database, engine, storage_db.session_factory(engine))
    await engine.dispose()


@pytest.mark.postgres
async def test_two_workers_on_postgresql_share_the_outbox_without_a_duplicate(
    pg_db: Db, fake: FakeTelegram
) -> None:
    db = pg_db
    clock = MovableClock(datetime(2021, 9, 20, 1, 0, tzinfo=UTC))
    await _people_with_messages(db, 200, clock.now())
    other_engine = storage_db.create_engine(db.url)  # a second process: its own pool
    try:
        one, bot_one = _worker(db.sessions, fake, clock, "one")
        two, bot_two = _worker(storage_db.session_factory(other_engine), fake, clock, "two")
        await asyncio.gather(_drain(one), _drain(two))
        await asyncio.gather(bot_one.session.close(), bot_two.session.close())
    finally:
        await other_engine.dispose()
    texts = [c.text for c in fake.calls_to("sendMessage", ok_only=True)]
    assert len(texts) == 200 and len(set(texts)) == 200
    assert one.stats.sent > 0 and two.stats.sent > 0  # both really took part
    assert (await _statuses(db))[OutboxStatus.SENT] == 200
