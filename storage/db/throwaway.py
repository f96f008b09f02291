"""Throw-away PostgreSQL databases, for the tests and the benchmarks."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from storage.db.engine import create_engine


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
