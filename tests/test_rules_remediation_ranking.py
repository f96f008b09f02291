"""Fix due dates, remediation rates and ranking with ties (issue 18), as tables."""

from __future__ import annotations

from datetime import date

import pytest

from storage.rules.ranking import percent_of, rank_units
from storage.rules.remediation import fix_due_date, remediation_rate


@pytest.mark.parametrize(
    ("concluded", "days", "due"),
    [
        (date(2021, 10, 4), 15, date(2021, 10, 19)),  # Monday + 15 = Tuesday
        (date(2021, 10, 1), 15, date(2021, 10, 18)),  # lands on Saturday 16 -> Monday 18
        (date(2021, 10, 2), 15, date(2021, 10, 18)),  # Sunday 17 -> Monday 18
        (date(2024, 4, 16), 15, date(2024, 5, 2)),  # 1/5 Labour Day -> 2/5
        (date(2024, 8, 17), 15, date(2024, 9, 4)),  # 1/9 Sunday, 2/9 and 3/9 holidays
        (date(2021, 10, 4), 0, date(2021, 10, 4)),
    ],
)
def test_fix_due_date(concluded: date, days: int, due: date) -> None:
    assert fix_due_date(concluded, days) == due


def test_fix_due_date_default_is_15_days() -> None:
    assert fix_due_date(date(2021, 10, 4)) == date(2021, 10, 19)


@pytest.mark.parametrize(
    ("fixed", "total", "rate"),
    [(4, 6, 66.67), (6, 6, 100.0), (0, 3, 0.0), (0, 0, None), (7, 6, 100.0)],
)
def test_remediation_rate(fixed: int, total: int, rate: float | None) -> None:
    assert remediation_rate(fixed, total) == rate


@pytest.mark.parametrize(
    ("score", "maximum", "percent"),
    [(91.59, 100, 91.59), (7, 8, 87.5), (2, 3, 66.67), (1, 0, None)],
)
def test_percent_of(score: float, maximum: float, percent: float | None) -> None:
    assert percent_of(score, maximum) == percent


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [("A", 8, 10), ("B", 9, 10), ("C", 8, 10), ("D", 5, 10)],
            [("B", 1, False), ("A", 2, True), ("C", 2, True), ("D", 4, False)],
        ),
        (
            [("A", 4, 5), ("B", 8, 10), ("C", 1, 0)],  # 80% both: tied; C has no maximum
            [("A", 1, True), ("B", 1, True), ("C", None, False)],
        ),
        ([("A", 2, 3), ("B", 2.0001, 3)], [("A", 1, True), ("B", 1, True)]),  # 66,67% both
        ([], []),
    ],
)
def test_rank_units_with_ties(
    rows: list[tuple[str, float, float]], expected: list[tuple[str, int | None, bool]]
) -> None:
    assert [(r.unit, r.rank, r.tied) for r in rank_units(rows)] == expected
