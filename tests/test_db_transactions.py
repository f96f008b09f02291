"""`storage.db.session.transaction`: one plain SQLAlchemy transaction per event or job, and,
on SQLite, writers that take their turn in arrival order."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from storage import db as storage_db
from storage.db.models import Answer, AnswerRevision, Person
from storage.db.session import transaction
from storage.services.chat_open import open_chat
from tests import factories
from tests.chat_harness import Chat, import_and_codes, make_deps
from tests.conftest import PG_ADMIN_URL, Db, _migrate

NOW = datetime(2021, 9, 1, 1, 0, tzinfo=UTC)
# Some behaviours belong to one backend: run those on it alone (`db` takes its URL from here).
SQLITE_ONLY = pytest.mark.parametrize("backend_url", ["sqlite"], indirect=True)
POSTGRES_ONLY = pytest.mark.parametrize(
    "backend_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


async def _people(db: Db) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Person)) or 0)


async def _add_person(db: Db, name: str) -> bool:
    """Whether the transaction failed."""
    try:
        async with transaction(db.sessions) as session:
            session.add(Person(full_name=name, created_at=NOW))
    except Exception:
        return True
    return False


async def test_committed_work_is_seen_by_others_and_failed_work_is_not(db: Db) -> None:
    async with transaction(db.sessions) as session:
        session.add(Person(full_name="Lan", created_at=NOW))
    with pytest.raises(RuntimeError):
        async with transaction(db.sessions) as session:
            session.add(Person(full_name="Minh", created_at=NOW))
            await session.flush()
            raise RuntimeError("a handler's bug")
    async with transaction(db.sessions) as session:  # the next event is not affected
        session.add(Person(full_name="Hoa", created_at=NOW))
    async with db.sessions() as session:
        names = set(await session.scalars(select(Person.full_name)))
    assert names == {"Lan", "Hoa"}


@SQLITE_ONLY
async def test_sqlite_writers_take_turns_in_arrival_order(db: Db) -> None:
    order: list[str] = []

    async def write(name: str) -> None:
        async with transaction(db.sessions) as session:
            order.append(f"{name}+")
            session.add(Person(full_name=name, created_at=NOW))
            await session.flush()
            await asyncio.sleep(0)  # another writer would slip in here if it could
            order.append(f"{name}-")

    await asyncio.gather(*(write(f"P{n}") for n in range(5)))
    assert order == [f"P{n}{mark}" for n in range(5) for mark in "+-"]
    assert await _people(db) == 5


@SQLITE_ONLY
async def test_a_burst_of_sqlite_writers_all_get_through(db: Db) -> None:
    """Left to SQLite's busy handler, some of these failed with "database is locked"."""
    failed = await asyncio.gather(*(_add_person(db, f"P{n}") for n in range(200)))
    assert not any(failed)
    assert await _people(db) == 200


@SQLITE_ONLY
async def test_a_writer_cancelled_while_waiting_leaves_the_queue_whole(db: Db) -> None:
    release = asyncio.Event()
    inside = asyncio.Event()

    async def hold() -> None:
        async with transaction(db.sessions) as session:
            session.add(Person(full_name="First", created_at=NOW))
            inside.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await inside.wait()
    cancelled = asyncio.create_task(_add_person(db, "Cancelled"))
    after = asyncio.create_task(_add_person(db, "After"))
    for _ in range(5):
        await asyncio.sleep(0)  # both queue behind the holder
    cancelled.cancel()
    release.set()
    await holder
    assert await after is False
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    async with db.sessions() as session:
        assert set(await session.scalars(select(Person.full_name))) == {"First", "After"}


async def test_waiting_for_another_processes_write_lock_keeps_the_loop_serving(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.sqlite3"
    await _migrate(f"sqlite:///{path}")
    engine = storage_db.create_engine(f"sqlite:///{path}")
    sessions = storage_db.session_factory(engine)
    other = sqlite3.connect(path, isolation_level=None)  # another process, holding the lock
    other.execute("BEGIN IMMEDIATE")
    try:
        writer = asyncio.create_task(_add_to(sessions, "Lan"))
        ticks = 0
        while ticks < 200:  # the loop keeps turning while the writer waits for the lock
            ticks += 1
            await asyncio.sleep(0)
        assert not writer.done()
        other.execute("COMMIT")
        await asyncio.wait_for(writer, 30)
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Person)) == 1
    finally:
        other.close()
        await engine.dispose()


async def _add_to(sessions: storage_db.Sessions, name: str) -> None:
    async with transaction(sessions) as session:
        session.add(Person(full_name=name, created_at=NOW))


async def test_an_answer_is_written_when_record_answer_returns(
    db: Db, clock: FrozenClock, tmp_path: Path
) -> None:
    codes = await import_and_codes(db, clock, factories.campaign())
    chat = Chat(Dispatcher(make_deps(db, clock, tmp_path)), clock)
    await chat.command("start", codes["U1"][0])
    await chat.command("checklist")
    await chat.text("01/12/2020")  # item 1.1, a date: answer, revision, report touched
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Answer)) == 1
        assert await session.scalar(select(func.count()).select_from(AnswerRevision)) == 1


@POSTGRES_ONLY
async def test_a_lost_postgres_connection_costs_one_event(db: Db) -> None:
    async with transaction(db.sessions) as session:
        victim = await session.scalar(text("SELECT pg_backend_pid()"))
    admin = storage_db.create_engine(PG_ADMIN_URL)
    try:
        async with admin.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
    finally:
        await admin.dispose()
    # The dead connection waits in the pool: the one event that gets it fails (its
    # transaction rolled back, the pool renewed); every other event goes through.
    failed = [await _add_person(db, f"P{n}") for n in range(5)]
    assert failed == [True, False, False, False, False]
    assert await _people(db) == 4


@POSTGRES_ONLY
async def test_an_event_of_the_chat_in_another_process_is_waited_for(
    db: Db, clock: FrozenClock, tmp_path: Path
) -> None:
    """The other event holds the chat's row: this one must wait, then see what it wrote."""
    codes = await import_and_codes(db, clock, factories.campaign())
    chat = Chat(Dispatcher(make_deps(db, clock, tmp_path)), clock)
    await chat.command("start", codes["U1"][0])
    other = await db.engine.connect()
    try:
        await other.begin()
        await other.execute(
            text(
                "UPDATE conversation_states SET state = 'held', data = '{}' WHERE chat_id = :chat"
            ),
            {"chat": chat.user_id},
        )  # the row is locked until `other` commits
        waiting = asyncio.create_task(_open_state(db, clock, chat))
        await _until_waiting_on_a_lock(db)
        assert not waiting.done()
        await other.commit()
        assert await waiting == "held"
    finally:
        await other.close()


async def _open_state(db: Db, clock: FrozenClock, chat: Chat) -> str:
    async with transaction(db.sessions) as session:
        opened = await open_chat(
            session,
            platform="telegram",
            user_id=chat.user_id,
            chat_id=chat.user_id,
            display_name=chat.name,
            username=None,
            language_hint="vi",
            now=clock.now(),
        )
        return opened.state.state


async def _until_waiting_on_a_lock(db: Db) -> None:
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    async with db.engine.connect() as watcher:
        for _ in range(3000):  # a bound, not a pause: it normally takes a few turns
            if await watcher.scalar(query):
                return
            await asyncio.sleep(0.01)
    pytest.fail("the second event never waited for the first")
