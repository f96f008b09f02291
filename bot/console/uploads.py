"""Campaign files uploaded to the console, kept on the server between preview and confirm.

The confirmation of an import never trusts a copy sent back by the browser: the file stays
here under a random id (`secrets.token_urlsafe`), bound to the web session that uploaded
it, and is read again when the admin confirms. Files older than `MAX_AGE` are swept away
on the next upload. Size is limited while the upload streams in.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import BodyPartReader

MAX_AGE = timedelta(hours=1)
SUFFIXES = (".yaml", ".yml", ".xlsx")
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class UploadTooBig(Exception):
    pass


@dataclass(frozen=True)
class Upload:
    id: str
    path: Path
    file_name: str  # as the browser named it (shown, never used as a path)
    web_session_id: int
    created_at: datetime


def suffix_of(file_name: str) -> str | None:
    suffix = Path(file_name).suffix.lower()
    return suffix if suffix in SUFFIXES else None


class UploadStore:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    async def save(
        self, part: BodyPartReader, file_name: str, *, web_session_id: int, now: datetime
    ) -> Upload:
        """Stream the part to disk; UploadTooBig (nothing kept) past `max_bytes`."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.sweep(now)
        upload_id = secrets.token_urlsafe(24)
        path = self.root / f"{upload_id}{suffix_of(file_name) or '.bin'}"
        size = 0
        try:
            with path.open("wb") as out:
                while chunk := await part.read_chunk():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise UploadTooBig()
                    out.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        meta = {
            "path": path.name,
            "file_name": file_name,
            "web_session_id": web_session_id,
            "created_at": now.isoformat(),
        }
        (self.root / f"{upload_id}.json").write_text(json.dumps(meta), encoding="utf-8")
        return Upload(upload_id, path, file_name, web_session_id, now)

    def get(self, upload_id: str, *, web_session_id: int, now: datetime) -> Upload | None:
        """The upload, if this id exists, belongs to this web session and is not too old."""
        if not upload_id or not set(upload_id) <= _ID_CHARS:  # never a path from the form
            return None
        meta_path = self.root / f"{upload_id}.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        created = datetime.fromisoformat(meta["created_at"])
        if meta["web_session_id"] != web_session_id or now - created > MAX_AGE:
            return None
        path = self.root / meta["path"]
        if not path.is_file():
            return None
        return Upload(upload_id, path, meta["file_name"], web_session_id, created)

    def drop(self, upload: Upload) -> None:
        upload.path.unlink(missing_ok=True)
        (self.root / f"{upload.id}.json").unlink(missing_ok=True)

    def sweep(self, now: datetime) -> None:
        for meta_path in self.root.glob("*.json"):
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                stale = now - datetime.fromisoformat(meta["created_at"]) > MAX_AGE
            except (OSError, ValueError, KeyError):
                stale = True
                meta = {}
            if stale:
                if meta.get("path"):
                    (self.root / meta["path"]).unlink(missing_ok=True)
                meta_path.unlink(missing_ok=True)
