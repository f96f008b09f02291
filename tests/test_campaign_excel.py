"""The campaign as an Excel workbook: the template, reading it back with the YAML file's
checks, every problem at its sheet, row and column, and the CLI around both."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select

import bot.cli_campaign  # noqa: F401  (registers the commands)
from bot.cli import cli
from common.i18n import SUPPORTED, Catalog, placeholders
from storage import db as storage_db
from storage.db.models import Assignment, Campaign, Invite, Item, Section, Team, Unit
from storage.formats.campaign_excel import (
    PROBLEM_PARAMS,
    SHEETS,
    load_campaign_workbook,
    rule_text,
    scoring_value,
    write_template,
)
from storage.formats.campaign_file import load_campaign_file
from storage.formats.campaign_spec import CampaignSpec, ItemType, Problem
from storage.rules.scoring import parse_scoring
from tests.conftest import EXAMPLE_CAMPAIGN


@pytest.fixture(scope="module")
def example() -> CampaignSpec:
    spec, problems = load_campaign_file(EXAMPLE_CAMPAIGN)
    assert spec is not None, problems
    return spec


def _example_workbook(tmp_path: Path, example: CampaignSpec, name: str = "dot.xlsx") -> Path:
    path = tmp_path / name
    write_template(path, example=example)
    return path


def _edited(path: Path, edit: Callable[[Workbook], None]) -> Path:
    workbook = load_workbook(path)
    edit(workbook)
    workbook.save(path)
    return path


def _column(ws: Worksheet, key: str) -> int:
    """The column number whose header ends in "(key)"."""
    return next(c.column for c in ws[1] if str(c.value).endswith(f"({key})"))


def _row(ws: Worksheet, key: str, value: str) -> int:
    """The first row whose `key` column holds `value`."""
    column = _column(ws, key)
    return next(r for r in range(2, ws.max_row + 1) if ws.cell(r, column).value == value)


def _set(ws: Worksheet, row: int, key: str, value: Any) -> str:
    """Write a cell by column key; returns its place as problems name it: "Đơn vị!C5"."""
    cell = ws.cell(row, _column(ws, key))
    cell.value = value  # ws.cell(..., value=None) would leave the old value
    return f"{ws.title}!{cell.coordinate}"


def _wheres(problems: list[Problem]) -> list[str]:
    return [p.where for p in problems]


# --- the round trip and the template ------------------------------------------------------------


@pytest.mark.parametrize("locale", SUPPORTED)
def test_the_example_written_as_a_workbook_reads_back_equal(
    tmp_path: Path, example: CampaignSpec, locale: str
) -> None:
    path = tmp_path / "example.xlsx"
    write_template(path, example=example, locale=locale)
    spec, problems = load_campaign_workbook(path)
    assert problems == []
    assert spec == example


def test_the_template_has_its_sheets_headers_and_drop_downs(tmp_path: Path) -> None:
    path = tmp_path / "mau.xlsx"
    write_template(path)
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["Hướng dẫn", "Đợt kiểm tra", "Đoàn", "Đơn vị", "Danh mục"]
    lists = {
        sheet.title: {
            str(dv.sqref).split(":")[0]: dv.formula1
            for dv in workbook[sheet.title].data_validations.dataValidation
        }
        for sheet in SHEETS
    }
    units, checklist = workbook["Đơn vị"], workbook["Danh mục"]
    assert lists["Đơn vị"] == {
        f"{_letter(units, 'form')}2": '"truc-tiep,qua-bao-cao,moi-truong-so"',
        f"{_letter(units, 'visit.announced')}2": '"Có,Không"',
    }
    assert lists["Danh mục"] == {
        f"{_letter(checklist, 'type')}2": '"yesno,choice,multi,number,percent,date,text"',
        f"{_letter(checklist, 'required')}2": '"Có,Không"',
        f"{_letter(checklist, 'evidence')}2": '"required,optional,none"',
    }
    assert set(lists["Đợt kiểm tra"].values()) == {
        '"truc-tiep,qua-bao-cao,moi-truong-so"',
        '"Có,Không"',
    }
    for sheet in SHEETS:
        ws = workbook[sheet.title]
        assert ws.freeze_panes == sheet.freeze
        assert all(
            cell.font.bold and cell.fill.fgColor.rgb.endswith(("1F4E78", "DDEBF7"))
            for cell in ws[1]
            if cell.value
        )
    assert units.column_dimensions[_letter(units, "name")].width >= 40
    assert checklist.column_dimensions[_letter(checklist, "code")].number_format == "@"
    assert units["A1"].value == "Mã đơn vị (code)"
    guide = "\n".join(
        str(c.value) for row in workbook["Hướng dẫn"].iter_rows() for c in row if c.value
    )
    for sheet in SHEETS:
        assert all(f"({column.key})" in guide for column in sheet.columns)
    assert "thresholds: 90=2; 70=1" in guide and "Cách chấm điểm" in guide


def _letter(ws: Worksheet, key: str) -> str:
    return ws.cell(1, _column(ws, key)).column_letter


def test_an_empty_template_says_what_is_missing_at_its_cells(tmp_path: Path) -> None:
    path = tmp_path / "mau.xlsx"
    write_template(path)
    spec, problems = load_campaign_workbook(path)
    assert spec is None
    assert _wheres(problems) == [
        "Đợt kiểm tra!B2 (code)",
        "Đợt kiểm tra!B3 (title)",
        "Đợt kiểm tra!B6 (deadline)",
        "Đoàn (teams)",
        "Đơn vị (units)",
        "Danh mục (checklist)",
    ]
    assert [p.line for p in problems] == [None] * 6


# --- problems at their cells ----------------------------------------------------------------------


def _break_five_ways(workbook: Workbook) -> dict[str, str]:
    """The mistakes of the issue; returns the place each one must be reported at."""
    campaign, units, checklist = workbook["Đợt kiểm tra"], workbook["Đơn vị"], workbook["Danh mục"]
    campaign["B6"] = "31/02/2021 17:00"  # the deadline row
    return {
        "bad_datetime": "Đợt kiểm tra!B6",
        "unknown_team": _set(units, _row(units, "code", "SNV"), "team", "D9"),
        "missing_key": _set(units, _row(units, "code", "STC"), "name", None),
        "duplicate_code": _set(checklist, _row(checklist, "code", "1.2"), "code", "1.1"),
        "bad_item_type": _set(checklist, _row(checklist, "code", "1.3"), "type", "percentage"),
    }


def test_every_mistake_is_reported_with_sheet_row_and_column(
    tmp_path: Path, example: CampaignSpec
) -> None:
    places: dict[str, str] = {}
    path = _edited(
        _example_workbook(tmp_path, example), lambda wb: places.update(_break_five_ways(wb))
    )
    spec, problems = load_campaign_workbook(path)
    assert spec is None
    found = {p.code: p for p in problems}
    assert set(found) == set(places)
    for code, place in places.items():
        assert found[code].where.startswith(place + " ("), (code, found[code].where)
    assert found["unknown_team"].where.endswith("(team)")
    assert found["duplicate_code"].params["first"] == "Danh mục!B2"
    assert _wheres(problems) == sorted(_wheres(problems), key=_sheet_order)  # workbook order


def _sheet_order(where: str) -> int:
    return [s.title for s in SHEETS].index(where.split("!")[0].split(" (")[0])


def run(url: str, *args: str, lang: str = "vi") -> Result:
    env = {"DATABASE_URL": url, "CCHC_LANG": lang, "BOT_USERNAME": "cchc_test_bot"}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_broken_workbook_is_refused_with_every_problem_and_writes_nothing(
    backend_url: str, tmp_path: Path, example: CampaignSpec, lang: str
) -> None:
    places: dict[str, str] = {}
    path = _edited(
        _example_workbook(tmp_path, example), lambda wb: places.update(_break_five_ways(wb))
    )
    result = run(backend_url, "campaign", "import", str(path), lang=lang)
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith("  - ")]
    assert len(problems) == 5, result.output
    words = ("Trang", "dòng", "cột") if lang == "vi" else ("Sheet", "row", "column")
    for place in places.values():  # "Đơn vị!C3" reads "Trang Đơn vị, dòng 3, cột C"
        sheet, cell = place.split("!")
        column, row = cell.rstrip("0123456789"), cell[len(cell.rstrip("0123456789")) :]
        located = f"{words[0]} {sheet}, {words[1]} {row}, {words[2]} {column} ("
        assert any(located in line for line in problems), (located, result.output)
    assert ("Không có đoàn “D9”" if lang == "vi" else "There is no team “D9”") in result.output
    listed = run(backend_url, "campaign", "list", "--format", "json")
    assert listed.output.strip() == "[]"


def test_problems_of_the_workbook_itself(tmp_path: Path, example: CampaignSpec) -> None:
    def edit(workbook: Workbook) -> None:
        workbook["Đoàn"].title = "Các đoàn"  # renamed: the sheet is not found
        units = workbook["Đơn vị"]
        units.cell(1, _column(units, "contacts"), "Số cán bộ (contact)")  # a typo in the key
        units.cell(1, 20, "# Ghi chú của Phòng CCHC")  # the admin's own notes: ignored
        units.cell(3, 20, "gọi lại sau")
        checklist = workbook["Danh mục"]
        checklist.delete_cols(_column(checklist, "type"))  # a required column is gone

    path = _edited(_example_workbook(tmp_path, example), edit)
    spec, problems = load_campaign_workbook(path)
    assert spec is None
    assert [(p.code, p.where) for p in problems] == [
        ("missing_sheet", "Đoàn"),
        ("unknown_column_did_you_mean", "Đơn vị!I1"),
        ("missing_column", "Danh mục!1:1"),  # once, not once per item
    ]
    assert problems[1].params == {"column": "Số cán bộ (contact)", "suggestion": "contacts"}
    assert problems[2].params == {"column": "type"}


def test_a_file_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "cu.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0 an old .xls file")
    assert load_campaign_workbook(path) == (None, [Problem("not_xlsx", "", None)])
    spec, problems = load_campaign_workbook(tmp_path / "missing.xlsx")
    assert spec is None and problems[0].code == "cannot_read"


def test_scoring_problems_point_at_the_scoring_cell(tmp_path: Path, example: CampaignSpec) -> None:
    def edit(workbook: Workbook) -> None:
        checklist = workbook["Danh mục"]
        _set(checklist, _row(checklist, "code", "1.3"), "scoring", "thresholds: 90=3; 70=1")
        _set(checklist, _row(checklist, "code", "1.5"), "scoring", "thresholds: 100=1; 100=0,5")

    path = _edited(_example_workbook(tmp_path, example), edit)
    _, problems = load_campaign_workbook(path)
    scoring = _column(load_workbook(path)["Danh mục"], "scoring")
    assert {p.code for p in problems} == {"scoring_points_above_max", "duplicate_key"}
    assert all(p.where.endswith("(scoring)") for p in problems)
    assert all(f"!{chr(64 + scoring)}" in p.where for p in problems)


# --- what Excel does to cells ----------------------------------------------------------------


def _small(tmp_path: Path, example: CampaignSpec) -> Path:
    """The example cut to two units and the first section, to edit by hand."""
    small = replace(example, units=example.units[:2], sections=example.sections[:1])
    path = tmp_path / "nho.xlsx"
    write_template(path, example=small)
    return path


def test_excel_spellings_are_read_like_the_yaml_ones(tmp_path: Path, example: CampaignSpec) -> None:
    def edit(workbook: Workbook) -> None:
        campaign, units, checklist = (workbook[n] for n in ("Đợt kiểm tra", "Đơn vị", "Danh mục"))
        campaign["B6"] = datetime(2021, 9, 30)  # a date cell without a time: end of the day
        campaign["B6"].number_format = "dd/mm/yyyy"
        campaign["B15"] = datetime(2021, 1, 1, 8, 0).time()  # Excel made "08:00" a time
        campaign["B8"] = "1d; 2h, 30m"  # both separators
        _set(units, 2, "deadline", "28/9/2021 17h00")  # Vietnamese text
        _set(units, 2, "contacts", "3")  # typed into a Text cell
        _set(units, 3, "contacts", 2.0)  # Excel's float
        units.insert_rows(3)  # an empty row in the middle
        checklist.insert_rows(2)
        _set(checklist, 2, "section", "1. Công tác chỉ đạo, điều hành CCHC")  # a heading row
        for row in range(3, checklist.max_row + 1):
            _set(checklist, row, "section", None)  # empty: the area above continues
        _set(checklist, 3, "code", 1.1)  # "1.1" typed into a General cell
        checklist.cell(1, _column(checklist, "help"), "Gợi ý")  # a catalog label, no key

    spec, problems = load_campaign_workbook(_edited(_small(tmp_path, example), edit))
    assert problems == [] and spec is not None
    assert spec.deadline == datetime(2021, 9, 30, 16, 59, tzinfo=UTC)  # 23:59 in Vietnam
    assert spec.policy.summary_at == "mon-sun 08:00"
    assert spec.units[0].deadline == datetime(2021, 9, 28, 10, 0, tzinfo=UTC)
    assert [u.contacts for u in spec.units] == [3, 2]
    assert [s.title for s in spec.sections] == ["1. Công tác chỉ đạo, điều hành CCHC"]
    assert spec.sections[0].items == example.sections[0].items


def test_rows_naming_another_area_start_a_section(tmp_path: Path, example: CampaignSpec) -> None:
    def edit(workbook: Workbook) -> None:
        checklist = workbook["Danh mục"]
        _set(checklist, 4, "section", "Nhóm mới")
        checklist.merge_cells(f"A4:A{checklist.max_row}")  # one merged cell for the area

    spec, problems = load_campaign_workbook(_edited(_small(tmp_path, example), edit))
    assert problems == [] and spec is not None
    first = example.sections[0]
    assert [(s.title, s.items) for s in spec.sections] == [
        (first.title, first.items[:2]),
        ("Nhóm mới", first.items[2:]),
    ]


@pytest.mark.parametrize(
    ("item_type", "points", "written", "options"),
    [
        (ItemType.YESNO, 1, "yes", ()),
        (ItemType.DATE, 1, "answered", ()),
        (ItemType.PERCENT, 2, "thresholds: 90=2; 70=1", ()),
        (ItemType.PERCENT, 2, "thresholds: 99,5=2; 95=1,125", ()),
        (ItemType.NUMBER, 1, "at_most: 0=1; 2=0,5", ()),
        (ItemType.DATE, 1, "on_or_before: 31/12/2020; late=0,5", ()),
        (ItemType.DATE, 1, "on_or_before: 2020-12-31", ()),
        (
            ItemType.CHOICE,
            0.5,
            "choices: Đã áp dụng=0,5; Đang xây dựng=0,25",
            ("Đã áp dụng", "Đang xây dựng"),
        ),
        (ItemType.MULTI, 1, "each: 0,25", ("A", "B", "C", "D", "E")),
        (ItemType.PERCENT, 1.5, "proportional: 70", ()),
        (ItemType.PERCENT, 2, "{thresholds: {90: 2, 70: 1}}", ()),  # copied from a YAML file
    ],
)
def test_the_excel_spelling_of_every_scoring_form(
    item_type: ItemType, points: float, written: str, options: tuple[str, ...]
) -> None:
    raw, repeated = scoring_value(written)
    rule, problems = parse_scoring(item_type, points, raw, options)
    assert problems == [] and repeated == [] and rule is not None
    again, _ = parse_scoring(item_type, points, scoring_value(rule_text(rule))[0], options)
    assert again == rule


def test_a_threshold_written_twice_is_told() -> None:
    assert scoring_value("thresholds: 90=2; 90=1") == ({"thresholds": {"90": "1"}}, ["90"])
    assert scoring_value("late=0,5") == ("late=0,5", [])  # no form: parse_scoring refuses it


def test_workbook_problem_codes_have_texts_in_every_locale() -> None:
    catalog = Catalog.load()
    for locale in SUPPORTED:
        for code, params in PROBLEM_PARAMS.items():
            text = catalog.texts[locale][f"campaign_file.problem.{code}"]
            assert placeholders(text) == set(params), (locale, code)


# --- through the CLI, into the database ----------------------------------------------------------


def test_template_command_writes_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "mau.xlsx"
    runner = CliRunner()
    first = runner.invoke(cli, ["--lang", "vi", "campaign", "template", "-o", str(path)])
    assert first.exit_code == 0 and "Đã ghi mẫu Excel" in first.output
    assert load_workbook(path).sheetnames[1:] == [s.title for s in SHEETS]
    again = runner.invoke(cli, ["--lang", "en", "campaign", "template", "-o", str(path)])
    assert again.exit_code == 1 and "--force" in again.output
    forced = runner.invoke(cli, ["campaign", "template", "-o", str(path), "--example", "--force"])
    assert forced.exit_code == 0
    assert load_campaign_workbook(path)[0] == load_campaign_file(EXAMPLE_CAMPAIGN)[0]
    nowhere = runner.invoke(
        cli, ["--lang", "vi", "campaign", "template", "-o", str(tmp_path / "no" / "x.xlsx")]
    )
    assert nowhere.exit_code == 1 and "Không ghi được tệp" in nowhere.output


def test_importing_the_workbook_creates_the_same_campaign_as_the_yaml(
    backend_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "KT2021-D1.xlsx"
    assert run(backend_url, "campaign", "template", "-o", str(path), "--example").exit_code == 0
    checked = run(backend_url, "campaign", "import", str(path), "--check")
    assert checked.exit_code == 0 and "23 đơn vị, 24 mục" in checked.output
    created = run(backend_url, "campaign", "import", str(path))
    assert created.exit_code == 0 and "Đã tạo đợt kiểm tra KT2021-D1" in created.output
    from_excel = asyncio.run(_snapshot(backend_url))
    # the YAML over it: nothing to change, not even a new invite code
    updated = run(backend_url, "campaign", "import", str(EXAMPLE_CAMPAIGN))
    assert updated.exit_code == 0 and "0 mã mời mới" in updated.output
    assert asyncio.run(_snapshot(backend_url)) == from_excel
    assert len(from_excel["units"]) == 23 and len(from_excel["items"]) == 24


async def _snapshot(url: str) -> dict[str, Any]:
    """Everything an import writes, without ids and clocks."""
    engine = storage_db.create_engine(url)
    async with storage_db.session_factory(engine)() as session:
        campaign = await session.scalar(select(Campaign))
        assert campaign is not None
        teams = (
            await session.execute(
                select(Team.code, Team.name, Team.leader_slots, Team.member_slots).order_by(Team.id)
            )
        ).all()
        units = (
            await session.execute(
                select(
                    Unit.code,
                    Unit.name,
                    Team.code,
                    Assignment.form,
                    Assignment.deadline,
                    Assignment.visit_at,
                    Assignment.visit_place,
                    Assignment.visit_announced,
                    Assignment.contact_slots,
                    Assignment.position,
                )
                .join(Assignment.unit)
                .join(Assignment.team)
                .order_by(Assignment.position)
            )
        ).all()
        items = (
            await session.execute(
                select(
                    Section.title,
                    Item.position,
                    Item.code,
                    Item.text,
                    Item.help,
                    Item.type,
                    Item.options,
                    Item.required,
                    Item.evidence,
                    Item.points,
                    Item.scoring,
                    Item.min,
                    Item.max,
                    Item.max_length,
                )
                .join(Item.section)
                .order_by(Item.position)
            )
        ).all()
        invites = (
            await session.execute(select(Invite.role, Invite.slot).order_by(Invite.id))
        ).all()
        snapshot = {
            "campaign": (
                campaign.code,
                campaign.title,
                campaign.basis,
                campaign.timezone,
                campaign.deadline,
                campaign.policy,
            ),
            "teams": teams,
            "units": units,
            "items": items,
            "invites": invites,
        }
    await engine.dispose()
    return snapshot
