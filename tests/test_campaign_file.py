"""The campaign file: the example parses; every problem of a broken file is found, located."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from common.i18n import Catalog
from storage.formats.campaign_file import (
    PROBLEM_PARAMS,
    format_problem,
    load_campaign_file,
    parse_campaign_text,
)
from storage.formats.campaign_spec import CampaignSpec, InspectionForm, ItemType, Problem

EXAMPLE = Path(__file__).parent.parent / "examples" / "hcmc-2021-team1.yaml"

BASE = """\
code: KT-TEST
title: Kiểm tra thử
deadline: 2021-09-30 17:00
teams:
  - code: D1
    name: Đoàn 1
units:
  - code: SNV
    name: Sở Nội vụ
checklist:
  - section: "1. Chỉ đạo, điều hành"
    items:
      - code: "1.2"
        text: Kế hoạch bố trí kinh phí
        type: yesno
        points: 1
"""


I0 = "checklist[0].items[0]"  # the base file's only item


def parse(text: str) -> tuple[CampaignSpec | None, list[Problem]]:
    return parse_campaign_text(text, "test.yaml")


def ok(text: str) -> CampaignSpec:
    spec, problems = parse(text)
    assert problems == []
    assert spec is not None
    return spec


def codes(text: str) -> list[tuple[str, str, int | None]]:
    spec, problems = parse(text)
    assert spec is None and problems
    return [(p.code, p.where, p.line) for p in problems]


# --- the example ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example() -> CampaignSpec:
    spec, problems = load_campaign_file(EXAMPLE)
    assert problems == []
    assert spec is not None
    return spec


def test_example_has_the_23_units_of_hcmc_2021_team_1(example: CampaignSpec) -> None:
    assert example.code == "KT2021-D1"
    assert len(example.units) == 23
    names = {u.name for u in example.units}
    assert {"Sở Nội vụ", "Cục Thuế Thành phố", "Ủy ban nhân dân huyện Hóc Môn"} <= names
    assert {u.team for u in example.units} == {"D1"}
    assert all(1 <= u.contacts <= 3 for u in example.units)
    assert [(t.code, t.leaders, t.members) for t in example.teams] == [("D1", 1, 2)]


def test_example_times_are_local_converted_to_utc(example: CampaignSpec) -> None:
    assert example.deadline == datetime(2021, 9, 30, 10, 0, tzinfo=UTC)  # 17:00 in Vietnam
    by_code = {u.code: u for u in example.units}
    assert by_code["CTHUE"].deadline == datetime(2021, 10, 5, 10, 0, tzinfo=UTC)
    assert by_code["SNV"].deadline is None  # the campaign deadline applies
    q5, q8 = by_code["Q5"], by_code["Q8"]
    assert q5.form is InspectionForm.DIRECT and q5.visit and q5.visit.announced
    assert q5.visit.at == datetime(2021, 10, 5, 1, 30, tzinfo=UTC)
    assert q8.visit and not q8.visit.announced
    others = [u for u in example.units if u.code not in ("Q5", "Q8")]
    assert all(u.form is InspectionForm.REPORT and u.visit is None for u in others)


def test_example_checklist_uses_every_type_and_every_scoring_form(example: CampaignSpec) -> None:
    items = example.items()
    assert len(items) >= 20
    assert {i.type for i in items} == set(ItemType)
    rules = {i.scoring["rule"] for i in items if i.scoring}
    assert rules == {
        "yes",
        "answered",
        "at_least",
        "at_most",
        "on_or_before",
        "choices",
        "each",
        "proportional",
    }
    assert len({i.code for i in items}) == len(items)
    assert all(i.help for i in items if i.code in ("1.1", "1.3", "3.2"))


def test_example_policy(example: CampaignSpec) -> None:
    policy = example.policy
    assert policy.reminders == (
        timedelta(days=7),
        timedelta(days=3),
        timedelta(days=1),
        timedelta(hours=2),
    )
    assert (policy.quiet_start, policy.quiet_end) == (time(21), time(7))
    assert policy.summary_at == "mon-fri 08:00"
    assert policy.working_days_only


# --- a broken file: every problem at once, each located ------------------------------------

BROKEN = """\
code: KT-BROKEN
title: Tệp lỗi
deadline: 2021-02-31 17:00
remindrs: [7d]
teams:
  - code: D1
    name: Đoàn 1
units:
  - code: SNV
    name: Sở Nội vụ
    team: D9
  - code: STC
checklist:
  - section: A
    items:
      - code: "1.1"
        text: Ban hành kế hoạch
        type: date
        points: 1
        scoring: {on_or_before: 2020-12-31}
      - code: "1.1"
        text: Trùng mã
        type: percentage
"""


def test_broken_file_reports_every_problem_with_its_line() -> None:
    assert codes(BROKEN) == [
        ("bad_datetime", "deadline", 3),
        ("unknown_key_did_you_mean", "remindrs", 4),
        ("unknown_team", "units[0].team", 11),
        ("missing_key", "units[1].name", 12),
        ("duplicate_code", "checklist[0].items[1].code", 21),
        ("bad_item_type", "checklist[0].items[1].type", 23),
    ]


def test_problem_params_match_the_declared_ones() -> None:
    _, problems = parse(BROKEN)
    for problem in problems:
        assert set(problem.params) == set(PROBLEM_PARAMS[problem.code]), problem


def test_problems_render_in_both_languages() -> None:
    catalog = Catalog.load()
    _, problems = parse(BROKEN)
    team = next(p for p in problems if p.code == "unknown_team")
    assert format_problem(team, catalog.for_locale("vi")) == (
        "Dòng 11, mục units[0].team: Không có đoàn “D9” trong danh sách teams "
        "(các đoàn đã khai báo: D1)."
    )
    assert format_problem(team, catalog.for_locale("en")).startswith("Line 11, at units[0].team:")
    syntax = Problem("empty_file", "", None)
    assert format_problem(syntax, catalog.for_locale("vi")) == "Tệp trống."


# --- one problem at a time ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # top level
        ("code: KT-TEST\n", "", ("missing_key", "code", 1)),
        ("code: KT-TEST", "code: KT TEST", ("bad_code", "code", 1)),
        ("title: Kiểm tra thử", "title: ''", ("empty_text", "title", 2)),
        ("title: Kiểm tra thử", "title: [a]", ("expected_text", "title", 2)),
        (
            "title: Kiểm tra thử",
            "title: Thử\nTimezone: UTC",
            ("unknown_key_did_you_mean", "Timezone", 3),
        ),
        ("title: Kiểm tra thử", "title: Thử\ncolor: red", ("unknown_key", "color", 3)),
        ("title: Kiểm tra thử", "title: Thử\ntimezone: Mars/Base", ("bad_timezone", "timezone", 3)),
        (
            "deadline: 2021-09-30 17:00",
            "deadline: 30/9/2021 25:00",
            ("bad_datetime", "deadline", 3),
        ),
        (
            "deadline: 2021-09-30 17:00",
            "deadline: 2021-09-30\nreminders: [7d, 1y]",
            ("bad_duration", "reminders[1]", 4),
        ),
        (
            "deadline: 2021-09-30 17:00",
            "deadline: 2021-09-30\nreminders: 7d",
            ("expected_list", "reminders", 4),
        ),
        (
            "deadline: 2021-09-30 17:00",
            "deadline: 2021-09-30\noverdue_every: 0d",
            ("not_positive", "overdue_every", 4),
        ),
        (
            "deadline: 2021-09-30 17:00",
            "deadline: 2021-09-30\noverdue_limit: many",
            ("expected_integer", "overdue_limit", 4),
        ),
        (
            "deadline: 2021-09-30 17:00",
            "deadline: 2021-09-30\nquiet_hours: 21-7",
            ("bad_quiet_hours", "quiet_hours", 4),
        ),
        (
            "deadline: 2021-09-30 17:00",
            'deadline: 2021-09-30\nsummary_at: "mon-fri 8"',
            ("bad_summary_at", "summary_at", 4),
        ),
        (
            "deadline: 2021-09-30 17:00",
            "deadline: 2021-09-30\nworking_days_only: maybe",
            ("expected_bool", "working_days_only", 4),
        ),
        (
            "deadline: 2021-09-30 17:00",
            "deadline: 2021-09-30\nform: online",
            ("bad_form", "form", 4),
        ),
        # teams and units
        ("teams:\n  - code: D1\n    name: Đoàn 1\n", "teams: []\n", ("empty_list", "teams", 4)),
        (
            "    name: Đoàn 1",
            "    name: Đoàn 1\n    leaders: 60",
            ("too_many", "teams[0].leaders", 7),
        ),
        (
            "    name: Đoàn 1",
            "    name: Đoàn 1\n    members: -1",
            ("negative", "teams[0].members", 7),
        ),
        (
            "    name: Đoàn 1",
            "    name: Đoàn 1\n  - code: d1\n    name: Đoàn 1 bis",
            ("duplicate_code", "teams[1].code", 7),
        ),
        (
            "    name: Sở Nội vụ",
            "    name: Sở Nội vụ\n    contacts: 0",
            ("not_positive", "units[0].contacts", 10),
        ),
        (
            "    name: Sở Nội vụ",
            "    name: Sở Nội vụ\n    form: online",
            ("bad_form", "units[0].form", 10),
        ),
        (
            "    name: Sở Nội vụ",
            "    name: Sở Nội vụ\n    deadline: 2021-13-01",
            ("bad_datetime", "units[0].deadline", 10),
        ),
        (
            "    name: Sở Nội vụ",
            "    name: Sở Nội vụ\n    visit: {at: '2021-10-05 08:30'}",
            ("visit_form_mismatch", "units[0].visit", 10),
        ),
        (
            "    name: Sở Nội vụ",
            "    name: Sở Nội vụ\n    form: truc-tiep\n    visit: {at: 2021-10-05}",
            ("visit_needs_time", "units[0].visit.at", 11),
        ),
        (
            "    name: Sở Nội vụ",
            "    name: Sở Nội vụ\n    form: truc-tiep\n    visit: {place: Trụ sở}",
            ("missing_key", "units[0].visit.at", 11),
        ),
        (
            "    name: Sở Nội vụ",
            "    name: Sở Nội vụ\n    visit: 2021-10-05 08:30",
            ("expected_mapping", "units[0].visit", 10),
        ),
        # checklist
        ("checklist:\n", "checklist: []\nx:\n", ("empty_checklist", "checklist", 10)),
        ('      - code: "1.2"', "      - code: 1.20", ("ambiguous_code", f"{I0}.code", 13)),
        ('      - code: "1.2"', "      - code: true", ("expected_text", f"{I0}.code", 13)),
        ("        type: yesno", "        type: choice", ("options_required", f"{I0}.options", 13)),
        (
            "        type: yesno",
            "        type: choice\n        options: [Có]",
            ("options_too_few", f"{I0}.options", 16),
        ),
        (
            "        type: yesno",
            "        type: choice\n        options: [Đã làm, da lam]",
            ("duplicate_option", f"{I0}.options[1]", 16),
        ),
        (
            "        type: yesno",
            "        type: yesno\n        options: [A, B]",
            ("options_not_allowed", f"{I0}.options", 16),
        ),
        (
            "        type: yesno",
            "        type: yesno\n        evidence: always",
            ("bad_evidence", f"{I0}.evidence", 16),
        ),
        (
            "        type: yesno",
            "        type: yesno\n        required: perhaps",
            ("expected_bool", f"{I0}.required", 16),
        ),
        (
            "        type: yesno",
            "        type: yesno\n        min: 0",
            ("not_for_type", f"{I0}.min", 16),
        ),
        (
            "        type: yesno",
            "        type: yesno\n        max_length: 10",
            ("not_for_type", f"{I0}.max_length", 16),
        ),
        (
            "        type: yesno\n        points: 1",
            "        type: number\n        min: 5\n        max: 1",
            ("min_above_max", f"{I0}.min", 16),
        ),
        (
            "        type: yesno\n        points: 1",
            "        type: percent\n        max: 120",
            ("percent_bound", f"{I0}.max", 16),
        ),
        (
            "        type: yesno\n        points: 1",
            "        type: text\n        max_length: 0",
            ("not_positive", f"{I0}.max_length", 16),
        ),
        ("        points: 1", "        points: -1", ("negative", f"{I0}.points", 16)),
        ("        points: 1", "        points: một", ("expected_number", f"{I0}.points", 16)),
        (
            "        points: 1",
            "        points: 1\n        scoring: {thresholds: {90: 1}}",
            ("scoring_wrong_type", f"{I0}.scoring", 17),
        ),
        (
            "        type: yesno\n        points: 1",
            "        type: percent\n        points: 1\n        scoring:\n          thresholds:\n"
            "            90: 1\n            70: 2",
            ("scoring_points_above_max", f"{I0}.scoring.thresholds.70", 20),
        ),
        ("    items:\n", "    items: []\n    x:\n", ("empty_section", "checklist[0].items", 12)),
    ],
)
def test_single_problem(old: str, new: str, expected: tuple[str, str, int]) -> None:
    assert old in BASE
    text = BASE.replace(old, new)
    found = codes(text)
    assert expected in found, found


def test_base_file_is_valid() -> None:
    spec = ok(BASE)
    assert spec.timezone == "Asia/Ho_Chi_Minh"
    assert spec.units[0].team == "D1"  # one team: units need not name it
    assert spec.units[0].form is InspectionForm.REPORT
    assert spec.items()[0].scoring == {"rule": "yes"}


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        ("2021-09-30 17:00", datetime(2021, 9, 30, 10, 0, tzinfo=UTC)),
        ("2021-09-30T17:00", datetime(2021, 9, 30, 10, 0, tzinfo=UTC)),
        ("2021-09-30 17:00:00", datetime(2021, 9, 30, 10, 0, tzinfo=UTC)),  # a YAML datetime
        ('"2021-09-30 17:00"', datetime(2021, 9, 30, 10, 0, tzinfo=UTC)),
        ("30/09/2021 17:00", datetime(2021, 9, 30, 10, 0, tzinfo=UTC)),
        ("30/9/2021 17h00", datetime(2021, 9, 30, 10, 0, tzinfo=UTC)),
        ("2021-09-30", datetime(2021, 9, 30, 16, 59, tzinfo=UTC)),  # a date: 23:59 local
        ("30/09/2021", datetime(2021, 9, 30, 16, 59, tzinfo=UTC)),
        ("2021-09-30T17:00:00+08:00", datetime(2021, 9, 30, 9, 0, tzinfo=UTC)),  # own offset
    ],
)
def test_deadline_forms(written: str, utc: datetime) -> None:
    spec = ok(BASE.replace("deadline: 2021-09-30 17:00", f"deadline: {written}"))
    assert spec.deadline == utc


def test_deadline_follows_the_campaign_timezone() -> None:
    spec = ok(BASE.replace("deadline:", "timezone: Asia/Tokyo\ndeadline:"))
    assert spec.deadline == datetime(2021, 9, 30, 8, 0, tzinfo=UTC)
    assert spec.timezone == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("written", "code"),
    [("1.1", "1.1"), ("2", "2"), ("1.0", "1.0"), ('"1.10"', "1.10"), ("9.1a", "9.1a")],
)
def test_item_codes_typed_as_numbers(written: str, code: str) -> None:
    spec = ok(BASE.replace('- code: "1.2"', f"- code: {written}"))
    assert spec.items()[0].code == code


def test_every_item_key() -> None:
    spec = ok(
        BASE.replace(
            "        points: 1\n",
            """\
        points: 1
      - code: "5.2"
        text: Số cán bộ bị kỷ luật
        help: Tính cả viên chức
        type: number
        required: no
        evidence: optional
        min: 0
        max: 1000
        points: 1
        scoring: {at_most: {0: 1}}
      - code: "9.1"
        text: Kiến nghị
        type: text
        max_length: 500
""",
        )
    )
    number, text = spec.items()[1:]
    assert (number.help, number.required, number.evidence.value) == (
        "Tính cả viên chức",
        False,
        "optional",
    )
    assert (number.min, number.max, number.points) == (0, 1000, 1.0)
    assert number.scoring == {"rule": "at_most", "steps": [[0.0, 1.0]]}
    assert (text.max_length, text.points, text.scoring) == (500, 0.0, None)


def test_policy_defaults_and_switching_off() -> None:
    spec = ok(BASE)
    assert spec.policy.escalate_after == timedelta(days=1)
    assert spec.policy.visit_notice_before == timedelta(days=7)
    assert spec.policy.reminders == ()
    off = ok(BASE.replace("deadline:", "escalate_after: off\nquiet_hours: ~\ndeadline:"))
    assert off.policy.escalate_after is None and off.policy.quiet_start is None


def test_several_teams_need_a_team_per_unit() -> None:
    text = BASE.replace("    name: Đoàn 1\n", "    name: Đoàn 1\n  - code: D2\n    name: Đoàn 2\n")
    assert ("missing_key", "units[0].team", 10) in codes(text)


def test_a_team_with_a_problem_does_not_make_its_units_unknown() -> None:
    text = BASE.replace("    name: Đoàn 1", "    name: Đoàn 1\n    leaders: x")
    assert [c for c, _, _ in codes(text)] == ["expected_integer"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("code: [a\n", ("yaml_syntax", "", 2)),
        ("code: a\n\ttitle: b\n", ("yaml_tab", "", 2)),
        ("code: a\ncode: b\n", ("duplicate_key", "", 2)),
        ("", ("empty_file", "", None)),
        ("- a\n- b\n", ("expected_mapping", "", 1)),
    ],
)
def test_unreadable_documents(text: str, expected: tuple[str, str, int | None]) -> None:
    assert codes(text) == [expected]


def test_load_campaign_file_reports_missing_and_non_utf8_files(tmp_path: Path) -> None:
    spec, problems = load_campaign_file(tmp_path / "missing.yaml")
    assert spec is None and [p.code for p in problems] == ["cannot_read"]
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("code: A\ntitle: Ki\u1ec3m\n".encode("utf-8")[:-3] + b"\xff\n")
    spec, problems = load_campaign_file(latin)
    assert spec is None and [(p.code, p.line) for p in problems] == [("not_utf8", 2)]
    with_bom = tmp_path / "bom.yaml"
    with_bom.write_bytes(b"\xef\xbb\xbf" + BASE.encode("utf-8"))
    spec, problems = load_campaign_file(with_bom)
    assert problems == [] and spec is not None


def test_anchors_and_merge_keys_keep_their_lines() -> None:
    text = BASE.replace(
        "units:\n  - code: SNV\n    name: Sở Nội vụ\n",
        """\
x-unit: &unit
  contacts: 2
  form: qua-bao-ca0
units:
  - <<: *unit
    code: SNV
    name: Sở Nội vụ
  - <<: *unit
    code: STC
    name: Sở Tài chính
    contacts: 0
""",
    )
    found = codes(text)
    assert ("bad_form", "units[0].form", 9) in found  # reported where the anchor wrote it
    assert ("not_positive", "units[1].contacts", 17) in found
    fixed = ok(text.replace("qua-bao-ca0", "truc-tiep").replace("contacts: 0", "contacts: 3"))
    assert [(u.form.value, u.contacts) for u in fixed.units] == [("truc-tiep", 2), ("truc-tiep", 3)]
