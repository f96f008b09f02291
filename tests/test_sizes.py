"""File sizes as shown to people: never less than the file, decimal comma in Vietnamese."""

from __future__ import annotations

import pytest

from common.sizes import fmt_size

MB = 1024 * 1024


@pytest.mark.parametrize(
    ("size", "vi", "en"),
    [
        (0, "0 B", "0 B"),
        (1, "1 B", "1 B"),
        (850, "850 B", "850 B"),  # not "0 KB", not "1 KB"
        (1023, "1023 B", "1023 B"),
        (1024, "1 KB", "1 KB"),
        (1025, "1,1 KB", "1.1 KB"),  # rounded up: never less than the file
        (1536, "1,5 KB", "1.5 KB"),
        (99 * 1024 + 1, "99,1 KB", "99.1 KB"),
        (100 * 1024, "100 KB", "100 KB"),
        (100 * 1024 + 1, "101 KB", "101 KB"),
        (MB, "1 MB", "1 MB"),
        (3 * MB // 2, "1,5 MB", "1.5 MB"),
        (20 * MB, "20 MB", "20 MB"),
        (20 * MB + 1, "20,1 MB", "20.1 MB"),  # over a 20 MB limit reads as over it
        (5 * 1024 * MB, "5 GB", "5 GB"),
        (2048 * 1024 * MB, "2048 GB", "2048 GB"),
    ],
)
def test_fmt_size(size: int, vi: str, en: str) -> None:
    assert (fmt_size(size, "vi"), fmt_size(size, "en")) == (vi, en)
