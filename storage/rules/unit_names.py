"""Short unit names for buttons a leader reads on a phone: "UBND Quận 5", not "Q5" (a code
means nothing to most readers) and not "Ủy ban nhân dân Quận 5" (too wide for a button).

The abbreviations are the ones Vietnamese administrative writing itself uses (UBND, TP,
VP, HĐND); what is still too long is cut with "…".
"""

from __future__ import annotations

import re
import unicodedata

BUTTON_NAME_MAX = 20  # characters: two buttons side by side on a 390 px screen

_ABBREVIATIONS = (
    (re.compile(r"\b[UỦ][ỷy] ban nhân dân\b", re.IGNORECASE), "UBND"),
    (re.compile(r"\bHội đồng nhân dân\b", re.IGNORECASE), "HĐND"),
    (re.compile(r"\bVăn phòng\b", re.IGNORECASE), "VP"),
    (re.compile(r"\bThành phố\b", re.IGNORECASE), "TP"),
    (re.compile(r"\s+và\s+"), " & "),
)


def short_unit_name(name: str, limit: int = BUTTON_NAME_MAX) -> str:
    """The unit's name in at most `limit` characters, abbreviated the usual way."""
    # NFC first: "Ủy" typed with a combining hook must match like the precomposed one.
    short = " ".join(unicodedata.normalize("NFC", name).split())
    for pattern, abbreviation in _ABBREVIATIONS:
        short = pattern.sub(abbreviation, short)
    if len(short) <= limit:
        return short
    return short[: limit - 1].rstrip() + "…"
