"""Does a file's content match its claimed type? Pure: the first bytes and the size in.

The claimed type is the file name's extension: it is what the stored name, the export and
whoever opens the file later rely on. A file is refused when it is empty, or when its first
bytes are not what every file of that type starts with (its "magic number"): a renamed
executable, a truncated download, a web page saved as ".pdf". Types without a signature
(plain text, CSV, XML) must at least look like text: no NUL byte, unless the file starts
with a UTF-16 byte-order mark (Excel's "Unicode text").
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

HEAD_BYTES = 4096  # what the checks look at

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Office 97-2003 (.doc, .xls, .ppt)
_ZIP = b"PK\x03\x04"  # a zip's first entry: .docx, .xlsx, .pptx, OpenDocument, .zip
_EMPTY_ZIP = b"PK\x05\x06"  # a zip without entries: only its end record
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_HEIF_BRANDS = frozenset([b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"])


class ContentProblem(StrEnum):
    EMPTY = "empty"
    MISMATCH = "mismatch"  # the bytes are not of the type the name claims


def _starts(*prefixes: bytes) -> Callable[[bytes], bool]:
    return lambda head: head.startswith(prefixes)


def _webp(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _heif(head: bytes) -> bool:  # HEIC photos (iPhones): an ISO media file of a HEIF brand
    return head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS


def _text(head: bytes) -> bool:
    return head.startswith(_UTF16_BOMS) or b"\x00" not in head


# Every allowed extension (storage/services/evidence.py ALLOWED_EXTENSIONS) has its check.
CHECKS: dict[str, Callable[[bytes], bool]] = {
    "pdf": _starts(b"%PDF-"),
    "png": _starts(b"\x89PNG\r\n\x1a\n"),
    "jpg": _starts(b"\xff\xd8\xff"),
    "jpeg": _starts(b"\xff\xd8\xff"),
    "gif": _starts(b"GIF87a", b"GIF89a"),
    "tif": _starts(b"II*\x00", b"MM\x00*"),
    "tiff": _starts(b"II*\x00", b"MM\x00*"),
    "webp": _webp,
    "heic": _heif,
    "doc": _starts(_OLE),
    "xls": _starts(_OLE),
    "ppt": _starts(_OLE),
    "docx": _starts(_ZIP),
    "xlsx": _starts(_ZIP),
    "pptx": _starts(_ZIP),
    "odt": _starts(_ZIP),
    "ods": _starts(_ZIP),
    "odp": _starts(_ZIP),
    "zip": _starts(_ZIP),
    "rar": _starts(b"Rar!\x1a\x07"),
    "7z": _starts(b"7z\xbc\xaf\x27\x1c"),
    "rtf": _starts(b"{\\rtf"),
    "txt": _text,
    "csv": _text,
    "xml": _text,
}


def content_problem(head: bytes, size: int, extension: str) -> ContentProblem | None:
    """What is wrong with a file of `size` bytes starting with `head` (its first
    HEAD_BYTES, or all of it) and named `*.extension`; None when nothing is. An extension
    without a check is the caller's to refuse (it is not allowed)."""
    if size == 0 or (extension == "zip" and head.startswith(_EMPTY_ZIP)):
        return ContentProblem.EMPTY
    check = CHECKS.get(extension)
    if check is None or not check(head):
        return ContentProblem.MISMATCH
    return None
