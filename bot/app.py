"""The composition root: builds settings, database, catalog and clock once, passes them down."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.settings import Settings
from common.clock import Clock, SystemClock
from common.i18n import Catalog
from storage import db


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    catalog: Catalog
    clock: Clock = field(default_factory=SystemClock)

    async def close(self) -> None:
        await self.engine.dispose()


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # aiosqlite and the HTTP client log every call at DEBUG; keep them out of the bot's log.
    for noisy in ("aiosqlite", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLevelName(level)))
    # Migrations report every step at INFO; only problems matter on the command line.
    logging.getLogger("alembic").setLevel(logging.WARNING)


async def open_app(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> App:
    """Every command that needs the database applies the migrations first."""
    engine = db.create_engine(settings.database_url)
    if migrate:
        await db.upgrade(engine)
    return App(
        settings=settings,
        engine=engine,
        sessions=db.session_factory(engine),
        catalog=Catalog.load(),
        clock=clock or SystemClock(),
    )
