"""The migrations build exactly the model, on SQLite and PostgreSQL, and can run twice."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from storage import db as storage_db
from storage.models import Base
from tests.conftest import Db


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_the_model(db: Db) -> None:
    async with db.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_upgrade_is_idempotent(db: Db) -> None:
    await storage_db.upgrade(db.engine)
    assert await storage_db.current_revision(db.engine) == "0001"


def test_database_urls_get_async_drivers() -> None:
    assert storage_db.normalize_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert storage_db.normalize_url("sqlite:///data/x.db") == "sqlite+aiosqlite:///data/x.db"
    assert storage_db.is_sqlite("sqlite+aiosqlite:///:memory:")
