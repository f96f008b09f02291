"""An update delivered again is recognised and never handled twice: across a restart and,
on PostgreSQL, across processes (the key is recorded in the event's own transaction)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from common.clock import FrozenClock
from common.messages import Inbound, InboundKind
from handlers.dispatcher import Dispatcher
from schedules.scheduler import Jobs, run_pruning
from storage import db as storage_db
from storage.db import transaction
from storage.db.models import AnswerRevision, HandledUpdate
from storage.services.handled_updates import KEEP, first_time
from tests import factories
from tests.chat_harness import Chat, import_and_codes, make_deps
from tests.conftest import Db, truncate_all


async def _first_time(db: Db, key: str, now, platform: str = "telegram") -> bool:
    async with transaction(db.sessions) as session:
        return await first_time(session, platform, key, now)


async def _revisions(db: Db) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(AnswerRevision)) or 0)


def _restarted(db: Db) -> Db:
    """The same database through a new engine: another process, or the next start."""
    engine = storage_db.create_engine(db.url)
    return Db(db.backend, db.url, engine, storage_db.session_factory(engine))


async def test_a_key_is_new_once_per_platform(db: Db, clock: FrozenClock) -> None:
    now = clock.now()
    assert await _first_time(db, "42:7", now)
    assert not await _first_time(db, "42:7", now)
    assert await _first_time(db, "42:7", now, platform="zalo")  # another platform's ids
    assert await _first_time(db, "42:8", now)


async def test_a_key_rolled_back_with_its_event_is_new_again(db: Db, clock: FrozenClock) -> None:
    try:
        async with transaction(db.sessions) as session:
            assert await first_time(session, "telegram", "42:7", clock.now())
            raise RuntimeError("the handler failed: nothing of the event is kept")
    except RuntimeError:
        pass
    assert await _first_time(db, "42:7", clock.now())


@pytest.fixture
async def pg_db(pg_database: str) -> AsyncIterator[Db]:
    engine = storage_db.create_engine(pg_database)
    await truncate_all(engine)
    yield Db("postgres", pg_database, engine, storage_db.session_factory(engine))
    await engine.dispose()


@pytest.mark.postgres
async def test_a_second_process_waits_for_the_first_and_then_sees_its_key(
    pg_db: Db, clock: FrozenClock
) -> None:
    """On SQLite there is one writer at a time; PostgreSQL's unique key does it here."""
    db, now = pg_db, clock.now()
    other = _restarted(db)
    try:
        async with transaction(db.sessions) as session:
            assert await first_time(session, "telegram", "42:7", now)
            # The other process waits for this transaction (here: only 50 ms, then fails).
            with pytest.raises(DBAPIError, match="lock timeout"):
                async with transaction(other.sessions) as waiting:
                    await waiting.execute(text("SET LOCAL lock_timeout = '50ms'"))
                    await first_time(waiting, "telegram", "42:7", now)
        assert not await _first_time(other, "42:7", now)  # committed: handled already
    finally:
        await other.engine.dispose()


async def test_keys_are_kept_a_week_then_pruned(db: Db, clock: FrozenClock) -> None:
    assert await _first_time(db, "42:1", clock.now())
    clock.advance(KEEP - timedelta(minutes=1))
    assert await _first_time(db, "42:2", clock.now())
    jobs = Jobs(db.sessions, clock)
    assert await run_pruning(jobs) == 0
    clock.advance(timedelta(minutes=2))
    assert await run_pruning(jobs) == 1
    async with db.sessions() as session:
        assert list(await session.scalars(select(HandledUpdate.update_key))) == ["42:2"]
    assert not await _first_time(db, "42:2", clock.now())


async def test_an_update_delivered_again_after_a_restart_gets_no_second_handling(
    db: Db, clock: FrozenClock, tmp_path: Path
) -> None:
    codes = await import_and_codes(db, clock, factories.campaign())
    lan = Chat(Dispatcher(make_deps(db, clock, tmp_path)), clock)
    await lan.command("start", codes["U1"][0])
    await lan.command("checklist")
    answer = Inbound(
        InboundKind.TEXT, lan._sender(), clock.now(), text="31/12/2020", update_key="42:1001"
    )
    assert "Đã lưu" in "".join(r.text for r in await lan.send(answer))
    restarted = _restarted(db)
    try:
        again = Dispatcher(make_deps(restarted, clock, tmp_path))
        assert await again.handle(answer) == []  # answered the first time: no reply at all
        assert await _revisions(db) == 1
        # The same text as a new update is handled (here: the evidence step is waiting).
        fresh = Inbound(
            InboundKind.TEXT, lan._sender(), clock.now(), text="31/12/2020", update_key="42:1002"
        )
        assert await again.handle(fresh) != []
    finally:
        await restarted.engine.dispose()


async def test_events_without_a_key_are_all_handled(
    db: Db, clock: FrozenClock, tmp_path: Path
) -> None:
    """The web chat and Zalo have no update ids: nothing to recognise, nothing recorded."""
    lan = Chat(Dispatcher(make_deps(db, clock, tmp_path)), clock, platform="web")
    assert await lan.command("help") != []
    assert await lan.command("help") != []
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(HandledUpdate)) == 0
