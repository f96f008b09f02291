"""Evidence files (tài liệu kiểm chứng) on disk, under EVIDENCE_DIR, named by content hash.

Layout: <campaign>/<unit>/<item>/<sha256[:16]>-<file name>. A file is first downloaded to
`.incoming/` and only moved into place once its size, type and hash are known.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

# Office documents, PDFs, pictures and archives: what units attach as proof. Executables
# and scripts are refused.
ALLOWED_EXTENSIONS = frozenset(
    [
        "pdf",
        "doc",
        "docx",
        "xls",
        "xlsx",
        "ppt",
        "pptx",
        "odt",
        "ods",
        "odp",
        "rtf",
        "txt",
        "csv",
        "jpg",
        "jpeg",
        "png",
        "webp",
        "heic",
        "gif",
        "tif",
        "tiff",
        "zip",
        "rar",
        "7z",
        "xml",
    ]
)
MAX_NAME_LENGTH = 120


@dataclass(frozen=True)
class StoredFile:
    relative_path: str
    sha256: str
    size: int


def extension(file_name: str) -> str:
    return file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""


def is_allowed(file_name: str) -> bool:
    return extension(file_name) in ALLOWED_EXTENSIONS


def safe_name(name: str) -> str:
    """Keep Vietnamese letters readable but drop path separators and control characters."""
    name = unicodedata.normalize("NFC", name).replace("/", "_").replace("\\", "_")
    name = re.sub(r"[\x00-\x1f<>:\"|?*]", "_", name).strip(" .") or "file"
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        keep = MAX_NAME_LENGTH - len(ext) - 1
        name = (stem[:keep] + dot + ext) if dot else name[:MAX_NAME_LENGTH]
    return name


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


class EvidenceStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def incoming_path(self) -> Path:
        incoming = self.root / ".incoming"
        if not incoming.is_dir():  # (a stat; mkdir of an existing folder costs more)
            incoming.mkdir(parents=True, exist_ok=True)
        return incoming / uuid.uuid4().hex

    def keep(self, temp: Path, *, folder: tuple[str, ...], file_name: str) -> StoredFile:
        """Hash the downloaded file and move it to its place (same content: same path)."""
        sha256, size = _hash_file(temp)
        parts = [safe_name(part) for part in folder]
        relative = Path(*parts) / f"{sha256[:16]}-{safe_name(file_name)}"
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, target)
        return StoredFile(relative.as_posix(), sha256, size)

    async def keep_off_loop(
        self, temp: Path, *, folder: tuple[str, ...], file_name: str
    ) -> StoredFile:
        """`keep` in a worker thread: hashing a 20 MB file, creating folders and moving it
        take milliseconds of disk work that would stall every other chat on the loop."""
        return await asyncio.to_thread(self.keep, temp, folder=folder, file_name=file_name)

    def discard(self, temp: Path) -> None:
        temp.unlink(missing_ok=True)

    def path_of(self, relative_path: str) -> Path:
        return self.root / relative_path
