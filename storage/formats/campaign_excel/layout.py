"""The workbook's layout, shared by the template writer and the reader: its sheets, their
columns, how each column's cells become values of the campaign document.

Sheet names are fixed (Vietnamese, with English aliases) because they identify the sheets;
columns are known by the document key in parentheses at the end of their header.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

from storage.formats.campaign_spec import EvidencePolicy, InspectionForm, ItemType

MAX_ROWS = 5000  # drop-downs and cell formats reach this row: a province has ~250 units
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"

# Problem codes only a workbook can have, and the params of their catalog texts
# (`campaign_file.problem.<code>`, next to the YAML file's, because the CLI renders both).
PROBLEM_PARAMS: dict[str, tuple[str, ...]] = {
    "not_xlsx": (),
    "missing_sheet": ("sheet",),
    "missing_column": ("column",),
    "unknown_column": ("column",),
    "unknown_column_did_you_mean": ("column", "suggestion"),
}


class Kind(Enum):
    """How a cell becomes a value of the document (the document's checks judge the value)."""

    TEXT = auto()
    CODE = auto()  # text; a number Excel made of "1.1" is taken back as text
    INTEGER = auto()
    NUMBER = auto()
    BOOL = auto()
    DATETIME = auto()
    CHOICE = auto()  # one of `Column.choices`
    OPTIONS = auto()  # "A; B; C" -> a list
    DURATIONS = auto()  # "7d; 3d, 1d" -> a list
    SCORING = auto()  # "thresholds: 90=2; 70=1" -> the YAML's mapping


@dataclass(frozen=True)
class Column:
    key: str  # the document key; dotted keys nest: "visit.at" is `visit: {at: ...}`
    kind: Kind
    width: int = 14
    required: bool = False  # the column must exist (its cells are checked by the parser)
    choices: tuple[str, ...] = ()

    @property
    def text_key(self) -> str:
        """The key in the catalog, where dots would nest: "visit_at"."""
        return self.key.replace(".", "_")


@dataclass(frozen=True)
class Sheet:
    role: str  # "campaign", or the document key of the list the sheet holds
    title: str
    columns: tuple[Column, ...]
    freeze: str = "A2"
    aliases: tuple[str, ...] = ()  # other names the sheet is found by

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)


_FORMS = tuple(f.value for f in InspectionForm)
_TYPES = tuple(t.value for t in ItemType)
_EVIDENCE = tuple(e.value for e in EvidencePolicy)

CAMPAIGN = Sheet(
    "campaign",
    "Đợt kiểm tra",
    (
        Column("code", Kind.CODE, required=True),
        Column("title", Kind.TEXT, required=True),
        Column("basis", Kind.TEXT),
        Column("timezone", Kind.TEXT),
        Column("deadline", Kind.DATETIME, required=True),
        Column("form", Kind.CHOICE, choices=_FORMS),
        Column("reminders", Kind.DURATIONS),
        Column("overdue_every", Kind.TEXT),
        Column("overdue_limit", Kind.INTEGER),
        Column("escalate_after", Kind.TEXT),
        Column("quiet_hours", Kind.TEXT),
        Column("working_days_only", Kind.BOOL),
        Column("visit_notice_before", Kind.TEXT),
        Column("summary_at", Kind.TEXT),
        Column("summary_when_unchanged", Kind.BOOL),
        Column("score_step", Kind.NUMBER),
        Column("explain_days", Kind.INTEGER),
    ),
    aliases=("Campaign",),
)
TEAMS = Sheet(
    "teams",
    "Đoàn",
    (
        Column("code", Kind.CODE, 12, required=True),
        Column("name", Kind.TEXT, 45, required=True),
        Column("leaders", Kind.INTEGER),
        Column("members", Kind.INTEGER),
    ),
    aliases=("Teams",),
)
UNITS = Sheet(
    "units",
    "Đơn vị",
    (
        Column("code", Kind.CODE, 12, required=True),
        Column("name", Kind.TEXT, 45, required=True),
        Column("team", Kind.CODE, 12),
        Column("form", Kind.CHOICE, 16, choices=_FORMS),
        Column("deadline", Kind.DATETIME, 18),
        Column("visit.at", Kind.DATETIME, 18),
        Column("visit.place", Kind.TEXT, 35),
        Column("visit.announced", Kind.BOOL, 12),
        Column("contacts", Kind.INTEGER, 12),
    ),
    aliases=("Units",),
)
CHECKLIST = Sheet(
    "checklist",
    "Danh mục",
    (
        Column("section", Kind.TEXT, 32, required=True),
        Column("code", Kind.CODE, 10, required=True),
        Column("text", Kind.TEXT, 55, required=True),
        Column("help", Kind.TEXT, 35),
        Column("type", Kind.CHOICE, 12, required=True, choices=_TYPES),
        Column("options", Kind.OPTIONS, 30),
        Column("required", Kind.BOOL, 12),
        Column("evidence", Kind.CHOICE, 13, choices=_EVIDENCE),
        Column("points", Kind.NUMBER, 10),
        Column("scoring", Kind.SCORING, 34),
        Column("min", Kind.NUMBER, 10),
        Column("max", Kind.NUMBER, 10),
        Column("max_length", Kind.INTEGER, 12),
    ),
    freeze="C2",
    aliases=("Checklist",),
)
GUIDE_TITLE = "Hướng dẫn"
TABLES = (TEAMS, UNITS, CHECKLIST)
SHEETS = (CAMPAIGN, *TABLES)
