"""`score_step` and `explain_days` in the campaign file: defaults, checks, stored policy."""

from __future__ import annotations

import pytest

from common.i18n import Catalog
from storage.formats.campaign_file import format_problem, parse_campaign_text
from storage.formats.campaign_spec import ScoringSettings, scoring_from_dict, scoring_to_dict
from tests.test_campaign_file import BASE, codes, ok

HAND = BASE.replace(
    "        type: yesno\n        points: 1\n",
    "        type: yesno\n        points: 1\n"
    '      - code: "2.1"\n        text: Số tin, bài tuyên truyền\n        type: number\n'
    "        points: 1.5\n",
)


def with_top(text: str, extra: str) -> str:
    return text.replace("deadline: 2021-09-30 17:00\n", f"deadline: 2021-09-30 17:00\n{extra}")


def test_defaults_are_a_quarter_point_and_five_working_days() -> None:
    spec = ok(HAND)
    assert spec.scoring == ScoringSettings(score_step=0.25, explain_days=5)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("score_step: 0.5\n", ScoringSettings(0.5, 5)),
        ('score_step: "0,5"\n', ScoringSettings(0.5, 5)),  # typed the Vietnamese way
        ("score_step: 0.25\nexplain_days: 10\n", ScoringSettings(0.25, 10)),
        ("score_step: 0.1\n", ScoringSettings(0.1, 5)),
    ],
)
def test_accepted_settings(extra: str, expected: ScoringSettings) -> None:
    assert ok(with_top(HAND, extra)).scoring == expected


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("score_step: 0\n", ("bad_score_step", "score_step", 4)),
        ("score_step: -0.25\n", ("bad_score_step", "score_step", 4)),
        ("score_step: 2\n", ("bad_score_step", "score_step", 4)),
        ("score_step: nửa\n", ("expected_number", "score_step", 4)),
        ("score_step: 1\n", ("points_off_step", "score_step", 4)),  # 1.5 is not on 1
        ("score_step: 0.4\n", ("points_off_step", "score_step", 4)),
        ("explain_days: 0\n", ("not_positive", "explain_days", 4)),
        ("explain_days: 61\n", ("too_many", "explain_days", 4)),
    ],
)
def test_refused_settings(extra: str, expected: tuple[str, str, int]) -> None:
    assert expected in codes(with_top(HAND, extra))


def test_a_rule_scored_item_is_not_held_to_the_step() -> None:
    text = with_top(BASE, "score_step: 0.4\n")  # 1.2 is yes/no, scored by its rule
    assert ok(text).scoring.score_step == 0.4


def test_the_step_problem_reads_in_both_languages() -> None:
    catalog = Catalog.load()
    _, problems = parse_campaign_text(with_top(HAND, "score_step: 1\n"), "t.yaml")
    [problem] = [p for p in problems if p.code == "points_off_step"]
    assert "Mục 2.1 chấm thủ công có điểm tối đa 1.5" in format_problem(
        problem, catalog.for_locale("vi")
    )
    assert "Item 2.1, scored by hand, has 1.5 points" in format_problem(
        problem, catalog.for_locale("en")
    )


def test_settings_round_trip_through_the_stored_policy() -> None:
    settings = ScoringSettings(0.5, 7)
    assert scoring_from_dict(scoring_to_dict(settings)) == settings
    assert scoring_from_dict({}) == ScoringSettings()
