"""Evidence files (tài liệu kiểm chứng) on disk, under EVIDENCE_DIR, named by content hash.

Layout: <campaign>/<unit>/<item>/<sha256[:16]>-<file name>. A file is first downloaded to
`.incoming/` and only moved into place once its size, type, content and hash are known:
`keep` refuses an empty file and one whose bytes are not of the type its name claims
(storage.rules.file_content). `safe_name` is the one sanitiser of every file name stored
(evidence, notice attachments, the export's entries).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

from storage.rules.file_content import HEAD_BYTES, ContentProblem, content_problem

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
# UTF-8 bytes of a stored name: with the "<sha256[:16]>-" prefix well within the 255 bytes
# a file name may have (a Vietnamese letter takes 2 or 3).
MAX_NAME_BYTES = 200
_MAX_EXTENSION_BYTES = 16  # a longer "extension" is part of the name
_RESERVED = frozenset('/\\<>:"|?*')  # path separators, and what Windows refuses
# Control and format characters (bidi overrides that flip "gpj.exe"), lone surrogates
# (they cannot be written as UTF-8), private use, line and paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


@dataclass(frozen=True)
class StoredFile:
    relative_path: str
    sha256: str
    size: int
    file_name: str  # the name it was kept under (safe_name of the one given)


class RefusedFile(ValueError):
    """A file `EvidenceStore.keep` will not keep; `problem` says why."""

    def __init__(self, problem: ContentProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def extension(file_name: str) -> str:
    return file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""


def is_allowed(file_name: str) -> bool:
    return extension(file_name) in ALLOWED_EXTENSIONS


def safe_name(name: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """A name safe to store and to show: Vietnamese kept readable (NFC), path separators,
    Windows' reserved characters and unsafe characters replaced by "_", no leading or
    trailing dots or spaces, at most `max_bytes` of UTF-8 with the extension kept, and
    never empty ("file")."""
    name = "".join(
        "_" if ch in _RESERVED or unicodedata.category(ch) in _UNSAFE_CATEGORIES else ch
        for ch in unicodedata.normalize("NFC", name)
    ).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext.encode()) > _MAX_EXTENSION_BYTES:
        stem, dot, ext = name, "", ""
    budget = max_bytes - len(f"{dot}{ext}".encode())
    if len(stem.encode()) > budget:  # cut between whole letters, and no dot before the dot
        stem = stem.encode()[:budget].decode(errors="ignore").rstrip(" .")
    return f"{stem or 'file'}{dot}{ext}"


def check_file(path: Path, file_name: str) -> ContentProblem | None:
    """What is wrong with the file at `path`, to be kept as `file_name`; None if nothing."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    return content_problem(head, path.stat().st_size, extension(file_name))


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
        """Check the downloaded file's content, hash it and move it to its place (same
        content: same path). Raises RefusedFile for an empty file or one whose bytes do
        not match its name's type; the caller discards `temp` then."""
        name = safe_name(file_name)
        problem = check_file(temp, name)
        if problem is not None:
            raise RefusedFile(problem)
        sha256, size = _hash_file(temp)
        parts = [safe_name(part) for part in folder]
        relative = Path(*parts) / f"{sha256[:16]}-{name}"
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, target)
        return StoredFile(relative.as_posix(), sha256, size, name)

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
