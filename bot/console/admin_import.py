"""Importing a campaign file from the console (admins only).

    GET  /admin/import          the upload form
    POST /admin/import          upload (multipart, size-limited): every problem at its line
                                or cell, nothing written; a clean file gets a preview (what
                                a re-import changes) and a confirm button
    POST /admin/import/confirm  imports the file kept on the server, then redirects

The file is read by the CLI's readers and written by the CLI's service
(storage/services/campaign_import.py), so the console and `cchc-bot campaign import`
accept and refuse the same files. Between preview and confirm the file stays on the
server (bot/console/uploads.py), bound to the admin's web session.
"""

from __future__ import annotations

import asyncio
import hmac
from pathlib import Path

from aiohttp import BodyPartReader, web

from bot.console.admin_base import AdminPages, Viewer
from bot.console.uploads import Upload, UploadStore, UploadTooBig, suffix_of
from bot.problem_text import problem_text
from common.i18n import Catalog
from storage.db import transaction
from storage.formats.campaign_spec import CampaignSpec, Problem
from storage.services.campaign_diff import reimport_preview
from storage.services.campaign_import import RemovalNeedsForce, import_campaign


def read_campaign(path: Path, catalog: Catalog) -> tuple[CampaignSpec | None, list[Problem]]:
    """The CLI's readers: a workbook by its suffix, YAML otherwise (runs in a thread)."""
    if path.suffix == ".xlsx":
        from storage.formats.campaign_excel import load_campaign_workbook

        return load_campaign_workbook(path, catalog)
    from storage.formats.campaign_file import load_campaign_file

    return load_campaign_file(path)


class ImportPages:
    def __init__(self, admin: AdminPages) -> None:
        self.admin = admin
        self.console = admin.console
        options = admin.options
        self.store = UploadStore(options.upload_dir, options.max_upload_bytes)

    def register(self, app: web.Application) -> None:
        app.router.add_get("/admin/import", self.form)
        app.router.add_post("/admin/import", self.upload)
        app.router.add_post("/admin/import/confirm", self.confirm)

    def _form(
        self, request: web.Request, viewer: Viewer, status: int = 200, **extra: object
    ) -> web.Response:
        context: dict[str, object] = {"problems": [], "refusal": "", "file_name": ""}
        context.update(extra)
        max_mb = self.store.max_bytes // (1024 * 1024)
        return self.admin.page(
            request, viewer, "admin/import.html", status, max_mb=max_mb, **context
        )

    async def form(self, request: web.Request) -> web.Response:
        viewer = await self.admin.guard(request, "admin.import")
        return self._form(request, viewer)

    async def _receive(self, request: web.Request, viewer: Viewer) -> Upload | str:
        """The uploaded file kept on the server, or why not (a catalog key's last part).
        The form puts the CSRF field before the file: the token is checked before a byte
        of the file is stored."""
        if request.content_type != "multipart/form-data":
            raise web.HTTPForbidden(text="bad form")  # not the console's form
        try:
            return await self._parts(request, viewer)
        except ValueError:  # a body that is not the multipart it claims (no boundary...)
            raise web.HTTPBadRequest(text="bad form") from None

    async def _parts(self, request: web.Request, viewer: Viewer) -> Upload | str:
        reader = await request.multipart()
        csrf_ok = False
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "csrf":
                given = await part.text()
                csrf_ok = hmac.compare_digest(given, viewer.web_session.csrf_token)
            elif part.name == "file":
                if not csrf_ok:
                    break
                name = part.filename or ""
                if not name:
                    return "no_file"
                if suffix_of(name) is None:
                    return "bad_type"
                try:
                    return await self.store.save(
                        part,
                        name,
                        web_session_id=viewer.web_session.id,
                        now=self.console.clock.now(),
                    )
                except UploadTooBig:
                    return "too_big"
        if not csrf_ok:
            raise web.HTTPForbidden(text="bad form")
        return "no_file"

    async def upload(self, request: web.Request) -> web.Response:
        viewer = await self.admin.guard(request, "admin.import")
        received = await self._receive(request, viewer)
        if isinstance(received, str):
            return self._form(request, viewer, 422, refusal=received)
        return await self._check(request, viewer, received)

    async def _check(
        self, request: web.Request, viewer: Viewer, upload: Upload, *, needs_force: bool = False
    ) -> web.Response:
        """Every problem (the file is dropped), or the preview of a clean file."""
        spec, problems = await asyncio.to_thread(read_campaign, upload.path, self.console.catalog)
        if problems or spec is None:
            self.store.drop(upload)
            tr = self.console.catalog.for_locale(viewer.locale)
            return self._form(
                request,
                viewer,
                422,
                problems=[problem_text(p, tr) for p in problems],
                file_name=upload.file_name,
            )
        async with transaction(self.console.sessions) as session:
            preview = await reimport_preview(session, spec)
        return self.admin.page(
            request,
            viewer,
            "admin/import_preview.html",
            upload=upload,
            spec=spec,
            items=len(spec.items()),
            preview=preview,
            needs_force=needs_force,
        )

    async def confirm(self, request: web.Request) -> web.Response:
        viewer = await self.admin.guard(request, "admin.import")
        form = await self.console.check_csrf(request, viewer)
        now = self.console.clock.now()
        upload = self.store.get(
            form.get("upload", ""), web_session_id=viewer.web_session.id, now=now
        )
        if upload is None:  # expired, another session's, or made up: upload it again
            return self._form(request, viewer, 410, refusal="expired")
        spec, problems = await asyncio.to_thread(read_campaign, upload.path, self.console.catalog)
        if spec is None or problems:  # the file on disk is ours: it was clean at preview
            return await self._check(request, viewer, upload)
        try:
            async with transaction(self.console.sessions) as session:
                result = await import_campaign(
                    session,
                    spec,
                    now=now,
                    force=form.get("force") == "1",
                    invite_ttl=self.admin.options.invite_ttl,
                    source_name=upload.file_name,
                    actor_label=f"web:{viewer.person.id}",
                )
        except RemovalNeedsForce:
            return await self._check(request, viewer, upload, needs_force=True)
        self.store.drop(upload)
        raise self.admin.redirect(f"/admin/c/{result.campaign_id}", done="imported")
