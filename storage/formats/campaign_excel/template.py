"""Writing the workbook for admins to fill in: empty, or filled with an example campaign
that reads back equal. Labels and explanations are in the chosen language; sheet names stay
Vietnamese because the reader finds the sheets by them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from common.i18n import DEFAULT_LOCALE, Catalog
from storage.formats.campaign_excel.guide import write_guide
from storage.formats.campaign_excel.layout import (
    CAMPAIGN,
    DATETIME_FORMAT,
    GUIDE_TITLE,
    MAX_ROWS,
    TABLES,
    Column,
    Kind,
    Sheet,
)
from storage.formats.campaign_excel.scoring_cells import rule_text
from storage.formats.campaign_excel.styles import WRAP, style_header
from storage.formats.campaign_excel.texts import Texts
from storage.formats.campaign_file import DEFAULT_TIMEZONE
from storage.formats.campaign_spec import (
    CampaignSpec,
    InspectionForm,
    ItemSpec,
    ReminderPolicy,
    UnitSpec,
)
from storage.rules.scoring import plain
from storage.rules.timing_forms import duration_text, quiet_hours_text


def write_template(
    path: str | Path,
    *,
    example: CampaignSpec | None = None,
    locale: str = DEFAULT_LOCALE,
    catalog: Catalog | None = None,
) -> None:
    """Write the campaign workbook: empty, or filled with `example` (which reads back equal).
    `locale` is the language of labels and explanations, taken from `catalog` (default:
    the shipped one); sheet names stay Vietnamese."""
    texts = Texts(catalog or Catalog.load(), locale)
    workbook = Workbook()
    guide = workbook.active
    assert guide is not None
    guide.title = GUIDE_TITLE  # first: what an admin opening the file should read
    write_guide(guide, texts)
    zone = ZoneInfo(example.timezone if example else DEFAULT_TIMEZONE)
    default_form = _default_form(example.units) if example else None
    values = _campaign_values(example, default_form, zone, texts) if example else {}
    _write_campaign(workbook.create_sheet(CAMPAIGN.title), texts, values)
    rows: dict[str, list[dict[str, Any]]] = {"teams": [], "units": [], "checklist": []}
    if example:
        rows["teams"] = [asdict(team) for team in example.teams]
        rows["units"] = [_unit_row(u, default_form, zone, texts) for u in example.units]
        rows["checklist"] = [
            _item_row(s.title, i, texts) for s in example.sections for i in s.items
        ]
    for sheet in TABLES:
        _write_table(workbook.create_sheet(sheet.title), sheet, texts, rows[sheet.role])
    workbook.save(Path(path))


# --- the example's values -----------------------------------------------------------------------


def _default_form(units: Iterable[UnitSpec]) -> InspectionForm:
    """The campaign-wide form: the most common one, so only the exceptions are written."""
    counts = Counter(unit.form for unit in units)
    return counts.most_common(1)[0][0] if counts else InspectionForm.REPORT


def _local(moment: datetime | None, zone: tzinfo) -> datetime | None:
    """A stored UTC time as the naive local time Excel shows (Excel has no time zones)."""
    return moment.astimezone(zone).replace(tzinfo=None) if moment else None


def _duration_or_off(delta: timedelta | None) -> str:
    return "off" if delta is None else duration_text(delta)


def _campaign_values(
    example: CampaignSpec, default_form: InspectionForm | None, zone: tzinfo, texts: Texts
) -> dict[str, Any]:
    return {
        "code": example.code,
        "title": example.title,
        "basis": example.basis or None,
        "timezone": example.timezone,
        "deadline": _local(example.deadline, zone),
        "form": default_form.value if default_form else None,
        **_policy_values(example.policy, texts),
        "score_step": example.scoring.score_step,
        "explain_days": example.scoring.explain_days,
    }


def _policy_values(policy: ReminderPolicy, texts: Texts) -> dict[str, Any]:
    start, end = policy.quiet_start, policy.quiet_end
    quiet = quiet_hours_text(start, end) if start is not None and end is not None else "off"
    return {
        "reminders": "; ".join(duration_text(d) for d in policy.reminders),
        "overdue_every": _duration_or_off(policy.overdue_every),
        "overdue_limit": policy.overdue_limit,
        "escalate_after": _duration_or_off(policy.escalate_after),
        "quiet_hours": quiet,
        "working_days_only": texts.yes_no(policy.working_days_only),
        "visit_notice_before": duration_text(policy.visit_notice_before),
        "summary_at": policy.summary_at or "off",
        "summary_when_unchanged": texts.yes_no(policy.summary_when_unchanged),
    }


def _unit_row(
    unit: UnitSpec, default_form: InspectionForm | None, zone: tzinfo, texts: Texts
) -> dict[str, Any]:
    visit = unit.visit
    return {
        "code": unit.code,
        "name": unit.name,
        "team": unit.team,
        "form": None if unit.form is default_form else unit.form.value,
        "deadline": _local(unit.deadline, zone),
        "visit.at": _local(visit.at, zone) if visit else None,
        "visit.place": visit.place or None if visit else None,
        "visit.announced": texts.yes_no(visit.announced) if visit else None,
        "contacts": unit.contacts,
    }


def _item_row(section: str, item: ItemSpec, texts: Texts) -> dict[str, Any]:
    return {
        "section": section,
        "code": item.code,
        "text": item.text,
        "help": item.help or None,
        "type": item.type.value,
        "options": "; ".join(item.options) or None,
        "required": texts.yes_no(item.required),
        "evidence": item.evidence.value,
        "points": plain(item.points) if item.points else None,
        "scoring": rule_text(item.scoring) or None,
        "min": _plain_or_none(item.min),
        "max": _plain_or_none(item.max),
        "max_length": item.max_length,
    }


def _plain_or_none(number: float | None) -> int | float | None:
    return None if number is None else plain(number)


# --- the sheets ---------------------------------------------------------------------------------


def _drop_down(ws: Worksheet, texts: Texts, values: Iterable[str], cells: str) -> None:
    listed = ",".join(values)
    validation = DataValidation(type="list", formula1=f'"{listed}"', allow_blank=True)
    validation.error, validation.errorTitle = texts("validation.message"), texts("validation.title")
    validation.showErrorMessage = True
    ws.add_data_validation(validation)
    validation.add(cells)


def _choices(column: Column, texts: Texts) -> tuple[str, ...]:
    return (texts.yes_no(True), texts.yes_no(False)) if column.kind is Kind.BOOL else column.choices


def _write_campaign(ws: Worksheet, texts: Texts, values: dict[str, Any]) -> None:
    """One row per key: label, value, explanation."""
    for number, key in enumerate(("label", "value", "help"), start=1):
        style_header(ws.cell(1, number, texts(f"header.{key}")), required=True)
    for row, column in enumerate(CAMPAIGN.columns, start=2):
        label = ws.cell(row, 1, texts.header(CAMPAIGN, column))
        style_header(label, column.required)
        label.alignment = Alignment(wrap_text=True, vertical="top")
        value = ws.cell(row, 2, values.get(column.key))
        value.number_format = DATETIME_FORMAT if column.kind is Kind.DATETIME else "@"
        value.alignment = Alignment(vertical="top", horizontal="left", wrap_text=True)
        ws.cell(row, 3, texts(f"column.campaign.{column.key}.help")).alignment = WRAP
        if choices := _choices(column, texts):
            _drop_down(ws, texts, choices, value.coordinate)
    for letter, width in (("A", 38), ("B", 45), ("C", 80)):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = CAMPAIGN.freeze


def _write_table(ws: Worksheet, sheet: Sheet, texts: Texts, rows: list[dict[str, Any]]) -> None:
    for number, column in enumerate(sheet.columns, start=1):
        header = ws.cell(1, number, texts.header(sheet, column))
        style_header(header, column.required)
        help_text = texts(f"column.{sheet.role}.{column.text_key}.help")
        header.comment = Comment(help_text, "cchc-bot", width=320, height=110)  # on hover
        letter = get_column_letter(number)
        ws.column_dimensions[letter].width = column.width
        if column.kind in (Kind.CODE, Kind.OPTIONS, Kind.SCORING, Kind.DURATIONS):
            # Text, so that Excel keeps 1.10 and does not make 1.1 a date or a number
            ws.column_dimensions[letter].number_format = "@"
        elif column.kind is Kind.DATETIME:
            ws.column_dimensions[letter].number_format = DATETIME_FORMAT
        if choices := _choices(column, texts):
            _drop_down(ws, texts, choices, f"{letter}2:{letter}{MAX_ROWS}")
        for row, values in enumerate(rows, start=2):
            cell = ws.cell(row, number, values.get(column.key))
            cell.number_format = ws.column_dimensions[letter].number_format
    ws.row_dimensions[1].height = 45
    ws.freeze_panes = sheet.freeze
    ws.auto_filter.ref = f"A1:{get_column_letter(len(sheet.columns))}{max(len(rows) + 1, 2)}"
