"""Engines: the URL people paste, the driver it gets, and what each backend is set up with."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

log = logging.getLogger(__name__)


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (postgresql://, sqlite:///) and pick the async drivers."""
    parsed = make_url(url)
    driver = parsed.drivername
    if driver in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif driver in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


# SQLite waits this long for another process's write lock (in aiosqlite's thread, so the
# event loop keeps serving meanwhile); writers of one process never wait for each other
# here: they queue in storage.db.session first.
BUSY_TIMEOUT_MS = 30_000
READ_ONLY = {"sqlite_begin": "DEFERRED"}  # execution options of a long read (an export)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers run beside the writer.
    # isolation_level None: the driver leaves BEGIN to the "begin" hook below (the recipe
    # SQLAlchemy documents for pysqlite and aiosqlite).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "foreign_keys=ON",
        "journal_mode=WAL",
        "synchronous=NORMAL",
        f"busy_timeout={BUSY_TIMEOUT_MS}",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # A deferred transaction that reads and then writes fails with SQLITE_BUSY when another
    # connection wrote in between (busy_timeout cannot help there); taking the write lock at
    # BEGIN makes concurrent writers wait instead. A long read-only transaction asks for
    # READ_ONLY: in WAL mode it reads its snapshot without holding up the writers.
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql("BEGIN DEFERRED" if mode == "DEFERRED" else "BEGIN IMMEDIATE")


POOL_SIZE = 10  # PostgreSQL connections kept open


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    url = normalize_url(url)
    if not is_sqlite(url):
        # No pre-ping: it costs a round trip per transaction; connections are recycled.
        return create_async_engine(
            url, echo=echo, pool_size=POOL_SIZE, max_overflow=20, pool_recycle=1800
        )
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, echo=echo, pool_reset_on_return=None)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def dialect_name(session: AsyncSession) -> str:
    """ "postgresql" or "sqlite": for the few statements written per dialect (upserts)."""
    return session.bind.dialect.name if session.bind is not None else "sqlite"
