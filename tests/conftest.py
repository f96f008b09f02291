"""Shared fixtures: real SQLite and real PostgreSQL databases, an injected clock.

Every storage test runs on both backends through the `db` fixture. PostgreSQL tests use a
throw-away database created on the local server; in CI (CI=true) an unreachable server is
an error, not a skip.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from common.clock import FrozenClock
from storage import db as storage_db
from storage.db.models import Base

PG_ADMIN_URL = os.environ.get(
    "CCHC_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass
class Db:
    backend: str
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


async def _migrate(url: str) -> None:
    engine = storage_db.create_engine(url)
    try:
        await storage_db.upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (much faster than migrating)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    asyncio.run(_migrate(f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    name = f"cchc_test_{uuid.uuid4().hex[:12]}"
    try:
        url = asyncio.run(storage_db.create_database(PG_ADMIN_URL, name))
    except Exception as exc:  # the server is not there
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    asyncio.run(_migrate(url))
    yield url
    asyncio.run(storage_db.drop_database(PG_ADMIN_URL, name))


def sqlite_copy(template: Path, tmp_path: Path) -> str:
    path = tmp_path / "cchc.sqlite3"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


async def truncate_all(engine: AsyncEngine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database URL on each backend."""
    if request.param == "sqlite":
        return sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
    url: str = request.getfixturevalue("pg_database")
    engine = storage_db.create_engine(url)
    asyncio.run(_truncate_and_dispose(engine))
    return url


async def _truncate_and_dispose(engine: AsyncEngine) -> None:
    try:
        await truncate_all(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def db(backend_url: str) -> AsyncIterator[Db]:
    engine = storage_db.create_engine(backend_url)
    backend = "sqlite" if storage_db.is_sqlite(backend_url) else "postgres"
    yield Db(backend, backend_url, engine, storage_db.session_factory(engine))
    await engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2021, 9, 1, 1, 0, tzinfo=UTC))  # 08:00 in Hà Nội / TP.HCM


ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CAMPAIGN = ROOT / "examples" / "hcmc-2021-team1.yaml"
