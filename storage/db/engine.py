"""Engine, sessions and migrations. One place builds them; callers pass them down."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.db import lanes, prepared, sqlite_inline

transaction = lanes.transaction  # where callers find it: one transaction per event or job

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (postgresql://, sqlite:///) and pick the async drivers."""
    parsed = make_url(url)
    driver = parsed.drivername
    if driver in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif driver in ("sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"):
        parsed = parsed.set(drivername="sqlite+inline")  # see storage/sqlite_inline.py
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


READ_ONLY = {"sqlite_begin": "DEFERRED"}  # execution options of a long read (an export)


def _sqlite_begin_immediate(conn: Connection) -> None:
    if lanes.is_lane(conn.info):
        return  # storage.db.lanes begins its transactions itself
    # A deferred transaction that reads and then writes fails with SQLITE_BUSY when another
    # connection wrote in between (busy_timeout cannot help there); taking the write lock at
    # BEGIN makes concurrent events queue up instead. A long read-only transaction asks for
    # READ_ONLY: in WAL mode it reads its snapshot without holding up the writers.
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    sqlite_inline.begin_immediate(conn, "DEFERRED" if mode == "DEFERRED" else "IMMEDIATE")


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    url = normalize_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo)
        event.listen(engine.sync_engine, "connect", sqlite_inline.connect_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
    else:
        # No pre-ping: it costs a round trip per transaction; connections are recycled.
        engine = create_async_engine(url, echo=echo, pool_size=lanes.POOL_SIZE,
                                     max_overflow=20, pool_recycle=1800)  # fmt: skip
    # Writes that wait for the transaction's next statement go before it (storage.db.prepared).
    event.listen(engine.sync_engine, "before_cursor_execute", prepared.run_waiting)
    return engine


def dialect_name(session: AsyncSession) -> str:
    """"postgresql" or "sqlite": for the few statements written per dialect (upserts)."""
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def _upgrade(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply the migrations (idempotent): every command that needs the database calls it."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)


def current_revision_sync(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(current_revision_sync)


def run(coro: Any) -> Any:
    """Run a coroutine from synchronous code (the CLI)."""
    return asyncio.run(coro)


# -- throw-away databases (tests and benchmarks) --------------------------------------------


async def admin_execute(admin_url: str, sql: str) -> None:
    """Run one statement outside a transaction (CREATE / DROP DATABASE need that)."""
    engine = create_engine(admin_url)
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql(sql)
    finally:
        await engine.dispose()


async def create_database(admin_url: str, name: str) -> str:
    """Create database `name` on the server of `admin_url`; returns its URL."""
    await admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    # Through make_url: the URL may carry a query (?host=/run/postgresql for the socket).
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(admin_url: str, name: str) -> None:
    await admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
