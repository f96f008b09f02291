"""The in-loop SQLite driver: another process's write lock is waited for on the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from storage.db import engine as storage_db
from storage.db.models import Person
from tests.conftest import _migrate


async def test_waiting_for_another_writer_keeps_the_loop_serving(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    await _migrate(f"sqlite:///{path}")
    engine = storage_db.create_engine(f"sqlite:///{path}")
    sessions = storage_db.session_factory(engine)
    other = sqlite3.connect(path, isolation_level=None)  # another process, holding the lock
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def write() -> None:
        async with storage_db.transaction(sessions) as session:
            session.add(Person(full_name="Lan", created_at=datetime.now(UTC)))

    writer = asyncio.create_task(write())
    while ticks < 200:  # the loop keeps turning while the writer waits for the lock
        ticks += 1
        await asyncio.sleep(0)
    assert not writer.done()
    other.execute("COMMIT")
    await asyncio.wait_for(writer, 30)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 1
    other.close()
    await engine.dispose()


async def test_plain_connections_run_statements_and_stream(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/y.sqlite3"
    engine = storage_db.create_engine(url)
    async with engine.connect() as conn:  # AsyncConnection.execute insists on an await
        assert (await conn.exec_driver_sql("SELECT 41 + 1")).scalar() == 42
        streamed = await conn.stream(select(func.abs(-7)))
        assert [row async for row in streamed] == [(7,)]
    await engine.dispose()
