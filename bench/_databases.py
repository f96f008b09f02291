"""A fresh database for one benchmark run: a SQLite file in a folder, or a throw-away
PostgreSQL database (CCHC_BENCH_PG names the admin URL) dropped afterwards, whatever
happened."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from common.clock import FrozenClock
from storage import db as storage_db
from storage.db import create_database, drop_database
from storage.services.campaign_import import import_campaign
from storage.services.invites import list_invites
from tests import factories

PG_ADMIN = os.environ.get("CCHC_BENCH_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


def _name() -> str:
    return f"cchc_bench_{uuid.uuid4().hex[:12]}"


@asynccontextmanager
async def fresh_database(backend: str, folder: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'bench.sqlite3'}"
        return
    name = _name()
    url = await create_database(PG_ADMIN, name)
    try:
        yield url
    finally:
        await drop_database(PG_ADMIN, name)


@contextmanager
def fresh_database_sync(backend: str, folder: Path) -> Iterator[str]:
    """The same, for scripts that run each step in its own event loop or process."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'bench.sqlite3'}"
        return
    name = _name()
    url = asyncio.run(create_database(PG_ADMIN, name))
    try:
        yield url
    finally:
        asyncio.run(drop_database(PG_ADMIN, name))


async def import_contacts(url: str, contacts: int, clock: FrozenClock) -> list[str]:
    """Migrate, import a campaign of `contacts` units; one invite code per unit, in order."""
    engine = storage_db.create_engine(url)
    try:
        await storage_db.upgrade(engine)
        sessions = storage_db.session_factory(engine)
        async with storage_db.transaction(sessions) as session:
            result = await import_campaign(
                session, factories.campaign("KT-BENCH", units=contacts), now=clock.now()
            )
            rows = await list_invites(session, result.campaign_id, now=clock.now())
    finally:
        await engine.dispose()
    by_unit: dict[str, str] = {}
    for row in rows:
        if row.unit_code:
            by_unit.setdefault(row.unit_code, row.code)
    return [by_unit[f"U{n}"] for n in range(1, contacts + 1)]
