"""One table of the written forms of the timing settings, valid and invalid, run through
every reader of them, so that they can never disagree again:

- the rules' one parser (storage/rules/timing_forms.py);
- `cchc-bot campaign import --check` of a YAML file holding the form;
- the same command on an Excel workbook holding it in the campaign sheet;
- for `summary_at`, the scheduler: schedules/summaries.py parses the text the import
  stored, and refuses (logs and skips) a text the import refuses.

A refused form must be told at its place with the catalog's text for the parser's code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

import bot.cli_campaign  # noqa: F401  (registers the commands)
from bot.cli import cli
from common.i18n import Catalog
from schedules import summaries
from storage.formats.campaign_excel import load_campaign_workbook, write_template
from storage.formats.campaign_file import load_campaign_file, parse_campaign_text
from storage.formats.campaign_spec import CampaignSpec
from storage.rules import timing, timing_forms
from storage.rules.timing_forms import SummarySchedule, TimingFormError

WEEKDAYS = frozenset(range(5))
EVERY_DAY = frozenset(range(7))


def at(*times: str) -> tuple[time, ...]:
    return tuple(time.fromisoformat(t) for t in times)


@dataclass(frozen=True)
class Refused:
    """The parser's code, and its params besides `value` (always the text as written)."""

    code: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Form:
    key: str  # the campaign key: summary_at, quiet_hours, overdue_every (a duration)
    written: str
    expected: Any  # what the policy holds (SummarySchedule, (start, end), timedelta) or Refused

    def __str__(self) -> str:
        return f"{self.key}={self.written!r}"


FORMS = [
    # summary_at
    Form("summary_at", "mon-fri 08:00", SummarySchedule(WEEKDAYS, at("08:00"))),
    Form("summary_at", "t2-t6 08:00", SummarySchedule(WEEKDAYS, at("08:00"))),
    Form("summary_at", "T2-T6 16:30, 08:00", SummarySchedule(WEEKDAYS, at("08:00", "16:30"))),
    Form("summary_at", "mon,wed,fri 17:30", SummarySchedule(frozenset({0, 2, 4}), at("17:30"))),
    Form("summary_at", "  Mon , Thu 7:05 ", SummarySchedule(frozenset({0, 3}), at("07:05"))),
    Form(
        "summary_at",
        "mon-fri,sun 07:00",
        SummarySchedule(frozenset({0, 1, 2, 3, 4, 6}), at("07:00")),
    ),
    Form("summary_at", "sat-mon 09:15", SummarySchedule(frozenset({5, 6, 0}), at("09:15"))),
    Form("summary_at", "t7, cn 09:00", SummarySchedule(frozenset({5, 6}), at("09:00"))),
    Form("summary_at", "cn 20:00", SummarySchedule(frozenset({6}), at("20:00"))),
    Form("summary_at", "daily 17:30", SummarySchedule(EVERY_DAY, at("17:30"))),
    Form("summary_at", "* 08:00", SummarySchedule(EVERY_DAY, at("08:00"))),
    Form("summary_at", "08:00", SummarySchedule(EVERY_DAY, at("08:00"))),
    Form("summary_at", "08:00,16:30", SummarySchedule(EVERY_DAY, at("08:00", "16:30"))),
    Form("summary_at", "mon-fri", Refused("bad_summary_at")),
    Form("summary_at", "mon-fri 8", Refused("bad_summary_at")),
    Form("summary_at", "mon-fri,08:00", Refused("bad_summary_at")),
    Form("summary_at", "mon fri 08:00", Refused("bad_summary_at")),
    Form("summary_at", "funday 08:00", Refused("summary_unknown_day", {"day": "funday"})),
    Form("summary_at", "weekdays 08:00", Refused("summary_unknown_day", {"day": "weekdays"})),
    Form("summary_at", "mon-fri 25:00", Refused("bad_time_of_day", {"time": "25:00"})),
    Form("summary_at", "mon-fri 08:00,08:60", Refused("bad_time_of_day", {"time": "08:60"})),
    # quiet_hours
    Form("quiet_hours", "21:00-07:00", (time(21), time(7))),
    Form("quiet_hours", "12:00 - 13:30", (time(12), time(13, 30))),
    Form("quiet_hours", "7:00-8:00", (time(7), time(8))),
    Form("quiet_hours", "21:00-21:00", Refused("quiet_hours_empty")),
    Form("quiet_hours", "24:00-07:00", Refused("bad_time_of_day", {"time": "24:00"})),
    Form("quiet_hours", "21-7", Refused("bad_quiet_hours")),
    Form("quiet_hours", "21h-7h", Refused("bad_quiet_hours")),
    # durations
    Form("overdue_every", "7d", timedelta(days=7)),
    Form("overdue_every", "2h", timedelta(hours=2)),
    Form("overdue_every", "90m", timedelta(minutes=90)),
    Form("overdue_every", "1w", timedelta(weeks=1)),
    Form("overdue_every", "1d12h", timedelta(days=1, hours=12)),
    Form("overdue_every", "1d 12h", timedelta(days=1, hours=12)),
    Form("overdue_every", "3D", timedelta(days=3)),
    Form("overdue_every", "7", Refused("bad_duration")),
    Form("overdue_every", "7 days", Refused("bad_duration")),
    Form("overdue_every", "1y", Refused("bad_duration")),
    Form("overdue_every", "0d", Refused("not_positive")),
]

BASE = """\
code: KT-TIMING
title: Kiểm tra thử
deadline: 2021-09-30 17:00
teams: [{code: D1, name: Đoàn 1}]
units: [{code: SNV, name: Sở Nội vụ}]
checklist:
  - section: Chỉ đạo, điều hành
    items: [{code: "1.1", text: Kế hoạch CCHC, type: yesno, points: 1}]
"""
SETTING_LINE = 4  # the line BASE gets the setting on, after the deadline


# --- the readers ----------------------------------------------------------------------------


def rules_read(form: Form) -> Any:
    parse = {
        "summary_at": timing_forms.parse_summary_at,
        "quiet_hours": timing_forms.parse_quiet_hours,
        "overdue_every": timing_forms.parse_duration,
    }[form.key]
    try:
        return parse(form.written)
    except TimingFormError as error:
        return Refused(error.code, {k: v for k, v in error.params.items() if k != "value"}), error


def policy_value(spec: CampaignSpec, key: str) -> Any:
    policy = spec.policy
    if key == "summary_at":
        assert policy.summary_at is not None
        return policy.summary_at  # the text the scheduler reads
    if key == "quiet_hours":
        return policy.quiet_start, policy.quiet_end
    return policy.overdue_every


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> str:
    """`import --check` opens the app (and its database) but writes nothing: one is enough."""
    path = tmp_path_factory.mktemp("timing-forms") / "cchc.sqlite3"
    path.write_bytes(sqlite_template.read_bytes())
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec, problems = parse_campaign_text(BASE, "base.yaml")
    assert spec is not None, problems
    path = tmp_path_factory.mktemp("timing-forms") / "base.xlsx"
    write_template(path, example=spec)
    return path


@pytest.fixture(scope="module")
def tr() -> Any:
    return Catalog.load().for_locale("vi")


def yaml_file(form: Form, folder: Path) -> Path:
    path = folder / "dot.yaml"
    setting = f"{form.key}: {json.dumps(form.written, ensure_ascii=False)}"
    text = BASE.replace("deadline: 2021-09-30 17:00\n", f"deadline: 2021-09-30 17:00\n{setting}\n")
    assert text.splitlines()[SETTING_LINE - 1] == setting
    path.write_text(text, encoding="utf-8")
    return path


def excel_file(form: Form, base: Path, folder: Path) -> tuple[Path, int]:
    """The base workbook with the form typed into the setting's value cell, and its row."""
    book = load_workbook(base)
    sheet = book["Đợt kiểm tra"]
    row = next(
        r
        for r in range(2, sheet.max_row + 1)
        if str(sheet.cell(r, 1).value).endswith(f"({form.key})")
    )
    sheet.cell(row, 2).value = form.written
    path = folder / "dot.xlsx"
    book.save(path)
    return path, row


def check(database: str, path: Path) -> tuple[int, str]:
    """`cchc-bot campaign import FILE --check`, as an admin runs it."""
    env = {"DATABASE_URL": database, "CCHC_LANG": "vi", "BOT_USERNAME": "cchc_test_bot"}
    result = CliRunner().invoke(
        cli, ["campaign", "import", str(path), "--check"], env=env, catch_exceptions=False
    )
    return result.exit_code, result.output


# --- the one table test ---------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS, ids=str)
def test_every_reader_of_a_timing_form_agrees(
    form: Form, database: str, workbook: Path, tr: Any, tmp_path: Path
) -> None:
    found = rules_read(form)
    yaml_path = yaml_file(form, tmp_path)
    excel_path, row = excel_file(form, workbook, tmp_path)
    yaml_exit, yaml_output = check(database, yaml_path)
    excel_exit, excel_output = check(database, excel_path)

    if isinstance(form.expected, Refused):
        assert isinstance(found, tuple), found
        refused, error = found
        assert refused == form.expected
        message = tr(f"campaign_file.problem.{error.code}", **error.params)
        assert (yaml_exit, excel_exit) == (1, 1), (yaml_output, excel_output)
        assert f"Dòng {SETTING_LINE}, mục {form.key}: {message}" in yaml_output
        assert f"Trang Đợt kiểm tra, dòng {row}, cột B ({form.key}): {message}" in excel_output
        if form.key == "summary_at":  # stored by an older version: skipped, never sent wrong
            with pytest.raises(ValueError):
                summaries.parse_summary_at(form.written)
        return

    assert found == form.expected
    assert (yaml_exit, excel_exit) == (0, 0), (yaml_output, excel_output)
    from_yaml, _ = load_campaign_file(yaml_path)  # what the command read, to see what it keeps
    from_excel, _ = load_campaign_workbook(excel_path)
    assert from_yaml is not None and from_excel is not None
    stored = policy_value(from_yaml, form.key)
    assert policy_value(from_excel, form.key) == stored
    if form.key == "summary_at":
        assert stored == str(form.expected)  # canonical: one text per schedule
        assert summaries.parse_summary_at(stored) == form.expected
    else:
        assert stored == form.expected


def test_the_scheduler_and_the_readers_use_the_one_parser() -> None:
    assert summaries.parse_summary_at is timing_forms.parse_summary_at
    assert timing.parse_summary_at is timing_forms.parse_summary_at


# --- what the canonical texts mean ------------------------------------------------------------


@pytest.mark.parametrize(
    ("weekdays", "text"),
    [
        (WEEKDAYS, "mon-fri"),
        (EVERY_DAY, "mon-sun"),
        (frozenset({5, 6, 0}), "mon,sat-sun"),
        (frozenset({0, 1, 2, 4}), "mon-wed,fri"),
        (frozenset({6}), "sun"),
    ],
)
def test_a_schedule_is_stored_as_runs_of_days_monday_first(
    weekdays: frozenset[int], text: str
) -> None:
    schedule = SummarySchedule(weekdays, at("08:00", "16:30"))
    assert str(schedule) == f"{text} 08:00,16:30"
    assert timing_forms.parse_summary_at(str(schedule)).weekdays == weekdays


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=7), "7d"),
        (timedelta(hours=36), "1d12h"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(weeks=2), "14d"),
    ],
)
def test_durations_are_written_back_as_they_read(delta: timedelta, text: str) -> None:
    assert timing_forms.duration_text(delta) == text
    assert timing_forms.parse_duration(text) == delta


def test_the_scheduler_sends_a_vietnamese_schedule_on_its_days() -> None:
    schedule = timing_forms.parse_summary_at("t2-t6 08:00")
    friday_noon = datetime(2021, 9, 10, 5, tzinfo=UTC)  # 12:00 in Vietnam
    monday_eight = datetime(2021, 9, 13, 1, tzinfo=UTC)
    assert timing.next_summary(schedule, friday_noon, "Asia/Ho_Chi_Minh") == monday_eight


@pytest.mark.parametrize(
    ("parse", "code"),
    [
        (timing_forms.parse_summary_at, "bad_summary_at"),
        (timing_forms.parse_quiet_hours, "bad_quiet_hours"),
        (timing_forms.parse_duration, "bad_duration"),
    ],
)
def test_an_empty_text_is_no_form(parse: Any, code: str) -> None:
    # an empty Excel cell is a key left out, so this is for the rules alone: `summary_at: ""`
    with pytest.raises(TimingFormError) as raised:
        parse("  ")
    assert (raised.value.code, raised.value.params) == (code, {"value": "  "})
