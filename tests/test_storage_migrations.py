"""The migrations build exactly the model, on SQLite and PostgreSQL, and can run twice."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from storage import db as storage_db
from storage.db.models import Base
from tests.conftest import Db


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_the_model(db: Db) -> None:
    async with db.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_upgrade_is_idempotent(db: Db) -> None:
    await storage_db.upgrade(db.engine)
    assert await storage_db.current_revision(db.engine) == "0009"


def test_database_urls_get_async_drivers() -> None:
    assert storage_db.normalize_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert storage_db.normalize_url("sqlite:///data/x.db") == "sqlite+aiosqlite:///data/x.db"
    assert storage_db.normalize_url("sqlite+aiosqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert storage_db.is_sqlite("sqlite:///:memory:")


async def test_a_read_only_sqlite_transaction_does_not_block_writers(tmp_path) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import select

    from storage.db.models import Person
    from tests.conftest import _migrate

    url = f"sqlite:///{tmp_path}/x.sqlite3"
    await _migrate(url)
    engine = storage_db.create_engine(url)
    sessions = storage_db.session_factory(engine)
    async with sessions() as reader:
        await reader.connection(execution_options=storage_db.READ_ONLY)
        await reader.execute(select(Person))  # the export's snapshot is open...
        async with storage_db.transaction(sessions) as writer:  # ...and a write goes through
            writer.add(Person(full_name="Lan", created_at=datetime.now(UTC)))
        assert list(await reader.scalars(select(Person))) == []  # the snapshot is stable
    await engine.dispose()
