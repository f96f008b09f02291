"""The campaign as an Excel workbook: a template for admins to fill in, and reading it back.

Admins live in Excel. `write_template` writes a workbook with a sheet per part of the campaign
file (docs/campaign-file.md): "Đợt kiểm tra" (key/value rows), "Đoàn", "Đơn vị", "Danh mục"
(one row per team, unit, item), plus a "Hướng dẫn" sheet explaining every column.
`load_campaign_workbook` reads it back with exactly the YAML file's checks: the workbook is
turned into the document the YAML file is read into (`{"units": [{"code": ...}]}`), checked
by `campaign_file.check_campaign_document`, and each problem's document path (`units[3].team`)
is mapped back to its cell, `Đơn vị!C5 (team)`.

Columns are known by the key in parentheses that ends their header ("Mã đơn vị (code)"), so
labels may be translated or reworded and columns reordered; a header may also be just the
key or a label of the catalog. Headers starting with "#" are the admin's own notes.

Texts (labels, explanations, the guide) live in the locale catalog,
common/locales/<lang>/campaign_excel.yaml; storage does not import bot, so they are read here
as data. Sheet names are fixed (Vietnamese) because they identify the sheets.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import Enum, auto
from functools import cache
from pathlib import Path
from typing import Any
from zipfile import BadZipFile
from zoneinfo import ZoneInfo

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import Cell, MergedCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from storage.formats.campaign_file import DEFAULT_TIMEZONE, check_campaign_document
from storage.formats.campaign_file import PROBLEM_PARAMS as FILE_PROBLEM_PARAMS
from storage.formats.campaign_spec import (
    CampaignSpec,
    EvidencePolicy,
    InspectionForm,
    ItemSpec,
    ItemType,
    Problem,
    ReminderPolicy,
    UnitSpec,
)
from storage.rules.answers import fold
from storage.rules.scoring import RULES_BY_TYPE, plain

AnyCell = Cell | MergedCell  # the hidden cells of a merged range are MergedCells
LOCALES_DIR = Path(__file__).resolve().parents[2] / "common" / "locales"
DEFAULT_LOCALE = "vi"
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


# --- the layout ------------------------------------------------------------------------------


class Kind(Enum):
    """How a cell becomes a value of the document (the YAML parser checks the value)."""

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

CAMPAIGN = Sheet("campaign", "Đợt kiểm tra", (
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
), aliases=("Campaign",))  # fmt: skip
TEAMS = Sheet("teams", "Đoàn", (
    Column("code", Kind.CODE, 12, required=True),
    Column("name", Kind.TEXT, 45, required=True),
    Column("leaders", Kind.INTEGER),
    Column("members", Kind.INTEGER),
), aliases=("Teams",))  # fmt: skip
UNITS = Sheet("units", "Đơn vị", (
    Column("code", Kind.CODE, 12, required=True),
    Column("name", Kind.TEXT, 45, required=True),
    Column("team", Kind.CODE, 12),
    Column("form", Kind.CHOICE, 16, choices=_FORMS),
    Column("deadline", Kind.DATETIME, 18),
    Column("visit.at", Kind.DATETIME, 18),
    Column("visit.place", Kind.TEXT, 35),
    Column("visit.announced", Kind.BOOL, 12),
    Column("contacts", Kind.INTEGER, 12),
), aliases=("Units",))  # fmt: skip
CHECKLIST = Sheet("checklist", "Danh mục", (
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
), freeze="C2", aliases=("Checklist",))  # fmt: skip
GUIDE_TITLE = "Hướng dẫn"
TABLES = (TEAMS, UNITS, CHECKLIST)
SHEETS = (CAMPAIGN, *TABLES)

# The scoring forms as the guide lists them: name, rule it normalises to, example.
SCORING_FORMS = (
    ("yes", "yes", "yes"),
    ("answered", "answered", "answered"),
    ("thresholds", "at_least", "thresholds: 90=2; 70=1"),
    ("at_most", "at_most", "at_most: 0=1; 2=0,5"),
    ("on_or_before", "on_or_before", "on_or_before: 31/12/2020; late=0,5"),
    ("choices", "choices", "choices: Đã áp dụng=0,5; Đang xây dựng=0,25"),
    ("each", "each", "each: 0,25"),
    ("proportional", "proportional", "proportional: 70"),
)


# --- texts --------------------------------------------------------------------------------


@cache
def _catalog(locale: str) -> dict[str, str]:
    """campaign_excel.yaml of one locale, flattened ("column.units.code.label")."""
    path = LOCALES_DIR / locale / "campaign_excel.yaml"
    if not path.exists():
        path = LOCALES_DIR / DEFAULT_LOCALE / "campaign_excel.yaml"
    flat: dict[str, str] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        else:
            flat[prefix] = str(node)

    walk("", YAML(typ="safe").load(path.read_text(encoding="utf-8")))
    return flat


def _locales() -> list[str]:
    return sorted(p.parent.name for p in LOCALES_DIR.glob("*/campaign_excel.yaml"))


@cache
def _labels(role: str) -> dict[str, str]:
    """Folded column label in any locale -> key: a header typed without "(key)" is known."""
    sheet = next(s for s in SHEETS if s.role == role)
    return {
        fold(_catalog(locale)[f"column.{role}.{column.text_key}.label"]): column.key
        for locale in _locales()
        for column in sheet.columns
    }


# --- reading ------------------------------------------------------------------------------


def load_campaign_workbook(path: str | Path) -> tuple[CampaignSpec | None, list[Problem]]:
    """Read and check a campaign workbook; (spec, []) or (None, every problem found), each
    problem located at its cell: `where` is "Đơn vị!C5 (team)", `line` None."""
    opened = _open(Path(path))
    if isinstance(opened, Problem):
        return None, [opened]
    reader = _WorkbookReader(opened)
    document = reader.read()
    spec, found = check_campaign_document(document)
    for problem in found:
        reader.relocate(problem)
    if reader.problems:
        return None, [p for _, p in sorted(reader.problems, key=lambda found: found[0])]
    return spec, []


def _open(path: Path) -> Workbook | Problem:
    try:
        with warnings.catch_warnings():
            # openpyxl warns about Excel features it does not keep (extensions, styles);
            # none of them carries campaign data
            warnings.simplefilter("ignore")
            return load_workbook(path, data_only=True)
    except (InvalidFileException, BadZipFile, KeyError, ValueError):
        return Problem("not_xlsx", "", None)
    except OSError as exc:
        return Problem("cannot_read", "", None, {"detail": exc.strerror or str(exc)})


@dataclass(frozen=True)
class _Place:
    """A place in the workbook: a sheet, a header row or a cell (1-based row and column)."""

    sheet: str
    order: int  # the sheet's position in SHEETS, to report in workbook order
    row: int | None = None
    column: int | None = None
    key: str = ""  # the key of the column, when the place is a cell of one

    def at(self) -> str:
        """ "Đơn vị!C5", "Đơn vị!1:1" (Excel's name of a whole row) or "Đơn vị"."""
        if self.row is None:
            return self.sheet
        if self.column is None:
            return f"{self.sheet}!{self.row}:{self.row}"
        return f"{self.sheet}!{get_column_letter(self.column)}{self.row}"

    def where(self, key: str) -> str:
        """ "Đơn vị!C5 (team)"; `key` names the column when the place is not a column's."""
        key = self.key or key
        return f"{self.at()} ({key})" if key else self.at()

    def sort_key(self) -> tuple[int, int, int]:
        return self.order, self.row or 0, self.column or 0


_INDEX = re.compile(r"\[\d+\]")
_ALL_PARAMS = {**FILE_PROBLEM_PARAMS, **PROBLEM_PARAMS}


@dataclass(frozen=True)
class _Row:
    """A row of a table sheet: its values by key, and the place of every column's cell."""

    values: dict[str, Any]
    places: dict[str, _Place]


class _WorkbookReader:
    """Builds the document from the sheets, remembering where each of its paths came from."""

    def __init__(self, workbook: Workbook) -> None:
        self.workbook = workbook
        self.places: dict[str, _Place] = {}  # document path -> where it was read
        self.problems: list[tuple[tuple[int, int, int], Problem]] = []
        # "missing" problems already told per sheet or column (paths without indexes,
        # "units.code"): the parser's per-row twins would only repeat them
        self.told_missing: set[str] = set()

    # problems ---------------------------------------------------------------------------------

    def add(self, code: str, place: _Place, key: str = "", /, **params: Any) -> None:
        assert set(params) == set(_ALL_PARAMS[code]), code  # keeps the catalog honest
        self.problems.append((place.sort_key(), Problem(code, place.where(key), None, params)))

    def relocate(self, problem: Problem) -> None:
        """Put a problem the parser found (at a document path) at its cell."""
        if problem.code == "missing_key" and _INDEX.sub("", problem.where) in self.told_missing:
            return
        if problem.code == "unknown_team" and "teams" in self.told_missing:
            return  # no sheet of teams makes every unit's team unknown: told once already
        place = self.place_of(problem.where)
        params = dict(problem.params)
        first = self.place_of(params["first"]) if problem.code == "duplicate_code" else None
        if first is not None:  # "first" is a document path too: name its cell
            params["first"] = first.at()
        where = place.where(_leaf(problem.where)) if place else problem.where
        order = place.sort_key() if place else (0, 0, 0)
        self.problems.append((order, Problem(problem.code, where, None, params)))

    def place_of(self, path: str) -> _Place | None:
        """The place of a path or of its nearest recorded parent ("...scoring.thresholds.90"
        is the scoring cell)."""
        while True:
            if path in self.places:
                return self.places[path]
            if not path:
                return None
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""

    # sheets ------------------------------------------------------------------------------------

    def read(self) -> dict[str, Any]:
        document: dict[str, Any] = {}
        self._campaign(document)
        for sheet in (TEAMS, UNITS):
            rows = self._table(sheet)
            if rows is not None:
                document[sheet.role] = self._entries(sheet, rows)
        rows = self._table(CHECKLIST)
        if rows is not None:
            document["checklist"] = self._sections(rows)
        return document

    def _worksheet(self, sheet: Sheet) -> Worksheet | None:
        names = {fold(n) for n in (sheet.title, *sheet.aliases)}
        found = next((ws for ws in self.workbook.worksheets if fold(ws.title) in names), None)
        order = SHEETS.index(sheet)
        if found is None:
            self.add("missing_sheet", _Place(sheet.title, order), sheet=sheet.title)
            keys = [c.key for c in sheet.columns if c.required] if sheet is CAMPAIGN else []
            self.told_missing.update(keys or [sheet.role])
            return None
        path = "" if sheet is CAMPAIGN else sheet.role
        self.places[path] = _Place(found.title, order)
        return found

    def _campaign(self, document: dict[str, Any]) -> None:
        ws = self._worksheet(CAMPAIGN)
        if ws is None:
            return
        order = SHEETS.index(CAMPAIGN)
        seen: set[str] = set()
        for row in ws.iter_rows(min_row=2, max_col=2):
            label, value = row[0], row[1]
            if _is_empty(label.value) and _is_empty(value.value):
                continue
            at_label = _Place(ws.title, order, label.row, 1)
            if _is_empty(label.value):
                self.add("empty_text", at_label)  # a value nobody can tell the meaning of
                continue
            text = str(label.value).strip()
            column = CAMPAIGN.column(_header_key(CAMPAIGN, text) or "")
            key = column.key if column else text
            if key in seen:
                self.add("duplicate_key", at_label, key=key)
            elif key in (s.role for s in TABLES):  # a list belongs on its own sheet
                self.add("unknown_key", at_label, key=text)
            elif column is None:  # let the parser report it, with its suggestion
                seen.add(key)
                self.places[key] = at_label
                document[key] = _value(value, Kind.TEXT)
            else:
                seen.add(key)
                self.places[key] = _Place(ws.title, order, value.row, 2, key)
                if (read := self._cell(value, column, self.places[key])) is not None:
                    document[key] = read

    def _table(self, sheet: Sheet) -> list[_Row] | None:
        """The sheet's rows with a value in a known column; None if the sheet is missing."""
        ws = self._worksheet(sheet)
        if ws is None:
            return None
        columns = self._header(ws, sheet)
        rows = []
        for row in range(2, ws.max_row + 1):
            values: dict[str, Any] = {}
            places: dict[str, _Place] = {}  # every column's cell, empty ones too (missing_key)
            for number, column in columns.items():
                place = _Place(ws.title, SHEETS.index(sheet), row, number, column.key)
                places[column.key] = place
                read = self._cell(ws.cell(row, number), column, place)
                if read is not None:
                    values[column.key] = read
            if values:  # empty rows, in the middle or trailing, are not entries
                rows.append(_Row(values, places))
        return rows

    def _header(self, ws: Worksheet, sheet: Sheet) -> dict[int, Column]:
        """Columns by number, from row 1; reports unknown, repeated and missing columns."""
        order = SHEETS.index(sheet)
        columns: dict[int, Column] = {}
        for number in range(1, ws.max_column + 1):
            value = ws.cell(1, number).value
            text = "" if _is_empty(value) else str(value).strip()
            if not text or text.startswith("#"):  # no header, or the admin's own notes
                continue
            place = _Place(ws.title, order, 1, number)
            column = sheet.column(_header_key(sheet, text) or "")
            if column is None:
                self._unknown_column(sheet, text, place)
            elif column in columns.values():
                self.add("duplicate_key", place, key=column.key)
            else:
                columns[number] = column
        for column in sheet.columns:
            if column.required and column not in columns.values():
                self.add("missing_column", _Place(ws.title, order, 1), column=column.key)
                path = "checklist.items" if sheet is CHECKLIST and column.key != "section" else ""
                self.told_missing.add(f"{path or sheet.role}.{column.key}")
        return columns

    def _unknown_column(self, sheet: Sheet, text: str, place: _Place) -> None:
        keys = [c.key for c in sheet.columns]
        close = difflib.get_close_matches(_key_part(text).lower(), keys, n=1, cutoff=0.6)
        if close:
            self.add("unknown_column_did_you_mean", place, column=text, suggestion=close[0])
        else:
            self.add("unknown_column", place, column=text)

    def _cell(self, cell: AnyCell, column: Column, place: _Place) -> Any:
        if column.kind is not Kind.SCORING or not isinstance(cell.value, str):
            return _value(cell, column.kind)
        rule, repeated = scoring_value(cell.value)
        for key in repeated:  # a dict keeps one of them: say so rather than lose one
            self.add("duplicate_key", place, key=key)
        return rule

    # entries -----------------------------------------------------------------------------------

    def _entries(self, sheet: Sheet, rows: list[_Row]) -> list[dict[str, Any]]:
        entries = []
        for index, row in enumerate(rows):
            self._record(f"{sheet.role}[{index}]", row.places)
            entries.append(_nest(row.values))
        return entries

    def _record(self, path: str, places: dict[str, _Place]) -> None:
        """Remember where an entry's keys are; the entry itself is its first column's cell."""
        first = min(places.values(), key=lambda p: p.column or 0)
        self.places[path] = _Place(first.sheet, first.order, first.row, first.column)
        for key, place in places.items():
            self.places[f"{path}.{key}"] = place
            parent = key.rpartition(".")[0]  # "visit" is where "visit.at" is, if written
            if parent and (f"{path}.{parent}" not in self.places or key.endswith(".at")):
                self.places[f"{path}.{parent}"] = place

    def _sections(self, rows: list[_Row]) -> list[dict[str, Any]]:
        """Rows grouped into sections: a row naming another area starts one, a row with an
        empty area continues the one above, a row with only the area is a heading."""
        sections: list[dict[str, Any]] = []
        for row in rows:
            values, places = dict(row.values), row.places
            title = values.pop("section", None)
            if not sections or (title is not None and title != sections[-1].get("section")):
                path = f"checklist[{len(sections)}]"
                # no section column (already reported): the row stands for the section
                self._record(path, {"section": places["section"]} if "section" in places
                             else places)  # fmt: skip
                self.places[f"{path}.items"] = self.places[path]  # an empty section
                sections.append({"items": []} if title is None else {"section": title,
                                                                     "items": []})  # fmt: skip
            if values:
                items = sections[-1]["items"]
                path = f"checklist[{len(sections) - 1}].items[{len(items)}]"
                self._record(path, {k: p for k, p in places.items() if k != "section"})
                items.append(_nest(values))
        return sections


def _leaf(path: str) -> str:
    """The key a path ends in: "units[3].team" -> "team", "reminders[1]" -> "reminders"."""
    return _INDEX.sub("", path).rpartition(".")[2]


_KEY_IN_HEADER = re.compile(r"\(\s*([A-Za-z_.]+)\s*\)\s*$")


def _key_part(header: str) -> str:
    found = _KEY_IN_HEADER.search(header)
    return found[1] if found else header


def _header_key(sheet: Sheet, header: str) -> str | None:
    """The key of a header: "Mã đơn vị (code)", "code", or a catalog label ("Mã đơn vị")."""
    key = _key_part(header)
    if sheet.column(key) is not None:
        return key
    return _labels(sheet.role).get(fold(header))


def _nest(values: dict[str, Any]) -> dict[str, Any]:
    """{"visit.at": x} -> {"visit": {"at": x}}: the shape of the YAML unit."""
    nested: dict[str, Any] = {}
    for key, value in values.items():
        parent, _, child = key.rpartition(".")
        if parent:
            nested.setdefault(parent, {})[child] = value
        else:
            nested[key] = value
    return nested


# --- cells --------------------------------------------------------------------------------


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _value(cell: AnyCell, kind: Kind) -> Any:
    """A cell as the YAML parser expects the value; None when empty (the default applies).
    Values of the wrong kind are passed on as they are, for the parser to report."""
    raw = cell.value
    if _is_empty(raw):
        return None
    if isinstance(raw, str):
        raw = raw.strip()
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # Excel stores every number as a float: 2.0 is the count 2
    return _CONVERTERS.get(kind, _as_is)(raw, cell)


def _as_is(raw: Any, cell: AnyCell) -> Any:
    return raw


def _text(raw: Any, cell: AnyCell) -> Any:
    if isinstance(raw, time):  # Excel turns a typed "08:00" into a time of day
        return raw.strftime("%H:%M")
    return raw


def _code(raw: Any, cell: AnyCell) -> Any:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)  # "1.1" typed into a General cell became the number 1.1
    return raw


def _integer(raw: Any, cell: AnyCell) -> Any:
    if isinstance(raw, str) and raw.isdigit():
        return int(raw)  # typed into a Text cell
    return raw


def _datetime(raw: Any, cell: AnyCell) -> Any:
    """A date cell without a time in its format is a date (23:59 as a deadline), not
    midnight: Excel stores both as a date-time."""
    if isinstance(raw, datetime) and raw.time() == time() and not _shows_time(cell):
        return raw.date()
    return raw


def _shows_time(cell: AnyCell) -> bool:
    visible = re.sub(r'"[^"]*"|\[[^\]]*\]', "", cell.number_format or "")  # drop literals
    return "h" in visible.lower()


def _options(raw: Any, cell: AnyCell) -> Any:
    return _split(raw, ";\n")


def _durations(raw: Any, cell: AnyCell) -> Any:
    return _split(raw, ";,\n")


def _split(raw: Any, separators: str) -> list[Any]:
    if not isinstance(raw, str):
        return [raw]
    parts = re.split(f"[{re.escape(separators)}]", raw)
    return [part.strip() for part in parts if part.strip()]


_CONVERTERS: dict[Kind, Callable[[Any, AnyCell], Any]] = {
    Kind.TEXT: _text,
    Kind.CODE: _code,
    Kind.INTEGER: _integer,
    Kind.DATETIME: _datetime,
    Kind.OPTIONS: _options,
    Kind.DURATIONS: _durations,
}


def scoring_value(text: str) -> tuple[Any, list[str]]:
    """The Excel spelling of a rule as the YAML value `parse_scoring` reads, and the keys
    written twice.

        yes | answered                           -> "yes" | "answered"
        thresholds: 90=2; 70=1                   -> {"thresholds": {"90": "2", "70": "1"}}
        on_or_before: 31/12/2020; late=0,5       -> {"on_or_before": "31/12/2020", "late": "0,5"}
        each: 0,25                               -> {"each": "0,25"}
        {thresholds: {90: 2}}                    -> the YAML flow form, copied from a file

    Steps are threshold=points separated by ";"; a part without "=" is the form's own value,
    and "key=value" parts next to it are its extra keys (late).
    """
    text = text.strip()
    if text.startswith("{"):
        try:
            return YAML(typ="safe").load(text), []
        except YAMLError:
            return text, []
    form, colon, body = text.partition(":")
    if not colon:
        return text, []
    pairs: dict[str, str] = {}
    repeated: list[str] = []
    values: list[str] = []
    for part in (p.strip() for p in re.split(r"[;\n]", body)):
        key, equals, value = part.rpartition("=")  # option texts may hold "=", points not
        if equals and key.strip() in pairs:
            repeated.append(key.strip())
        if equals:
            pairs[key.strip()] = value.strip()
        elif part:
            values.append(part)
    form = form.strip()
    if not values:
        return {form: pairs}, repeated
    return {form: "; ".join(values), **pairs}, repeated


# --- writing ------------------------------------------------------------------------------

_HEADER_FONT = Font(bold=True, color="FFFFFF")
_OPTIONAL_FONT = Font(bold=True, color="1F3864")
_REQUIRED_FILL = PatternFill("solid", fgColor="1F4E78")
_OPTIONAL_FILL = PatternFill("solid", fgColor="DDEBF7")
_THIN = Side(style="thin", color="9BC2E6")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP = Alignment(wrap_text=True, vertical="top")
_HEADER_ALIGN = Alignment(wrap_text=True, vertical="center", horizontal="center")


class _Texts:
    """The template's texts in one language (common/locales/<lang>/campaign_excel.yaml)."""

    def __init__(self, locale: str) -> None:
        self.table = _catalog(locale)

    def __call__(self, key: str) -> str:
        return self.table[key]

    def header(self, sheet: Sheet, column: Column) -> str:
        return f"{self(f'column.{sheet.role}.{column.text_key}.label')} ({column.key})"

    def yes_no(self, value: bool) -> str:
        return self("value_yes" if value else "value_no")


def write_template(
    path: str | Path, *, example: CampaignSpec | None = None, locale: str = DEFAULT_LOCALE
) -> None:
    """Write the campaign workbook: empty, or filled with `example` (which reads back equal).
    `locale` is the language of labels and explanations; sheet names stay Vietnamese."""
    texts = _Texts(locale)
    workbook = Workbook()
    guide = workbook.active
    assert guide is not None
    guide.title = GUIDE_TITLE  # first: what an admin opening the file should read
    _write_guide(guide, texts)
    zone = ZoneInfo(example.timezone if example else DEFAULT_TIMEZONE)
    default_form = _default_form(example.units) if example else None
    _write_campaign(workbook.create_sheet(CAMPAIGN.title), texts, example, default_form, zone)
    rows: dict[str, list[dict[str, Any]]] = {"teams": [], "units": [], "checklist": []}
    if example:
        rows["teams"] = [asdict(team) for team in example.teams]
        rows["units"] = [_unit_row(u, default_form, zone, texts) for u in example.units]
        rows["checklist"] = [_item_row(s.title, i, texts) for s in example.sections
                             for i in s.items]  # fmt: skip
    for sheet in TABLES:
        _write_table(workbook.create_sheet(sheet.title), sheet, texts, rows[sheet.role])
    workbook.save(Path(path))


def _default_form(units: Iterable[UnitSpec]) -> InspectionForm:
    """The campaign-wide form: the most common one, so only the exceptions are written."""
    counts = Counter(unit.form for unit in units)
    return counts.most_common(1)[0][0] if counts else InspectionForm.REPORT


def _local(moment: datetime | None, zone: tzinfo) -> datetime | None:
    """A stored UTC time as the naive local time Excel shows (Excel has no time zones)."""
    return moment.astimezone(zone).replace(tzinfo=None) if moment else None


def _duration_text(delta: timedelta | None) -> str:
    if delta is None:
        return "off"
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return "".join(parts) or "0m"


def _number_text(number: float) -> str:
    """1.125 -> "1,125": a decimal comma, which the readers never take for thousands."""
    return str(plain(number)).replace(".", ",")


def rule_text(rule: dict[str, Any] | None) -> str:
    """A normalised scoring rule in the Excel spelling (see `scoring_value`)."""
    if rule is None:
        return ""
    name = rule["rule"]
    if name in ("yes", "answered"):
        return str(name)
    if name in ("at_least", "at_most"):
        steps = "; ".join(f"{_number_text(t)}={_number_text(p)}" for t, p in rule["steps"])
        return f"{'thresholds' if name == 'at_least' else 'at_most'}: {steps}"
    if name == "on_or_before":
        day = date.fromisoformat(rule["date"]).strftime("%d/%m/%Y")
        late = f"; late={_number_text(rule['late'])}" if rule.get("late") else ""
        return f"on_or_before: {day}{late}"
    if name == "choices":
        gains = "; ".join(f"{o}={_number_text(p)}" for o, p in rule["points"].items())
        return f"choices: {gains}"
    if name == "each":
        return f"each: {_number_text(rule['points'])}"
    return f"proportional: {_number_text(rule['target'])}"


def _policy_values(policy: ReminderPolicy, texts: _Texts) -> dict[str, Any]:
    start, end = policy.quiet_start, policy.quiet_end
    quiet = f"{start:%H:%M}-{end:%H:%M}" if start is not None and end is not None else "off"
    return {
        "reminders": "; ".join(_duration_text(d) for d in policy.reminders),
        "overdue_every": _duration_text(policy.overdue_every),
        "overdue_limit": policy.overdue_limit,
        "escalate_after": _duration_text(policy.escalate_after),
        "quiet_hours": quiet,
        "working_days_only": texts.yes_no(policy.working_days_only),
        "visit_notice_before": _duration_text(policy.visit_notice_before),
        "summary_at": policy.summary_at or "off",
        "summary_when_unchanged": texts.yes_no(policy.summary_when_unchanged),
    }


def _unit_row(
    unit: UnitSpec, default_form: InspectionForm | None, zone: tzinfo, texts: _Texts
) -> dict[str, Any]:
    visit = unit.visit
    return {
        "code": unit.code, "name": unit.name, "team": unit.team,
        "form": None if unit.form is default_form else unit.form.value,
        "deadline": _local(unit.deadline, zone),
        "visit.at": _local(visit.at, zone) if visit else None,
        "visit.place": visit.place or None if visit else None,
        "visit.announced": texts.yes_no(visit.announced) if visit else None,
        "contacts": unit.contacts,
    }  # fmt: skip


def _item_row(section: str, item: ItemSpec, texts: _Texts) -> dict[str, Any]:
    return {
        "section": section, "code": item.code, "text": item.text, "help": item.help or None,
        "type": item.type.value, "options": "; ".join(item.options) or None,
        "required": texts.yes_no(item.required), "evidence": item.evidence.value,
        "points": plain(item.points) if item.points else None,
        "scoring": rule_text(item.scoring) or None,
        "min": _plain_or_none(item.min), "max": _plain_or_none(item.max),
        "max_length": item.max_length,
    }  # fmt: skip


def _plain_or_none(number: float | None) -> int | float | None:
    return None if number is None else plain(number)


def _style_header(cell: AnyCell, required: bool) -> None:
    cell.font = _HEADER_FONT if required else _OPTIONAL_FONT
    cell.fill = _REQUIRED_FILL if required else _OPTIONAL_FILL
    cell.alignment = _HEADER_ALIGN
    cell.border = _BORDER


def _drop_down(ws: Worksheet, texts: _Texts, values: Iterable[str], cells: str) -> None:
    listed = ",".join(values)
    validation = DataValidation(type="list", formula1=f'"{listed}"', allow_blank=True)
    validation.error, validation.errorTitle = texts("validation.message"), texts("validation.title")
    validation.showErrorMessage = True
    ws.add_data_validation(validation)
    validation.add(cells)


def _choices(column: Column, texts: _Texts) -> tuple[str, ...]:
    return (texts.yes_no(True), texts.yes_no(False)) if column.kind is Kind.BOOL else column.choices


def _write_campaign(
    ws: Worksheet,
    texts: _Texts,
    example: CampaignSpec | None,
    default_form: InspectionForm | None,
    zone: tzinfo,
) -> None:
    values: dict[str, Any] = {}
    if example:
        values = {
            "code": example.code, "title": example.title, "basis": example.basis or None,
            "timezone": example.timezone, "deadline": _local(example.deadline, zone),
            "form": default_form.value if default_form else None,
            **_policy_values(example.policy, texts),
        }  # fmt: skip
    for number, key in enumerate(("label", "value", "help"), start=1):
        _style_header(ws.cell(1, number, texts(f"header.{key}")), required=True)
    for row, column in enumerate(CAMPAIGN.columns, start=2):
        label = ws.cell(row, 1, texts.header(CAMPAIGN, column))
        _style_header(label, column.required)
        label.alignment = Alignment(wrap_text=True, vertical="top")
        value = ws.cell(row, 2, values.get(column.key))
        value.number_format = DATETIME_FORMAT if column.kind is Kind.DATETIME else "@"
        value.alignment = Alignment(vertical="top", horizontal="left", wrap_text=True)
        ws.cell(row, 3, texts(f"column.campaign.{column.key}.help")).alignment = _WRAP
        if choices := _choices(column, texts):
            _drop_down(ws, texts, choices, value.coordinate)
    for letter, width in (("A", 38), ("B", 45), ("C", 80)):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = CAMPAIGN.freeze


def _write_table(ws: Worksheet, sheet: Sheet, texts: _Texts, rows: list[dict[str, Any]]) -> None:
    for number, column in enumerate(sheet.columns, start=1):
        header = ws.cell(1, number, texts.header(sheet, column))
        _style_header(header, column.required)
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


def _write_guide(ws: Worksheet, texts: _Texts) -> None:
    """Notes, then every column of every sheet, then the scoring forms."""
    widths = (16, 38, 10, 70, 34)
    for number, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(number)].width = width
    row = _guide_line(ws, 1, texts("guide.title"), Font(bold=True, size=14, color="1F4E78"))
    notes = [k for k in texts.table if k.startswith("guide.notes.")]
    for key in notes:
        row = _guide_line(ws, row, "• " + texts(key), None, sum(widths))
    row = _guide_line(ws, row + 1, texts("guide.columns_title"), Font(bold=True, size=12))
    row = _guide_row(
        ws,
        row,
        [texts(f"header.{k}") for k in ("sheet", "column", "required", "meaning", "example")],
        header=True,
    )
    for sheet in SHEETS:
        row = _guide_line(
            ws, row, f"{sheet.title}: {texts(f'sheet.{sheet.role}')}", Font(bold=True)
        )
        for column in sheet.columns:
            base = f"column.{sheet.role}.{column.text_key}"
            row = _guide_row(ws, row, [
                sheet.title, texts.header(sheet, column),
                texts.yes_no(True) if column.required else "",
                texts(f"{base}.help"), texts(f"{base}.example"),
            ])  # fmt: skip
    row = _guide_line(ws, row + 1, texts("guide.scoring_title"), Font(bold=True, size=12))
    row = _guide_line(ws, row, texts("guide.scoring_note"), None, sum(widths))
    headers = [
        texts(f"header.{k}") if k else "" for k in ("form", "types", "", "meaning", "example")
    ]
    row = _guide_row(ws, row, headers, header=True)
    for name, rule, example in SCORING_FORMS:
        types = ", ".join(t.value for t, rules in RULES_BY_TYPE.items() if rule in rules)
        row = _guide_row(ws, row, [name, types, "", texts(f"scoring.{name}"), example])


def _guide_line(ws: Worksheet, row: int, text: str, font: Font | None, width: int = 0) -> int:
    """A line across the guide's columns; its height fits the text (Excel does not grow
    merged cells by itself)."""
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=5)
    cell = ws.cell(row, 1, text)
    cell.alignment = _WRAP
    if font:
        cell.font = font
    if width:
        ws.row_dimensions[row].height = 15 * (len(text) // int(width * 1.1) + 1)
    return row + 1


def _guide_row(ws: Worksheet, row: int, values: list[str], *, header: bool = False) -> int:
    for number, value in enumerate(values, start=1):
        cell = ws.cell(row, number, value or None)
        cell.alignment = _WRAP
        cell.border = _BORDER
        if header:
            _style_header(cell, required=True)
    return row + 1
