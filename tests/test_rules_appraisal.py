"""Appraisal in two rounds (issue 18), as tables."""

from __future__ import annotations

from datetime import date

import pytest

from storage.rules.appraisal import (
    ItemAppraisal,
    Stage,
    current_score,
    disputed,
    explanation_deadline,
    is_final,
    stage,
    total,
)

A = ItemAppraisal


@pytest.mark.parametrize(
    ("item", "closed", "expected_stage", "score"),
    [
        (A("1.1", 1, 0.75), False, Stage.SELF, 0.75),
        (A("1.1", 1, None), False, Stage.SELF, 0.0),
        (A("1.1", 1, 0.75, appraised=True), False, Stage.APPRAISED, 0.75),
        (A("1.1", 1, 0.75, 1.0, appraised=True), False, Stage.APPRAISED, 1.0),  # marked up
        (A("1.1", 1, 0.75, 0.25, appraised=True), False, Stage.MARKED_DOWN, 0.25),
        (A("1.1", 1, 0.75, 0.25, appraised=True), True, Stage.APPRAISED, 0.25),
        (A("1.1", 1, 0.75, 0.25, True, True), False, Stage.EXPLAINED, 0.25),
        (A("1.1", 1, 0.75, 0.25, True, True, 0.5), False, Stage.FINAL, 0.5),
        (A("1.1", 1, 0.75, 0.25, True, True, 0.25), False, Stage.FINAL, 0.25),  # confirmed
        (A("1.1", 1, 2.0), False, Stage.SELF, 1.0),  # never above points
    ],
)
def test_stage_and_score(
    item: ItemAppraisal, closed: bool, expected_stage: Stage, score: float
) -> None:
    assert stage(item, explanations_closed=closed) is expected_stage
    assert current_score(item) == score


def test_rounds_of_one_unit() -> None:
    items = [
        A("1.1", 1, 1.0, appraised=True),
        A("1.3", 2, 2.0, 1.0, appraised=True, explained=True),
        A("3.2", 2, 1.0, 0.5, appraised=True),
    ]
    assert [i.code for i in disputed(items)] == ["1.3"]
    assert not is_final(items, explanations_closed=True)  # 1.3 waits for round 2
    assert total(items) == (2.5, 5.0)
    items[1] = A("1.3", 2, 2.0, 1.0, True, True, 1.5)
    assert is_final(items, explanations_closed=True)
    assert not is_final(items, explanations_closed=False)  # 3.2 may still be explained
    assert total(items) == (3.0, 5.0)
    assert not is_final([], explanations_closed=True)


@pytest.mark.parametrize(
    ("sent", "days", "last"),
    [
        (date(2021, 9, 6), 5, date(2021, 9, 13)),  # Monday -> next Monday
        (date(2021, 9, 10), 1, date(2021, 9, 13)),  # Friday -> Monday
        (date(2021, 9, 11), 1, date(2021, 9, 13)),  # sent on a Saturday
        (date(2021, 9, 1), 5, date(2021, 9, 10)),  # 2-3/9 National Day holidays skipped
        (date(2024, 4, 26), 2, date(2024, 5, 3)),  # 29/4 (swapped), 30/4, 1/5 are off
        (date(2021, 9, 6), 0, date(2021, 9, 7)),  # at least one working day
    ],
)
def test_explanation_deadline_counts_working_days(sent: date, days: int, last: date) -> None:
    assert explanation_deadline(sent, days) == last
