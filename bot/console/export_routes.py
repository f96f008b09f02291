"""Exports downloaded from the board: the campaign's Excel workbook and its evidence ZIP.

    GET /c/{id}/export.xlsx   the workbook of storage/formats/export_xlsx.py
    GET /c/{id}/evidence.zip  the evidence files of storage/formats/export_zip.py

The same rule as /export in chat: admins get every team, a leader or member their own
teams' units only (and ?team= narrows to one of them, as on the board); anyone else gets
the board's 404 with an audit entry. The exporters write a file (a ZIP of every evidence
file can be gigabytes), so the file is written to a private temporary folder, streamed
to the browser in blocks, and removed when the response ends.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import IO
from urllib.parse import quote

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.board_extras import shown_teams
from bot.console.host import ConsoleHost
from common.i18n import Translator
from common.localtime import zone
from handlers.console_access import campaign_ids, deny_web, person_scope
from storage.db import transaction
from storage.db.models import Campaign
from storage.formats.export_xlsx import begin_snapshot, export_workbook
from storage.formats.export_zip import export_evidence_zip
from storage.services.evidence import EvidenceStore

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BLOCK = 256 * 1024
Writer = Callable[
    [AsyncSession, Campaign, Path, frozenset[int] | None, Translator], Awaitable[None]
]


def download_name(code: str, stamp: str, suffix: str) -> str:
    """A file name any browser and file system takes: the campaign code's letters, digits,
    dot, dash and underscore kept, anything else "_"."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", code).strip("._") or "campaign"
    return f"{safe}-{stamp}{suffix}"


def _read(handle: IO[bytes]) -> bytes:
    return handle.read(BLOCK)


def _open(path: Path) -> tuple[IO[bytes], int]:
    handle = path.open("rb")
    return handle, os.fstat(handle.fileno()).st_size


class ExportRoutes:
    def __init__(self, console: ConsoleHost, headers: Mapping[str, str]) -> None:
        self.console = console
        self.headers = headers  # the console's security headers (CSP, nosniff...)

    def register(self, app: web.Application) -> None:
        app.router.add_get("/c/{campaign_id:[0-9]+}/export.xlsx", self.workbook)
        app.router.add_get("/c/{campaign_id:[0-9]+}/evidence.zip", self.evidence)

    async def workbook(self, request: web.Request) -> web.StreamResponse:
        async def write(
            session: AsyncSession,
            campaign: Campaign,
            path: Path,
            teams: frozenset[int] | None,
            tr: Translator,
        ) -> None:
            await export_workbook(
                session, campaign.id, path, team_ids=teams, locale=tr.locale, tr=tr
            )

        return await self._download(request, "export", ".xlsx", XLSX, write)

    async def evidence(self, request: web.Request) -> web.StreamResponse:
        store = self.console.evidence
        if store is None:
            raise web.HTTPNotFound()

        async def write(
            session: AsyncSession,
            campaign: Campaign,
            path: Path,
            teams: frozenset[int] | None,
            tr: Translator,
        ) -> None:
            await export_evidence_zip(
                session, campaign.id, path, store=store, team_ids=teams, tr=tr
            )

        return await self._download(request, "export_zip", ".zip", "application/zip", write)

    async def _allowed(
        self, request: web.Request, action: str
    ) -> tuple[Campaign, frozenset[int] | None, Translator]:
        """The campaign and the teams the person may export, or a 404 after the audit."""
        console = self.console
        campaign_id = int(request.match_info["campaign_id"])
        async with transaction(console.sessions) as session:
            viewer = await console.viewer(request, session)
            if viewer is None:
                raise web.HTTPSeeOther(f"{console.root}/")
            scope, linked = await person_scope(session, viewer.person, console.admin_ids)
            campaign = await session.get(Campaign, campaign_id)
            tr = console.catalog.for_locale(viewer.locale)
            if campaign is None or not (scope.admin or campaign_id in campaign_ids(scope, linked)):
                await deny_web(
                    session,
                    now=console.clock.now(),
                    person_id=viewer.person.id,
                    action=action,
                    subject=f"campaign:{campaign_id}",
                )
                campaign = None  # refused after the commit: the audit entry must stay
            else:
                asked = request.query.get("team")
                _, _, teams = await shown_teams(session, campaign_id, scope, asked)
        if campaign is None:
            raise web.HTTPNotFound()
        return campaign, teams, tr

    def _folder(self) -> Path:
        """Where exports are written: beside the evidence (the chat's exports too), the disk
        sized for it; the system's temporary folder when the console has no evidence store."""
        store: EvidenceStore | None = self.console.evidence
        if store is None:
            return Path(tempfile.mkdtemp(prefix="cchc-export-"))
        parent = store.root / ".exports"
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="web-", dir=parent))

    async def _download(
        self, request: web.Request, action: str, suffix: str, mime: str, write: Writer
    ) -> web.StreamResponse:
        campaign, teams, tr = await self._allowed(request, action)
        stamp = self.console.clock.now().astimezone(zone(campaign.timezone)).strftime("%Y%m%d-%H%M")
        name = download_name(campaign.code, stamp, suffix)
        folder = self._folder()
        try:
            path = folder / name
            async with self.console.sessions() as session:
                await begin_snapshot(session)  # every sheet sees the same moment
                await write(session, campaign, path, teams, tr)
            handle, size = await asyncio.to_thread(_open, path)
        finally:
            # Gone from the disk at once: the open handle keeps the bytes until it closes,
            # so an interrupted download leaves nothing behind.
            shutil.rmtree(folder, ignore_errors=True)
        with handle:
            return await self._stream(request, handle, size, name, mime)

    async def _stream(
        self, request: web.Request, handle: IO[bytes], size: int, name: str, mime: str
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": mime,
                "Content-Disposition": f'attachment; filename="{name}"; '
                f"filename*=UTF-8''{quote(name)}",
                "Cache-Control": "private, no-store",
            }
        )
        # Sent now, before the middleware could add them to a response it gets back.
        for header, value in self.headers.items():
            response.headers.setdefault(header, value)
        response.content_length = size
        await response.prepare(request)
        while block := await asyncio.to_thread(_read, handle):
            await response.write(block)
        await response.write_eof()
        return response
