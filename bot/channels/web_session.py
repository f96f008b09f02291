"""The web chat's session cookie: which chat a browser is, signed so it cannot be forged.

The cookie carries the chat id in the clear and an HMAC-SHA256 of it. Whoever holds the
cookie *is* that chat (as whoever holds a Telegram account is that account), so a browser
must never be able to pick another chat id by editing its cookie: without the key it cannot
make the matching signature. The key is random per process unless one is given, so a
restart ends every web session (the person enters their invite code again; what they
answered is in the database).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

COOKIE_NAME = "cchc_web"
COOKIE_MAX_AGE = 30 * 24 * 3600  # seconds
# What a chat id may look like: short, URL-safe, so it is also safe in logs and paths.
_CHAT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Binds the signature to this use: a MAC of the same key made for something else
# (a download token...) can never pass for a session.
_PURPOSE = b"cchc-web-session:"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_chat_id() -> str:
    """A fresh web chat: 'w' and 96 random bits (unguessable, so never shared by chance)."""
    return "w" + secrets.token_urlsafe(12)


class SessionSigner:
    def __init__(self, key: bytes | None = None) -> None:
        if key is not None and len(key) < 16:
            raise ValueError("a session key needs at least 16 bytes")
        self._key = key or secrets.token_bytes(32)

    def _mac(self, chat_id: str) -> str:
        return _b64(hmac.new(self._key, _PURPOSE + chat_id.encode(), hashlib.sha256).digest())

    def sign(self, chat_id: str) -> str:
        if not _CHAT_ID.fullmatch(chat_id):
            raise ValueError(f"not a valid web chat id: {chat_id!r}")
        return f"{_b64(chat_id.encode())}.{self._mac(chat_id)}"

    def verify(self, value: str | None) -> str | None:
        """The chat id of a genuine cookie; None for a missing, malformed or forged one."""
        if not value or value.count(".") != 1:
            return None
        encoded, mac = value.split(".")
        try:
            chat_id = _unb64(encoded).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        if not _CHAT_ID.fullmatch(chat_id):
            return None
        return chat_id if hmac.compare_digest(mac, self._mac(chat_id)) else None
