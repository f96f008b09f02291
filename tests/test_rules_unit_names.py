"""Short unit names for the summary's buttons, and keyboards laid out evenly (issue 19)."""

from __future__ import annotations

import unicodedata

import pytest

from handlers.cards import even_rows
from storage.rules.unit_names import BUTTON_NAME_MAX, short_unit_name


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("Ủy ban nhân dân Quận 5", "UBND Quận 5"),
        ("Uỷ ban nhân dân huyện Hóc Môn", "UBND huyện Hóc Môn"),
        ("Văn phòng Ủy ban nhân dân Thành phố", "VP UBND TP"),
        ("Ủy ban nhân dân thành phố Thủ Đức", "UBND TP Thủ Đức"),
        ("Sở Tư pháp", "Sở Tư pháp"),
        ("Sở Kế hoạch và Đầu tư", "Sở Kế hoạch & Đầu tư"),
        ("Sở Thông tin và Truyền thông", "Sở Thông tin & Truy…"),
        ("  Cục   Thuế Thành phố ", "Cục Thuế TP"),
        (unicodedata.normalize("NFD", "Ủy ban nhân dân Quận 8"), "UBND Quận 8"),
    ],
)
def test_short_unit_names(name: str, short: str) -> None:
    assert short_unit_name(name) == short
    assert len(short_unit_name(name)) <= BUTTON_NAME_MAX


@pytest.mark.parametrize(
    ("count", "per_row", "lengths"),
    [
        (0, 2, []),
        (1, 2, [1]),
        (4, 2, [2, 2]),
        (5, 2, [2, 2, 1]),
        (5, 4, [3, 2]),  # not 4 + a stray 1
        (23, 4, [4, 4, 4, 4, 4, 3]),
        (9, 4, [3, 3, 3]),
    ],
)
def test_even_rows(count: int, per_row: int, lengths: list[int]) -> None:
    rows = even_rows(list(range(count)), per_row)
    assert [len(r) for r in rows] == lengths
    assert [x for r in rows for x in r] == list(range(count))  # order kept
