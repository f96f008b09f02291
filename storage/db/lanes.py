"""Transactions on connections that stay open ("lanes"), with BEGIN and COMMIT our own.

Checking a connection out of the pool and back in for each transaction cost about as much
as everything else SQLAlchemy does for a chat event, so transactions take turns on
connections that stay open. SQLite has one writer at a time: one lane, and writers queue
for it in order (left to itself, a waiting writer sleeps and retries inside SQLite,
unfairly, and under a burst some waited past busy_timeout and failed). PostgreSQL gets
POOL_SIZE lanes; waiters queue for the next free one.

As far as SQLAlchemy and the driver know, a lane's connection is in autocommit (on SQLite,
the "begin" hook of storage.db.engine leaves it alone): `transaction` says BEGIN and COMMIT
itself, from the event loop. That spares the greenlet SQLAlchemy's asyncio layer starts for
each begin, flush, commit and close (each costs a fresh frame stack, mapped and unmapped),
and on PostgreSQL, where every statement is a round trip to another process, it saves one:
while other transactions wait for a lane, a COMMIT goes out as "COMMIT; BEGIN", and the
next transaction on that connection starts without a round trip of its own (a BEGIN that
nobody uses within BEGIN_KEPT_S is rolled back: see `Lanes._put`).
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import prepared, sqlite_inline

POOL_SIZE = 10  # PostgreSQL connections kept open: one lane each
BEGIN_KEPT_S = 1.0  # a chained BEGIN unused this long is rolled back (or renewed if taken)

LANE = "cchc.lane"  # in a lane connection's info: its driver connection (asyncpg, sqlite3)
_BEGUN = "cchc.begun"  # ...and, after "COMMIT; BEGIN", when that BEGIN went out


class Lanes:
    # Holds no reference to its engine: `_lanes` is keyed by the engine, weakly.
    def __init__(self, engine: AsyncEngine, size: int) -> None:
        self.free: deque[AsyncConnection | None] = deque([None] * size)  # None: opened on use
        self.waiters: deque[asyncio.Future[AsyncConnection | None]] = deque()
        self.opened: weakref.WeakSet[AsyncConnection] = weakref.WeakSet()
        self.postgres = engine.dialect.name == "postgresql"
        self.cleanups: set[asyncio.Task[None]] = set()  # unused BEGINs being rolled back
        event.listen(engine.sync_engine, "engine_disposed", self._drop_all)

    @property
    def waiting(self) -> int:
        """Transactions waiting for a lane."""
        return len(self.waiters)

    @asynccontextmanager
    async def take(self, engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
        connection = await self._get()
        try:
            if connection is None or connection.closed or connection.invalidated:
                connection = await self._open(engine)
            yield connection
        except BaseException:
            # Whatever failed (a bug, a lost server), the next event gets a fresh connection
            # (closing the old one rolls back whatever it had begun).
            if connection is not None:
                await connection.invalidate()
            connection = None
            raise
        finally:
            self._put(connection)

    async def _get(self) -> AsyncConnection | None:
        if self.free:
            return self.free.popleft()
        waiter: asyncio.Future[AsyncConnection | None] = \
            asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)  # served in arrival order
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._put(waiter.result())  # handed a lane as it was cancelled: pass it on
            elif waiter in self.waiters:  # (a `_put` may have dropped it already)
                self.waiters.remove(waiter)
            raise

    def _put(self, connection: AsyncConnection | None) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        if connection is not None and _BEGUN in connection.info:
            # Its BEGIN is sent: the next transaction takes this lane first, and if none
            # does for a while, the BEGIN is rolled back (no lane stays "idle in
            # transaction", which a server's idle_in_transaction_session_timeout would end).
            self.free.appendleft(connection)
            asyncio.get_running_loop().call_later(BEGIN_KEPT_S, self._end_unused, connection)
        else:
            self.free.append(connection)

    def _end_unused(self, connection: AsyncConnection) -> None:
        if connection in self.free and _BEGUN in connection.info:
            self.free.remove(connection)
            cleanup = asyncio.get_running_loop().create_task(self._roll_back(connection))
            self.cleanups.add(cleanup)
            cleanup.add_done_callback(self.cleanups.discard)

    async def _roll_back(self, connection: AsyncConnection) -> None:
        lane: AsyncConnection | None = connection
        try:
            del connection.info[_BEGUN]
            await connection.info[LANE].execute("ROLLBACK")
        except Exception:  # a lost connection: the next user opens a new one
            await connection.invalidate()
            lane = None
        finally:
            self._put(lane)

    async def _open(self, engine: AsyncEngine) -> AsyncConnection:
        connection = await engine.connect()
        self.opened.add(connection)
        if self.postgres:  # (SQLite's connections already are: see sqlite_inline)
            await connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.info[LANE] = (await connection.get_raw_connection()).driver_connection
        return connection

    async def begin(self, info: dict[Any, Any]) -> None:
        """BEGIN on the lane (`info`: its connection's), unless the last COMMIT did."""
        driver = info[LANE]
        if not self.postgres:
            await sqlite_inline.take_write_lock(driver)
            return
        begun = info.pop(_BEGUN, None)
        if begun is None:
            await driver.execute("BEGIN")
        elif asyncio.get_running_loop().time() - begun > BEGIN_KEPT_S:
            await driver.execute("ROLLBACK; BEGIN")

    async def commit(self, info: dict[Any, Any]) -> None:
        """COMMIT; on PostgreSQL, with transactions waiting, BEGIN the next in the same go."""
        driver = info[LANE]
        if not self.postgres:
            driver.commit()
        elif self.waiting:
            await driver.execute("COMMIT; BEGIN")
            info[_BEGUN] = asyncio.get_running_loop().time()
        else:
            await driver.execute("COMMIT")

    def _drop_all(self, _engine: Engine) -> None:
        # Runs inside `engine.dispose()`: the lanes' connections go with the pool (and the
        # lanes let go of them, which keep the engine alive otherwise).
        for connection in list(self.opened):
            connection.sync_connection.invalidate()  # type: ignore[union-attr]
        self.opened.clear()
        self.free = deque([None] * len(self.free))


_lanes: weakref.WeakKeyDictionary[Engine, Lanes] = weakref.WeakKeyDictionary()


def lanes_of(engine: AsyncEngine) -> Lanes:
    lanes = _lanes.get(engine.sync_engine)
    if lanes is None:
        size = 1 if engine.dialect.name == "sqlite" else POOL_SIZE
        lanes = _lanes[engine.sync_engine] = Lanes(engine, size)
    return lanes


def is_lane(info: dict[Any, Any]) -> bool:
    """Whether a connection (by its info) is a lane: storage.db.engine's "begin" hook skips them."""
    return LANE in info


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session and one transaction: committed on success, rolled back on error.
    Not reentrant on SQLite: never open a transaction inside another one."""
    engine: AsyncEngine = sessions.kw["bind"]
    lanes = lanes_of(engine)
    async with lanes.take(engine) as connection:
        info = connection.info  # (read now: a connection that failed may refuse it later)
        # The session joins the connection's transaction; SQLAlchemy's own begin and commit
        # are bookkeeping (autocommit), BEGIN and COMMIT go out here. On an error the lane's
        # connection is closed, which rolls back.
        bookkeeping = connection.sync_connection.begin()  # type: ignore[union-attr]
        session = sessions(bind=connection, join_transaction_mode="rollback_only")
        try:
            await lanes.begin(info)
            yield session
            await _flush(session)
            await prepared.flush_waiting(session)
            await lanes.commit(info)
            bookkeeping.commit()
        finally:
            prepared.drop_waiting(info)
            session.sync_session.close()  # it only joined the connection: no I/O


async def _flush(session: AsyncSession) -> None:
    sync = session.sync_session
    if sync.new or sync.dirty or sync.deleted:
        await session.flush()
