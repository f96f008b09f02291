"""Scoring rules: the campaign file's forms, normalised, applied to answers (DOMAIN.md items)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from common.i18n import Catalog
from storage.formats.campaign_spec import ItemSpec, ItemType
from storage.rules.answers import parse_number
from storage.rules.scoring import PROBLEM_PARAMS, fmt_points, parse_scoring, score

ISO = ("Đã áp dụng", "Đang xây dựng", "Chưa áp dụng")
CHANNELS = ("Cổng thông tin", "Báo chí", "Pa-nô", "Hội nghị", "Mạng xã hội")


def scored(kind: ItemType, points: float, raw: Any, options: tuple[str, ...] = ()) -> ItemSpec:
    rule, problems = parse_scoring(kind, points, raw, options)
    assert problems == []
    return ItemSpec("x", "x", kind, options=options, points=points, scoring=rule)


# --- parsing: YAML form -> normalised dict ------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "points", "raw", "options", "expected"),
    [
        (ItemType.YESNO, 1, "yes", (), {"rule": "yes"}),
        (ItemType.YESNO, 1, True, (), {"rule": "yes"}),  # YAML 1.1 reads yes as true
        (ItemType.YESNO, 1, None, (), {"rule": "yes"}),  # the default for yes/no
        (ItemType.YESNO, 0, None, (), None),  # no points: not scored
        (ItemType.TEXT, 0, None, (), None),
        (ItemType.NUMBER, 0, None, (), None),
        (ItemType.DATE, 1, "answered", (), {"rule": "answered"}),
        (
            ItemType.PERCENT,
            2,
            {"thresholds": {70: 1, 90: 2}},
            (),
            {"rule": "at_least", "steps": [[90.0, 2.0], [70.0, 1.0]]},
        ),
        (
            ItemType.PERCENT,
            1,
            {"at_least": {"100%": 1, "80,5": 0.5}},
            (),
            {"rule": "at_least", "steps": [[100.0, 1.0], [80.5, 0.5]]},
        ),
        (
            ItemType.NUMBER,
            1,
            {"at_most": {2: 0.5, 0: 1}},
            (),
            {"rule": "at_most", "steps": [[0.0, 1.0], [2.0, 0.5]]},
        ),
        (
            ItemType.DATE,
            1,
            {"on_or_before": date(2020, 12, 31), "late": 0.5},
            (),
            {"rule": "on_or_before", "date": "2020-12-31", "late": 0.5},
        ),
        (
            ItemType.DATE,
            1,
            {"on_or_before": "31/12/2020"},
            (),
            {"rule": "on_or_before", "date": "2020-12-31", "late": 0.0},
        ),
        (
            ItemType.CHOICE,
            0.5,
            {"choices": {"đã áp dụng": 0.5}},
            ISO,  # matched w/o case
            {"rule": "choices", "points": {"Đã áp dụng": 0.5}},
        ),
        (
            ItemType.MULTI,
            1,
            {"choices": {"Báo chí": 0.5, "Pa-nô": 0.25}},
            CHANNELS,
            {"rule": "choices", "points": {"Báo chí": 0.5, "Pa-nô": 0.25}},
        ),
        (ItemType.MULTI, 1, {"each": 0.25}, CHANNELS, {"rule": "each", "points": 0.25}),
        (
            ItemType.MULTI,
            1,
            {"thresholds": {3: 1, 1: 0.5}},
            CHANNELS,
            {"rule": "at_least", "steps": [[3.0, 1.0], [1.0, 0.5]]},
        ),
        (ItemType.PERCENT, 1.5, {"proportional": 70}, (), {"rule": "proportional", "target": 70.0}),
        (ItemType.NUMBER, 1, {"proportional": "12"}, (), {"rule": "proportional", "target": 12.0}),
    ],
)
def test_parse_scoring_valid(
    kind: ItemType, points: float, raw: Any, options: tuple[str, ...], expected: Any
) -> None:
    assert parse_scoring(kind, points, raw, options) == (expected, [])


@pytest.mark.parametrize(
    ("kind", "points", "raw", "options", "code", "path"),
    [
        (ItemType.TEXT, 1, None, (), "scoring_text", ()),
        (ItemType.TEXT, 0, "yes", (), "scoring_text", ()),
        (ItemType.YESNO, 1, "no", (), "scoring_unknown_form", ()),
        (ItemType.YESNO, 1, 5, (), "scoring_unknown_form", ()),
        (ItemType.PERCENT, 1, {"threshold": {90: 1}}, (), "scoring_unknown_form", ()),
        (ItemType.PERCENT, 1, "yes", (), "scoring_wrong_type", ()),
        (ItemType.CHOICE, 1, {"thresholds": {1: 1}}, ISO, "scoring_wrong_type", ()),
        (ItemType.DATE, 1, {"proportional": 70}, (), "scoring_wrong_type", ()),
        (
            ItemType.PERCENT,
            1,
            {"thresholds": {90: 1}, "proportional": 70},
            (),
            "scoring_several_forms",
            (),
        ),
        (ItemType.PERCENT, 1, {"thresholds": {90: 1}, "late": 0.5}, (), "unknown_key", ("late",)),
        (ItemType.PERCENT, 1, {"thresholds": {}}, (), "scoring_empty", ("thresholds",)),
        (ItemType.PERCENT, 1, {"thresholds": [90, 1]}, (), "expected_mapping", ("thresholds",)),
        (
            ItemType.PERCENT,
            1,
            {"thresholds": {"cao": 1}},
            (),
            "scoring_bad_threshold",
            ("thresholds", "cao"),
        ),
        (
            ItemType.PERCENT,
            1,
            {"thresholds": {90: 1, "90%": 1}},
            (),
            "scoring_duplicate_threshold",
            ("thresholds", "90%"),
        ),
        (
            ItemType.PERCENT,
            1,
            {"thresholds": {120: 1}},
            (),
            "scoring_threshold_range",
            ("thresholds", 120),
        ),
        (
            ItemType.MULTI,
            1,
            {"thresholds": {6: 1}},
            CHANNELS,
            "scoring_threshold_range",
            ("thresholds", 6),
        ),
        (
            ItemType.PERCENT,
            1,
            {"thresholds": {90: "một"}},
            (),
            "scoring_bad_points",
            ("thresholds", 90),
        ),
        (
            ItemType.PERCENT,
            1,
            {"thresholds": {90: -1}},
            (),
            "scoring_bad_points",
            ("thresholds", 90),
        ),
        (
            ItemType.PERCENT,
            1,
            {"thresholds": {90: 2}},
            (),
            "scoring_points_above_max",
            ("thresholds", 90),
        ),
        (
            ItemType.PERCENT,
            2,
            {"thresholds": {90: 1, 70: 2}},
            (),
            "scoring_not_monotonic",
            ("thresholds",),
        ),
        (
            ItemType.NUMBER,
            1,
            {"at_most": {0: 0.5, 2: 1}},
            (),
            "scoring_not_monotonic",
            ("at_most",),
        ),
        (
            ItemType.CHOICE,
            1,
            {"choices": {"Khác": 1}},
            ISO,
            "scoring_unknown_option",
            ("choices", "Khác"),
        ),
        (ItemType.PERCENT, 1, {"proportional": 0}, (), "scoring_bad_target", ("proportional",)),
        (ItemType.PERCENT, 1, {"proportional": 120}, (), "scoring_bad_target", ("proportional",)),
        (
            ItemType.DATE,
            1,
            {"on_or_before": "31/02/2021"},
            (),
            "scoring_bad_date",
            ("on_or_before",),
        ),
        (
            ItemType.DATE,
            1,
            {"on_or_before": date(2020, 12, 31), "late": 1.5},
            (),
            "scoring_points_above_max",
            ("late",),
        ),
        (ItemType.MULTI, 1, {"each": 2}, CHANNELS, "scoring_points_above_max", ("each",)),
    ],
)
def test_parse_scoring_problems(
    kind: ItemType,
    points: float,
    raw: Any,
    options: tuple[str, ...],
    code: str,
    path: tuple[Any, ...],
) -> None:
    rule, problems = parse_scoring(kind, points, raw, options)
    assert rule is None
    assert [(p.code, p.path) for p in problems] == [(code, path)]
    assert set(problems[0].params) == set(PROBLEM_PARAMS[code])


def test_several_problems_in_one_rule_are_all_reported() -> None:
    _, problems = parse_scoring(ItemType.PERCENT, 1, {"thresholds": {"x": 1, 90: 5}}, ())
    assert [p.code for p in problems] == ["scoring_bad_threshold", "scoring_points_above_max"]


def test_normalised_rule_is_json_able() -> None:
    import json

    rule, _ = parse_scoring(ItemType.DATE, 1, {"on_or_before": date(2020, 12, 31)}, ())
    assert json.loads(json.dumps(rule)) == rule


# --- scoring answers ------------------------------------------------------------------------

# DOMAIN.md 1.1: plan issued on/before 31/12 of the previous year: 1; later: 0.5; none: 0
ITEM_1_1 = scored(ItemType.DATE, 1, {"on_or_before": date(2020, 12, 31), "late": 0.5})
# 1.3: ≥90%: 2; 70-90%: 1; <70%: 0
ITEM_1_3 = scored(ItemType.PERCENT, 2, {"thresholds": {90: 2, 70: 1}})
# 1.5: 100%: 1; ≥80%: 0.5
ITEM_1_5 = scored(ItemType.PERCENT, 1, {"thresholds": {100: 1, 80: 0.5}})
# 1.2: yes/no with the default rule
ITEM_1_2 = scored(ItemType.YESNO, 1, None)
# 4.1 / 6.1: having the decision is enough
ITEM_4_1 = scored(ItemType.DATE, 1, "answered")
# 5.2: 0 disciplined officers: 1
ITEM_5_2 = scored(ItemType.NUMBER, 1, {"at_most": {0: 1}})
ITEM_5_2_GRADED = scored(ItemType.NUMBER, 1, {"at_most": {0: 1, 2: 0.5}})
# 7.1: proportional to the 70% target
ITEM_7_1 = scored(ItemType.PERCENT, 1.5, {"proportional": 70})
# 7.3: choice, "Đã áp dụng": 0.5
ITEM_7_3 = scored(
    ItemType.CHOICE, 0.5, {"choices": {"Đã áp dụng": 0.5, "Đang xây dựng": 0.25}}, ISO
)
# multi: points per chosen channel, capped at the item's points
ITEM_EACH = scored(ItemType.MULTI, 1, {"each": 0.25}, CHANNELS)
ITEM_MULTI_CHOICES = scored(
    ItemType.MULTI,
    1,
    {"choices": {"Cổng thông tin": 0.5, "Báo chí": 0.5, "Pa-nô": 0.25}},
    CHANNELS,
)
ITEM_MULTI_COUNT = scored(ItemType.MULTI, 1, {"thresholds": {3: 1, 1: 0.5}}, CHANNELS)
ITEM_9_1 = ItemSpec("9.1", "Kiến nghị", ItemType.TEXT)


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        (ITEM_1_1, "2020-12-15", 1),
        (ITEM_1_1, "2020-12-31", 1),  # on the day counts
        (ITEM_1_1, "2021-01-04", 0.5),
        (ITEM_1_1, None, 0),
        (ITEM_1_1, "garbage", 0),
        (ITEM_1_2, True, 1),
        (ITEM_1_2, False, 0),
        (ITEM_1_3, 95, 2),
        (ITEM_1_3, 90, 2),
        (ITEM_1_3, 89.99, 1),
        (ITEM_1_3, 70, 1),
        (ITEM_1_3, 69.5, 0),
        (ITEM_1_3, None, 0),
        (ITEM_1_5, 100, 1),
        (ITEM_1_5, 85, 0.5),
        (ITEM_1_5, 79, 0),
        (ITEM_4_1, "2019-05-10", 1),
        (ITEM_4_1, None, 0),
        (ITEM_5_2, 0, 1),
        (ITEM_5_2, 1, 0),
        (ITEM_5_2_GRADED, 0, 1),
        (ITEM_5_2_GRADED, 2, 0.5),
        (ITEM_5_2_GRADED, 3, 0),
        (ITEM_7_1, 70, 1.5),
        (ITEM_7_1, 85, 1.5),  # never above the item's points
        (ITEM_7_1, 35, 0.75),
        (ITEM_7_1, 65, 1.3929),  # 1.5 * 65/70, rounded to 4 decimals
        (ITEM_7_1, 0, 0),
        (ITEM_7_3, "Đã áp dụng", 0.5),
        (ITEM_7_3, "Đang xây dựng", 0.25),
        (ITEM_7_3, "Chưa áp dụng", 0),
        (ITEM_EACH, [], 0),
        (ITEM_EACH, ["Báo chí", "Pa-nô"], 0.5),
        (ITEM_EACH, list(CHANNELS), 1),  # 5 x 0.25 capped at 1
        (ITEM_MULTI_CHOICES, ["Cổng thông tin", "Pa-nô"], 0.75),
        (ITEM_MULTI_CHOICES, ["Cổng thông tin", "Báo chí", "Pa-nô"], 1),  # capped
        (ITEM_MULTI_COUNT, ["Báo chí"], 0.5),
        (ITEM_MULTI_COUNT, ["Báo chí", "Pa-nô", "Hội nghị"], 1),
        (ITEM_MULTI_COUNT, [], 0),
        (ITEM_9_1, "Thiếu kinh phí", 0),
        # wrong shapes never raise and score 0
        (ITEM_1_3, True, 0),
        (ITEM_1_3, "95", 0),
        (ITEM_1_2, "yes", 0),
        (ITEM_7_3, ["Đã áp dụng"], 0.5),
        (ITEM_1_1, 20201231, 0),
    ],
)
def test_score(spec: ItemSpec, value: Any, expected: float) -> None:
    assert score(spec, value) == expected


def test_score_applies_the_yesno_default_when_no_rule_is_stored() -> None:
    # an item written by another importer (e.g. Excel) without a normalised rule
    assert score(ItemSpec("4.2", "x", ItemType.YESNO, points=1), True) == 1
    assert score(ItemSpec("6.2", "x", ItemType.PERCENT, points=1), 99) == 0


def test_score_reads_rules_as_stored_in_json() -> None:
    # the DB gives back plain lists and dicts, and an unknown rule scores nothing
    row = ItemSpec(
        "x",
        "x",
        ItemType.PERCENT,
        points=2,
        scoring={"rule": "at_least", "steps": [[90, 2], [70, 1]]},
    )
    assert score(row, 75) == 1
    odd = ItemSpec("x", "x", ItemType.PERCENT, points=2, scoring={"rule": "future_rule"})
    assert score(odd, 75) == 0


_CATALOG = Catalog.load()


@pytest.mark.parametrize(
    ("value", "vi", "en"),
    [
        (0.5, "0,5", "0.5"),
        (15.123, "15,12", "15.12"),  # at most two decimals
        (15.126, "15,13", "15.13"),
        (2.0, "2", "2"),
        (0, "0", "0"),
        (1234.5, "1.234,5", "1,234.5"),
    ],
)
def test_scores_read_as_each_language_writes_them(value: float, vi: str, en: str) -> None:
    # Issue 19: "0,5 điểm" in Vietnamese, "0.5" in English.
    assert fmt_points(value, _CATALOG.for_locale("vi")) == vi
    assert fmt_points(value, _CATALOG.for_locale("en")) == en


@pytest.mark.parametrize("typed", ["0,5", "0.5"])
def test_a_leader_may_type_a_score_either_way(typed: str) -> None:
    assert parse_number(typed, dot_may_group=False) == 0.5
