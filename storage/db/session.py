"""Sessions and the one transaction each chat event and each job runs in.

Plain SQLAlchemy 2: `async_sessionmaker.begin()` gives a session whose transaction commits
when the block ends and rolls back when it raises. What is ours is only the order SQLite's
writers go in: SQLite has one write lock per database file, and a transaction takes it at
BEGIN (BEGIN IMMEDIATE: see storage.db.engine). Left to SQLite's busy handler, writers of
one process that wait for it sleep and retry, unfairly: under a burst some waited past the
busy timeout and failed. So the writers of a process queue for the lock in arrival order
(an asyncio.Lock is first come, first served) and each one takes SQLite's lock uncontested;
SQLite's busy timeout is left to cover other processes only (it waits in aiosqlite's
thread, so the event loop keeps serving everyone else meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


class Sessions(async_sessionmaker[AsyncSession]):
    """The sessions of one database, and, on SQLite, the queue its writers wait in."""

    def __init__(self, engine: AsyncEngine) -> None:
        # expire_on_commit=False: replies are rendered from objects after the commit.
        super().__init__(engine, expire_on_commit=False)
        self.writers = asyncio.Lock() if engine.dialect.name == "sqlite" else None


def session_factory(engine: AsyncEngine) -> Sessions:
    return Sessions(engine)


@contextlib.asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session and one transaction: committed when the block ends, rolled back (and
    the error raised on) when it fails. Not reentrant on SQLite: never open a transaction
    inside another one (the second would wait for the first forever)."""
    writers = sessions.writers if isinstance(sessions, Sessions) else None
    async with writers or contextlib.nullcontext(), sessions.begin() as session:
        yield session
