"""Receiving evidence files from a browser: a multipart body streamed to `.incoming/`.

The files are written before any database transaction (as the chat downloads an
attachment before its event's transaction), so a slow upload never holds the database.
Only what the chat would download is written: a file of a type that is not allowed, or
past the size limit, is read to its end (counted, so the page can say how big it was) and
dropped. What is then kept goes through the same evidence store as the chat's files
(content checked, sha256, moved into place) in `take_files`.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from aiohttp import BodyPartReader, web
from sqlalchemy.ext.asyncio import AsyncSession

from common.i18n import Translator
from common.sizes import fmt_size
from storage.db.models import Submission
from storage.services.checklist import ItemInfo
from storage.services.evidence import (
    EvidenceStore,
    RefusedFile,
    extension,
    is_allowed,
    safe_name,
)
from storage.services.submissions import add_evidence

CHUNK = 1 << 16
FIELD_MAX = 1024  # a text field of an upload form (the CSRF token): never more
EXTENSION_SHOWN = 16
MIME_TYPE_LENGTH = 100


@dataclass
class Incoming:
    name: str  # as the browser sent it
    size: int  # every byte sent, also past the limit
    path: Path | None  # written to .incoming/, or None when not written


@dataclass
class Received:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[Incoming] = field(default_factory=list)

    def discard(self, store: EvidenceStore) -> None:
        for incoming in self.files:
            if incoming.path is not None:
                store.discard(incoming.path)  # kept files were moved already


@dataclass(frozen=True)
class Outcome:
    name: str
    ok: bool
    text: str
    size: int = 0


async def _count(part: BodyPartReader, handle: BinaryIO | None, limit: int) -> int:
    size = 0
    while chunk := await part.read_chunk(CHUNK):
        size += len(chunk)
        if handle is not None and size <= limit:
            await asyncio.to_thread(handle.write, chunk)
    return size


async def _file(part: BodyPartReader, name: str, store: EvidenceStore, limit: int) -> Incoming:
    if not is_allowed(name):
        return Incoming(name, await _count(part, None, limit), None)
    path = store.incoming_path()
    handle = await asyncio.to_thread(path.open, "wb")
    try:
        size = await _count(part, handle, limit)
    finally:
        await asyncio.to_thread(handle.close)
    if size == 0 or size > limit:
        store.discard(path)
        return Incoming(name, size, None)
    return Incoming(name, size, path)


async def receive(request: web.Request, store: EvidenceStore, limit: int) -> Received:
    """The form's text fields and its files; whatever was written is discarded if the body
    breaks off half way."""
    if request.content_type != "multipart/form-data":
        raise web.HTTPBadRequest(text="expected a multipart form")
    received = Received()
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue  # a nested multipart: no form of ours sends one
            if part.filename is None:
                text = bytearray()
                while (chunk := await part.read_chunk(CHUNK)) and len(text) <= FIELD_MAX:
                    text += chunk
                received.fields[part.name or ""] = text[:FIELD_MAX].decode(errors="replace")
            elif part.filename:
                received.files.append(await _file(part, part.filename, store, limit))
    except BaseException:
        received.discard(store)
        raise
    return received


def refusal_of(tr: Translator, incoming: Incoming, limit: int) -> str | None:
    """Why a file is not kept, before its content is looked at (the chat's order)."""
    name = safe_name(incoming.name)
    if not is_allowed(incoming.name):
        return tr("evidence.bad_type", ext=extension(incoming.name)[:EXTENSION_SHOWN] or "?")
    if incoming.size == 0:
        return tr("evidence.empty", name=name)
    if incoming.size > limit:
        return tr(
            "evidence.too_big",
            size=fmt_size(incoming.size, tr.locale),
            max=fmt_size(limit, tr.locale),
        )
    return None


def mime_type_of(name: str) -> str:
    """From the name's extension, which the content check has just confirmed (what the
    browser claims is not trusted: the download serves this type)."""
    guessed = mimetypes.guess_type(name, strict=False)[0]
    return (guessed or "application/octet-stream")[:MIME_TYPE_LENGTH]


async def take_files(
    session: AsyncSession,
    store: EvidenceStore,
    tr: Translator,
    *,
    files: Sequence[Incoming],
    submission: Submission,
    item: ItemInfo,
    folder: tuple[str, ...],
    limit: int,
    person_id: int,
    now: Any,
) -> list[Outcome]:
    """Keep each file as the chat keeps one (`handlers.evidence`): checked, hashed, moved,
    attached to the item; an outcome per file in the person's language."""
    outcomes = []
    for incoming in files:
        problem = refusal_of(tr, incoming, limit)
        if problem is not None or incoming.path is None:
            outcomes.append(
                Outcome(incoming.name, False, problem or tr("evidence.download_failed"))
            )
            continue
        try:
            stored = await store.keep_off_loop(
                incoming.path, folder=folder, file_name=incoming.name
            )
        except RefusedFile as refused:
            name = safe_name(incoming.name)
            text = tr(f"evidence.{refused.problem.value}", name=name, ext=extension(name))
            outcomes.append(Outcome(incoming.name, False, text))
            continue
        added = await add_evidence(
            session,
            submission,
            item,
            stored,
            file_name=stored.file_name,
            mime_type=mime_type_of(stored.file_name),
            person_id=person_id,
            now=now,
        )
        size = fmt_size(stored.size, tr.locale)
        key = "contact.received" if added else "contact.duplicate"
        outcomes.append(
            Outcome(stored.file_name, added, tr(key, name=stored.file_name, size=size), stored.size)
        )
    return outcomes
