"""Invite codes: unguessable, short enough to type, tolerant of how people type them."""

from __future__ import annotations

import secrets

# Crockford's base32: no I, L, O, U, so nothing is confused with 1, 0 or V when read aloud.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 13  # 13 x 5 = 65 random bits
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize_code(typed: str) -> str:
    """Upper-case, drop spaces and dashes, map look-alike letters: "k7q2-m9xd..." works."""
    cleaned = "".join(ch for ch in typed.upper() if ch.isalnum())
    return cleaned.translate(_CONFUSABLE)


def looks_like_code(typed: str) -> bool:
    code = normalize_code(typed)
    return len(code) == LENGTH and all(ch in ALPHABET for ch in code)


def format_code(code: str) -> str:
    """Grouped for reading on paper: 7KQ2-M9XD-3HVA-P."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
