"""Files: what people send (documents, photos, stickers), what the bot uploads, getFile."""

from __future__ import annotations

import itertools
import mimetypes
from dataclasses import dataclass
from typing import Any

from tests.fake_telegram.errors import JSON, TelegramError, bad_request

BOT_FILE_LIMIT = 20 * 1024 * 1024  # getFile refuses bigger files for bots
UPLOAD_LIMIT = 50 * 1024 * 1024


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    field: str
    file_name: str
    data: bytes
    content_type: str


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class SentFile:
    """A document or photo the bot uploaded (or re-sent by file_id)."""

    method: str
    chat_id: int
    message_id: int
    file_name: str
    data: bytes
    caption: str | None
    reply_markup: JSON | None


@dataclass(frozen=True)
class Download:
    """A GET of /file/bot<token>/<path>: the bot fetching a file's bytes."""

    file_path: str
    status: int
    peer: tuple[str, int] | None  # the address the request came from


class FileStore:
    """Every file the fake knows, by file_id and by the file_path getFile hands out."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._numbers = itertools.count(1)

    def store(
        self, data: bytes, folder: str, file_name: str | None, mime_type: str | None
    ) -> StoredFile:
        number = next(self._numbers)
        suffix = ("." + file_name.rsplit(".", 1)[-1]) if file_name and "." in file_name else ""
        if folder == "photos":
            suffix = ".jpg"
        stored = StoredFile(
            file_id=f"BQACAgIAAx-fake-{number}",
            file_unique_id=f"AgAD{number:06d}",
            data=data,
            file_path=f"{folder}/file_{number}{suffix}",
            file_name=file_name,
            mime_type=mime_type,
        )
        self._by_id[stored.file_id] = stored
        self._by_path[stored.file_path] = stored
        return stored

    def by_id(self, file_id: str) -> StoredFile | None:
        return self._by_id.get(file_id)

    def by_path(self, file_path: str) -> StoredFile | None:
        return self._by_path.get(file_path)

    def upload(self, value: Any, files: dict[str, UploadedFile], kind: str) -> StoredFile:
        """The file a sendDocument/sendPhoto names: a multipart part (`attach://` or the
        field itself), or the file_id of a file Telegram already has."""
        upload = files.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
        if upload is not None:
            if len(upload.data) > UPLOAD_LIMIT:
                raise TelegramError(413, "Request Entity Too Large")
            if not upload.data:
                raise bad_request("file must be non-empty")
            mime = mimetypes.guess_type(upload.file_name)[0] or "application/octet-stream"
            folder = "photos" if kind == "photo" else "documents"
            return self.store(upload.data, folder, upload.file_name, mime)
        if isinstance(value, str) and value in self._by_id:
            return self._by_id[value]
        if value:
            raise bad_request("wrong file identifier/HTTP URL specified")
        raise bad_request(f"there is no {kind} in the request")

    def get_file(self, file_id: str) -> JSON:
        """getFile's result: where to download the file from."""
        stored = self._by_id.get(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.size > BOT_FILE_LIMIT:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }


def document_json(stored: StoredFile, file_size: int | None = None) -> JSON:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_name": stored.file_name,
        "mime_type": stored.mime_type,
        "file_size": stored.size if file_size is None else file_size,
    }


def photo_size_json(stored: StoredFile, width: int, height: int) -> JSON:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "width": width,
        "height": height,
        "file_size": stored.size,
    }
