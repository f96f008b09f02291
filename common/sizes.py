"""File sizes as people read them, never smaller than the file: 850 B, 1,5 KB, 20,1 MB."""

from __future__ import annotations

from common.i18n import DEFAULT_LOCALE

STEP = 1024  # KB, MB, GB of 1024, as Telegram, Windows and Zalo show them
UNITS = ("B", "KB", "MB", "GB")
_DECIMAL_MARK = {"vi": ","}  # Vietnamese writes 1,5 MB; others 1.5 MB


def fmt_size(size: int, locale: str = DEFAULT_LOCALE) -> str:
    """Under 1 KB the bytes themselves; above, the largest unit that keeps the number
    at least 1, with one decimal under 100 and none from 100 on, ROUNDED UP: a shown size
    is never less than the file, so a file one byte over a 20 MB limit reads "20,1 MB"
    (not "20 MB"), and no kept file ever reads "0 KB". A trailing ",0" is dropped."""
    unit = 0
    while unit < len(UNITS) - 1 and size >= STEP ** (unit + 1):
        unit += 1
    if unit == 0:
        return f"{size} B"
    divisor = STEP**unit
    tenths = -(-size * 10 // divisor)  # integer ceiling: no float rounding
    if tenths >= 1000:
        return f"{-(-size // divisor)} {UNITS[unit]}"
    whole, tenth = divmod(tenths, 10)
    mark = _DECIMAL_MARK.get(locale, ".")
    return f"{whole}{mark}{tenth} {UNITS[unit]}" if tenth else f"{whole} {UNITS[unit]}"
