"""Self-scores of items scored by hand: reading, steps, offered values (issue 18)."""

from __future__ import annotations

import pytest

from storage.formats.campaign_spec import ItemType
from storage.rules.scoring import is_by_hand, parse_scoring, score
from storage.rules.self_score import on_step, read_self_score, step_choices


@pytest.mark.parametrize(
    ("text", "points", "step", "value", "problem"),
    [
        ("0,75", 1, 0.25, 0.75, None),
        ("0.75", 1, 0.25, 0.75, None),
        ("1", 1, 0.25, 1.0, None),
        ("0", 2, 0.25, 0.0, None),
        ("0,8", 1, 0.25, None, "off_step"),
        ("0,8", 1, 0.1, 0.8, None),
        ("0,3", 1, 0.1, 0.3, None),
        ("1,5", 1, 0.25, None, "above_max"),
        ("-0,25", 1, 0.25, None, "negative"),
        ("một", 1, 0.25, None, "not_number"),
        ("", 1, 0.25, None, "not_number"),
        ("1,5", 1.5, 0.5, 1.5, None),
        ("0,33", 1, 0, 0.33, None),
    ],
)
def test_read_self_score(
    text: str, points: float, step: float, value: float | None, problem: str | None
) -> None:
    check = read_self_score(text, points, step)
    assert (check.value, check.problem) == (value, problem)


@pytest.mark.parametrize(
    ("value", "step", "expected"),
    [(0.75, 0.25, True), (0.7, 0.25, False), (0.3, 0.1, True), (2, 0.5, True), (0.1, 0, True)],
)
def test_on_step(value: float, step: float, expected: bool) -> None:
    assert on_step(value, step) is expected


@pytest.mark.parametrize(
    ("points", "step", "expected"),
    [
        (1, 0.25, [1.0, 0.75, 0.5, 0.25, 0.0]),
        (0.5, 0.25, [0.5, 0.25, 0.0]),
        (1.5, 1, [1.5, 1.0, 0.0]),
        (0, 0.25, [0.0]),
    ],
)
def test_step_choices(points: float, step: float, expected: list[float]) -> None:
    assert step_choices(points, step) == expected


def test_step_choices_spread_keeps_ends() -> None:
    values = step_choices(10, 0.25, limit=9)
    assert len(values) == 9 and values[0] == 10.0 and values[-1] == 0.0


class _Item:
    def __init__(self, type_: ItemType, points: float, scoring: dict | None) -> None:
        self.type, self.points, self.scoring = str(type_), points, scoring


@pytest.mark.parametrize(
    ("kind", "points", "raw", "expected"),
    [
        (ItemType.PERCENT, 2, None, {"rule": "by_hand"}),
        (ItemType.DATE, 1, None, {"rule": "by_hand"}),
        (ItemType.CHOICE, 1, "by_hand", {"rule": "by_hand"}),
        (ItemType.YESNO, 1, "by_hand", {"rule": "by_hand"}),
        (ItemType.YESNO, 1, None, {"rule": "yes"}),
        (ItemType.NUMBER, 0, None, None),
    ],
)
def test_items_without_rule_are_scored_by_hand(
    kind: ItemType, points: float, raw: object, expected: object
) -> None:
    rule, problems = parse_scoring(kind, points, raw)
    assert (rule, problems) == (expected, [])
    item = _Item(kind, points, rule)
    assert is_by_hand(item) is (expected == {"rule": "by_hand"})
    # the answer never scores a hand-scored item: its points come from the appraisal
    assert score(item, True) == (float(points) if rule == {"rule": "yes"} else 0.0)
