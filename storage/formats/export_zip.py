"""A campaign's evidence files (tài liệu kiểm chứng) packed in one ZIP, by unit and item.

Layout: `<unit code> - <unit name>/<item code>/<file name>`, plus a manifest CSV at the
root listing every file with its sha256 and whether it was found intact. Files are copied
one at a time from EVIDENCE_DIR into the archive (in a worker thread, so a bot serving
chats keeps answering), hashing on the way: a file missing on disk or changed since upload
is reported in the manifest instead of stopping the export.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import os
import tempfile
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from common.localtime import zone
from storage.db.models import Campaign
from storage.formats.export_xlsx import (
    EvidenceRecord,
    Progress,
    ProgressTracker,
    count_evidence,
    evidence_records,
)
from storage.rules.answers import Translate
from storage.services.evidence import EvidenceStore, extension, safe_name

# Already compressed formats: deflating them again costs time and saves nothing.
STORED_EXTENSIONS = frozenset(
    [
        "pdf",
        "docx",
        "xlsx",
        "pptx",
        "odt",
        "ods",
        "odp",
        "jpg",
        "jpeg",
        "png",
        "webp",
        "heic",
        "gif",
        "zip",
        "rar",
        "7z",
    ]
)
COPY_BLOCK = 1 << 20
ZipTime = tuple[int, int, int, int, int, int]
ZIP_EPOCH: ZipTime = (1980, 1, 1, 0, 0, 0)  # the earliest time a ZIP entry can carry


@dataclass(frozen=True)
class ZipStats:
    files: int  # packed into the archive
    missing: int  # listed in the database, not on disk
    changed: int  # on disk, but not the bytes that were uploaded
    bytes: int
    manifest_name: str


@dataclass(frozen=True)
class _Packed:
    status: str  # ok | missing | changed
    size: int


class ArchiveNames:
    """Safe, unique paths in the archive; "a.pdf" twice in a folder becomes "a (2).pdf".

    Compared case-insensitively: Windows would otherwise overwrite one with the other.
    """

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, unit_code: str, unit_name: str, item_code: str, file_name: str) -> str:
        folder = f"{safe_name(f'{unit_code} - {unit_name}')}/{safe_name(item_code)}"
        name = safe_name(file_name)
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        candidate, copy = f"{folder}/{name}", 1
        while candidate.casefold() in self._taken:
            copy += 1
            candidate = f"{folder}/{stem} ({copy}){dot}{ext}"
        self._taken.add(candidate.casefold())
        return candidate


def _zip_time(moment: datetime, tz: ZoneInfo) -> ZipTime:
    local = moment.astimezone(tz)
    stamp: ZipTime = (local.year, local.month, local.day, local.hour, local.minute, local.second)
    return max(stamp, ZIP_EPOCH)


def pack_file(
    archive: zipfile.ZipFile,
    source: Path,
    arcname: str,
    *,
    when: ZipTime,
    sha256: str,
    size: int,
) -> _Packed:
    """Copy one file into the archive, hashing it on the way (one read of the file)."""
    try:
        handle = source.open("rb")
    except FileNotFoundError:
        return _Packed("missing", 0)
    info = zipfile.ZipInfo(arcname, date_time=when)
    stored = extension(arcname) in STORED_EXTENSIONS
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    digest, copied = hashlib.sha256(), 0
    with handle, archive.open(info, "w", force_zip64=size >= zipfile.ZIP64_LIMIT) as target:
        while block := handle.read(COPY_BLOCK):
            digest.update(block)
            target.write(block)
            copied += len(block)
    intact = digest.hexdigest() == sha256 and copied == size
    return _Packed("ok" if intact else "changed", copied)


def _csv_text(value: str) -> str:
    """Spreadsheets run a cell starting with = + - @ as a formula: typed names stay text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _manifest_headers(tr: Translate) -> list[str]:
    keys = (
        "zip_path",
        "unit_code",
        "unit_name",
        "item",
        "file_name",
        "size",
        "sha256",
        "uploaded_by",
        "uploaded_at",
        "file_status",
    )
    return [tr(f"export.col.{key}") for key in keys]


def _manifest_row(
    record: EvidenceRecord, arcname: str, packed: _Packed, tz: ZoneInfo, tr: Translate
) -> list[str | int]:
    uploaded = record.uploaded_at.astimezone(tz).strftime("%d/%m/%Y %H:%M")
    return [
        arcname if packed.status != "missing" else "",
        _csv_text(record.unit_code),
        _csv_text(record.unit_name),
        _csv_text(record.item_code),
        _csv_text(record.file_name),
        record.size,
        record.sha256,
        _csv_text(record.uploaded_by),
        uploaded,
        tr(f"export.file_status.{packed.status}"),
    ]


def _add_manifest(archive: zipfile.ZipFile, manifest: IO[str], name: str) -> None:
    # UTF-8 with a BOM: Excel opens it with the Vietnamese letters intact
    manifest.seek(0)
    with archive.open(name, "w") as target:
        target.write("\ufeff".encode())
        while chunk := manifest.read(COPY_BLOCK):
            target.write(chunk.encode())


async def export_evidence_zip(
    session: AsyncSession,
    campaign_id: int,
    path: Path,
    *,
    store: EvidenceStore,
    team_ids: Collection[int] | None = None,
    tr: Translate,
    progress: Progress | None = None,
) -> ZipStats:
    """Pack the campaign's evidence (only `team_ids`' units if given) into `path`."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise LookupError(f"no campaign {campaign_id}")
    tz = zone(campaign.timezone)
    tracker = ProgressTracker(progress, await count_evidence(session, campaign_id, team_ids))
    names, counts = ArchiveNames(), {"ok": 0, "missing": 0, "changed": 0}
    total_bytes = 0
    manifest_name = tr("export.manifest_name")
    partial = path.with_name(path.name + ".part")
    try:
        with (
            zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive,
            tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as manifest,
        ):
            writer = csv.writer(manifest)
            writer.writerow(_manifest_headers(tr))
            async for record in evidence_records(session, campaign_id, team_ids):
                arcname = names.claim(
                    record.unit_code, record.unit_name, record.item_code, record.file_name
                )
                packed = await asyncio.to_thread(
                    pack_file,
                    archive,
                    store.path_of(record.storage_path),
                    arcname,
                    when=_zip_time(record.uploaded_at, tz),
                    sha256=record.sha256,
                    size=record.size,
                )
                counts[packed.status] += 1
                total_bytes += packed.size
                writer.writerow(_manifest_row(record, arcname, packed, tz, tr))
                tracker.advance()
            _add_manifest(archive, manifest, manifest_name)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return ZipStats(
        counts["ok"] + counts["changed"],
        counts["missing"],
        counts["changed"],
        total_bytes,
        manifest_name,
    )
