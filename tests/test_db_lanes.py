"""`storage.db.engine.transaction` runs on connections that stay open ("lanes"): what it must keep."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from storage.db import engine as storage_db
from storage.db import lanes
from storage.db.models import Person
from tests.conftest import PG_ADMIN_URL, Db

NOW = datetime(2021, 9, 1, 1, 0, tzinfo=UTC)
# Some behaviours belong to one backend: run those on it alone (`db` takes its URL from here).
SQLITE_ONLY = pytest.mark.parametrize("backend_url", ["sqlite"], indirect=True)
POSTGRES_ONLY = pytest.mark.parametrize(
    "backend_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


async def _people(db: Db) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Person)) or 0)


async def _backend_id(session: storage_db.AsyncSession) -> object:
    return await session.scalar(text("SELECT pg_backend_pid()"))


async def test_committed_work_is_seen_by_others_and_failed_work_is_not(db: Db) -> None:
    async with storage_db.transaction(db.sessions) as session:
        session.add(Person(full_name="Lan", created_at=NOW))
    with pytest.raises(RuntimeError):
        async with storage_db.transaction(db.sessions) as session:
            session.add(Person(full_name="Minh", created_at=NOW))
            await session.flush()
            raise RuntimeError("a handler's bug")
    async with storage_db.transaction(db.sessions) as session:  # the lane still works
        session.add(Person(full_name="Hoa", created_at=NOW))
    async with db.sessions() as session:
        names = set(await session.scalars(select(Person.full_name)))
    assert names == {"Lan", "Hoa"}


@SQLITE_ONLY
async def test_sqlite_writers_take_turns_on_one_connection(db: Db) -> None:
    assert db.backend == "sqlite"  # PostgreSQL has one lane per pooled connection
    seen: list[int] = []
    order: list[str] = []

    async def write(name: str) -> None:
        async with storage_db.transaction(db.sessions) as session:
            order.append(f"{name}+")
            connection = await session.connection()
            seen.append(id((await connection.get_raw_connection()).dbapi_connection))
            session.add(Person(full_name=name, created_at=NOW))
            await asyncio.sleep(0)  # another writer would slip in here if it could
            order.append(f"{name}-")

    await asyncio.gather(*(write(f"P{n}") for n in range(5)))
    assert len(set(seen)) == 1
    assert order == [f"P{n}{mark}" for n in range(5) for mark in "+-"]
    assert await _people(db) == 5


@POSTGRES_ONLY
async def test_a_lost_postgres_connection_costs_one_event_not_the_lane(db: Db) -> None:
    assert db.backend == "postgres"
    async with storage_db.transaction(db.sessions) as session:
        victim = await _backend_id(session)
    admin = storage_db.create_engine(PG_ADMIN_URL)
    try:
        async with admin.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
    finally:
        await admin.dispose()
    # The dead connection waits in its lane: the one event that gets it fails (its
    # transaction rolled back); every other event, then and after, goes through.
    size = lanes.POOL_SIZE
    failed = [await _add_person(db, f"P{n}") for n in range(2 * size + 2)]
    assert failed.count(True) == 1
    assert failed.index(True) <= size
    assert await _people(db) == 2 * size + 1


async def _add_person(db: Db, name: str) -> bool:
    """Whether the transaction failed."""
    try:
        async with storage_db.transaction(db.sessions) as session:
            session.add(Person(full_name=name, created_at=NOW))
    except Exception:
        return True
    return False


async def _connections_to(database: str | None) -> int:
    admin = storage_db.create_engine(PG_ADMIN_URL)
    try:
        async with admin.connect() as conn:
            count = await conn.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db"), {"db": database}
            )
    finally:
        await admin.dispose()
    return int(count or 0)


@POSTGRES_ONLY
async def test_disposing_the_engine_closes_the_lanes(db: Db) -> None:
    assert db.backend == "postgres"
    engine = storage_db.create_engine(db.url)
    sessions = storage_db.session_factory(engine)
    database = engine.url.database
    before = await _connections_to(database)
    inside, release = asyncio.Semaphore(0), asyncio.Event()

    async def hold() -> None:  # three transactions open at once: three lanes
        async with storage_db.transaction(sessions) as session:
            await session.execute(text("SELECT 1"))
            inside.release()
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(3)]
    for _ in holders:
        await inside.acquire()
    assert await _connections_to(database) == before + 3
    release.set()
    await asyncio.gather(*holders)
    await engine.dispose()
    assert await _connections_to(database) == before


class _Recorder:
    """Stands in for a lane's asyncpg connection (storage.db.lanes): notes what it is told."""

    def __init__(self, driver: object, sent: list[str]) -> None:
        self.driver, self.sent = driver, sent

    async def execute(self, sql: str) -> object:
        self.sent.append(sql)
        return await self.driver.execute(sql)  # type: ignore[attr-defined]


def _recorded_lanes(monkeypatch: pytest.MonkeyPatch, size: int = 1) -> list[str]:
    """`size` lanes on PostgreSQL, and the transaction control they are sent, in order."""
    monkeypatch.setattr(lanes, "POOL_SIZE", size)
    sent: list[str] = []
    opened = lanes.Lanes._open

    async def recording_open(queue: lanes.Lanes, engine: object) -> object:
        connection = await opened(queue, engine)  # type: ignore[arg-type]
        connection.info[lanes.LANE] = _Recorder(connection.info[lanes.LANE], sent)
        return connection

    monkeypatch.setattr(lanes.Lanes, "_open", recording_open)
    return sent


Sessions = storage_db.async_sessionmaker[storage_db.AsyncSession]


async def _holding(sessions: Sessions, name: str, release: asyncio.Event, *,
                   written: bool = False) -> asyncio.Task[None]:  # fmt: skip
    """A transaction that adds `name` and keeps its lane until `release` (once it has the
    lane); `written`: the row is sent before, so only the COMMIT is left at release."""
    inside = asyncio.Event()

    async def hold() -> None:
        async with storage_db.transaction(sessions) as session:
            session.add(Person(full_name=name, created_at=NOW))
            if written:
                await session.flush()
            inside.set()
            await release.wait()

    task = asyncio.create_task(hold())
    await inside.wait()
    return task


async def _turns_until(holds: Callable[[], bool]) -> None:
    """A few turns of the event loop, until `holds()` (a task queued for a lane, say)."""
    for _ in range(100):
        if holds():
            return
        await asyncio.sleep(0)
    assert holds()


async def _while_one_waits(sessions: Sessions, second: str, *, fail: bool = False) -> None:
    """A transaction adds "First" and commits while another (adding `second`) waits for
    the lane; that one then fails if `fail`."""
    release = asyncio.Event()

    async def then() -> None:
        async with storage_db.transaction(sessions) as session:
            session.add(Person(full_name=second, created_at=NOW))
            await session.flush()
            if fail:
                raise RuntimeError("the second event failed")

    holder = await _holding(sessions, "First", release)
    waiter = asyncio.create_task(then())
    queue = lanes.lanes_of(sessions.kw["bind"])
    await _turns_until(lambda: queue.waiting == 1)
    release.set()
    await holder
    await asyncio.gather(waiter, return_exceptions=True)


@pytest.mark.parametrize(("kept_s", "expected"), [
    (1.0, ["BEGIN", "COMMIT; BEGIN", "COMMIT"]),  # the second sent no BEGIN
    (-1.0, ["BEGIN", "COMMIT; BEGIN", "ROLLBACK; BEGIN", "COMMIT"]),  # kept too long: renewed
])
@POSTGRES_ONLY
async def test_a_commit_begins_the_transaction_waiting_for_its_lane(
    db: Db, monkeypatch: pytest.MonkeyPatch, kept_s: float, expected: list[str]
) -> None:
    sent = _recorded_lanes(monkeypatch)
    monkeypatch.setattr(lanes, "BEGIN_KEPT_S", kept_s)
    engine = storage_db.create_engine(db.url)
    try:
        await _while_one_waits(storage_db.session_factory(engine), "Second")
        assert sent == expected
    finally:
        await engine.dispose()
    async with db.sessions() as session:
        assert set(await session.scalars(select(Person.full_name))) == {"First", "Second"}


@POSTGRES_ONLY
async def test_a_failure_in_a_chained_transaction_rolls_it_back(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = _recorded_lanes(monkeypatch)
    engine = storage_db.create_engine(db.url)
    sessions = storage_db.session_factory(engine)
    try:
        await _while_one_waits(sessions, "Failed", fail=True)
        async with storage_db.transaction(sessions) as session:  # a new connection, at once
            session.add(Person(full_name="Third", created_at=NOW))
        assert sent == ["BEGIN", "COMMIT; BEGIN", "BEGIN", "COMMIT"]
    finally:
        await engine.dispose()
    async with db.sessions() as session:
        assert set(await session.scalars(select(Person.full_name))) == {"First", "Third"}


async def _in_transaction(database: str | None) -> int:
    """Connections to `database` that sit "idle in transaction"."""
    admin = storage_db.create_engine(PG_ADMIN_URL)
    try:
        async with admin.connect() as conn:
            count = await conn.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = :db"
                " AND state = 'idle in transaction'"), {"db": database})
    finally:
        await admin.dispose()
    return int(count or 0)


@POSTGRES_ONLY
async def test_a_begin_nobody_uses_is_rolled_back_and_no_lane_stays_in_a_transaction(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = _recorded_lanes(monkeypatch, size=2)
    monkeypatch.setattr(lanes, "BEGIN_KEPT_S", 0.0)  # "a while" is at once here
    engine = storage_db.create_engine(db.url)
    sessions = storage_db.session_factory(engine)
    queue = lanes.lanes_of(engine)
    try:
        release = asyncio.Event()
        holders = [await _holding(sessions, name, release, written=True) for name in "AB"]
        waiter = asyncio.create_task(_add_person(Db(db.backend, db.url, engine, sessions), "C"))
        await _turns_until(lambda: queue.waiting == 1)
        release.set()  # A and B commit while C waits: both begin the next; C takes one
        await asyncio.gather(*holders)
        assert await waiter is False
        assert sent.count("COMMIT; BEGIN") == 2
        # the unused BEGIN's expiry runs on a later turn of the loop
        await _turns_until(lambda: bool(queue.cleanups) or "ROLLBACK" in sent)
        await asyncio.gather(*queue.cleanups)
        assert sent.count("ROLLBACK") == 1
        assert await _in_transaction(engine.url.database) == 0
        assert await _people(db) == 3
    finally:
        await engine.dispose()


async def test_a_transaction_cancelled_while_waiting_for_a_lane_leaves_the_lanes_whole(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lanes, "POOL_SIZE", 1)
    engine = storage_db.create_engine(db.url)
    sessions = storage_db.session_factory(engine)
    queue = lanes.lanes_of(engine)
    try:
        release = asyncio.Event()
        holder = await _holding(sessions, "Holder", release)
        here = Db(db.backend, db.url, engine, sessions)
        gone = asyncio.create_task(_add_person(here, "Gone"))
        handed = asyncio.create_task(_add_person(here, "Handed"))
        await _turns_until(lambda: queue.waiting == 2)
        gone.cancel()  # gave up while waiting (a stop, a timeout)
        release.set()
        await holder
        assert await handed is False  # the lane went on to the next in line
        with pytest.raises(asyncio.CancelledError):
            await gone
        assert queue.waiting == 0 and len(queue.free) == 1
    finally:
        await engine.dispose()
    async with db.sessions() as session:
        assert set(await session.scalars(select(Person.full_name))) == {"Holder", "Handed"}
