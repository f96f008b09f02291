"""What the console's route modules use of the Console (bot/console/app.py), as a Protocol:
the report, export, admin and contact routes are registered by app.py and must not import
it back (tests/test_layers.py forbids the cycle). One Protocol for all of them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.clock import Clock
from common.i18n import Catalog
from storage.db.models import Person, WebSession
from storage.services.checklist import ChecklistCache
from storage.services.evidence import EvidenceStore


class SignedIn(Protocol):
    """The signed-in person of one request (app.py's Viewer)."""

    @property
    def web_session(self) -> WebSession: ...
    @property
    def person(self) -> Person: ...
    @property
    def locale(self) -> str: ...


class ConsoleHost(Protocol):
    sessions: async_sessionmaker[AsyncSession]
    catalog: Catalog
    clock: Clock
    root: str
    admin_ids: Mapping[str, frozenset[str]]
    checklists: ChecklistCache
    evidence: EvidenceStore | None
    max_evidence_bytes: int

    async def viewer(self, request: web.Request, session: AsyncSession) -> Any: ...

    def locale_of(self, request: web.Request, person: Person | None = None) -> str: ...

    async def check_csrf(self, request: web.Request, viewer: Any) -> dict[str, str]: ...

    def page(
        self, request: web.Request, template: str, locale: str, status: int = 200, **context: Any
    ) -> web.Response: ...
