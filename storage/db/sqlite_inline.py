"""SQLite for the async engine without a thread per connection: `sqlite+inline://`.

aiosqlite runs every call (execute, fetch, close, commit...) on a thread of its own and
hands the result back through the event loop: a dozen loop round trips per event. With one
writer at a time that was the bottleneck: the write lock stayed held while the loop served
everyone else between those round trips. SQLite on a local file answers in microseconds,
so this dialect calls the standard `sqlite3` module directly from the loop's thread: a
transaction's statements run back to back, and the write lock is held only as long as the
work takes.

The one call that can wait long is taking the write lock while another process holds it
(`BEGIN IMMEDIATE`). `begin_immediate` waits for it with `asyncio.sleep`, so the loop keeps
serving everyone else meanwhile; SQLite's own busy wait would block the whole process.
A long query (a huge export) does hold the loop while it runs; see docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any, cast

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.base import SQLiteExecutionContext
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, Connection
from sqlalchemy.util.concurrency import await_only

# Short: SQLite's busy handler sleeps on the loop's thread. BEGIN IMMEDIATE, the one
# statement that waits for another process, does not rely on it (see begin_immediate).
BUSY_TIMEOUT_MS = 200
LOCK_WAIT_S = 30.0  # how long BEGIN IMMEDIATE waits for another process's write lock


async def _now(call: Any, *args: Any) -> Any:
    """An "async" driver call that is already done: SQLAlchemy's async layer insists that a
    statement awaits something; this awaits without ever yielding to the loop."""
    return call(*args)


class _Cursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """Called by SQLAlchemy's async results; rows are read on demand, nothing to do."""


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)


class _InlineContext(SQLiteExecutionContext):
    def create_server_side_cursor(self) -> Any:
        # A plain sqlite3 cursor already steps through rows as they are fetched.
        return self._dbapi_connection.cursor()


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite, declared async so `create_async_engine` takes it: its calls never wait
    for I/O worth yielding for, so they run inside SQLAlchemy's greenlet directly."""

    driver = "inline"
    is_async = True
    supports_statement_cache = True
    supports_server_side_cursors = True  # `stream()` for exports
    execution_ctx_cls = _InlineContext

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        # The async-adapted pool waits for a free connection with asyncio, not a thread lock.
        return pool.AsyncAdaptedQueuePool if cls._is_url_file_db(url) else pool.StaticPool

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        return super().connect(*args, factory=_Connection, **kwargs)

    def do_execute(self, cursor: Any, statement: Any, parameters: Any, context: Any = None
                   ) -> None:  # fmt: skip
        await_only(_now(cursor.execute, statement, parameters))

    def do_execute_no_params(self, cursor: Any, statement: Any, context: Any = None) -> None:
        await_only(_now(cursor.execute, statement))

    def do_executemany(self, cursor: Any, statement: Any, parameters: Any,
                       context: Any = None) -> None:  # fmt: skip
        await_only(_now(cursor.executemany, statement, parameters))


registry.register("sqlite.inline", __name__, "InlineSQLiteDialect")


def _is_locked(error: sqlite3.OperationalError) -> bool:
    return "locked" in str(error) or "busy" in str(error)


def begin_immediate(conn: Connection, mode: str) -> None:
    """`BEGIN <mode>` from SQLAlchemy's "begin" hook (inside its greenlet)."""
    if mode != "IMMEDIATE":  # a reader: never waits in WAL mode
        conn.exec_driver_sql(f"BEGIN {mode}")
        return
    raw = conn.connection.dbapi_connection
    assert raw is not None
    await_only(take_write_lock(cast(sqlite3.Connection, raw)))


async def take_write_lock(raw: sqlite3.Connection) -> None:
    """`BEGIN IMMEDIATE`; while another process holds the write lock, wait on the event loop
    (backing off from 1 to 50 ms) instead of in SQLite's busy handler."""
    deadline, pause = time.monotonic() + LOCK_WAIT_S, 0.001
    raw.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if not _is_locked(error) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
    finally:
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def connect_pragmas(dbapi_conn: Any, _record: Any = None) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers run beside the writer;
    # busy_timeout covers the rare short waits outside BEGIN IMMEDIATE (see begin_immediate).
    dbapi_conn.isolation_level = None  # let the "begin" hook issue BEGIN itself
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()

