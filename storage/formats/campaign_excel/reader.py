"""Reading a filled-in workbook: sheets -> the campaign document -> the YAML file's checks.

The workbook is turned into the document the YAML file is read into
(`{"units": [{"code": ...}]}`), checked by `campaign_file.check_campaign_document`, and
each problem's document path is told at its cell (see places.py). Headers starting with
"#" are the admin's own notes; a header may be "Label (key)", the key alone, or a label of
the catalog in any language.
"""

from __future__ import annotations

import difflib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet

from common.i18n import Catalog
from storage.formats.campaign_excel.cells import AnyCell, cell_value, is_empty
from storage.formats.campaign_excel.layout import (
    CAMPAIGN,
    CHECKLIST,
    SHEETS,
    TABLES,
    TEAMS,
    UNITS,
    Column,
    Kind,
    Sheet,
)
from storage.formats.campaign_excel.places import Place, Places
from storage.formats.campaign_excel.scoring_cells import scoring_value
from storage.formats.campaign_excel.texts import labels
from storage.formats.campaign_file import check_campaign_document
from storage.formats.campaign_spec import CampaignSpec, Problem
from storage.rules.answers import fold

_KEY_IN_HEADER = re.compile(r"\(\s*([A-Za-z_.]+)\s*\)\s*$")


def load_campaign_workbook(
    path: str | Path, catalog: Catalog | None = None
) -> tuple[CampaignSpec | None, list[Problem]]:
    """Read and check a campaign workbook; (spec, []) or (None, every problem found), each
    problem located at its cell: `where` is "Đơn vị!C5 (team)", `line` None. `catalog`
    gives the column labels a header may be written as (default: the shipped one)."""
    opened = _open(Path(path))
    if isinstance(opened, Problem):
        return None, [opened]
    reader = _WorkbookReader(opened, catalog or Catalog.load())
    spec, found = check_campaign_document(reader.read())
    for problem in found:
        reader.places.relocate(problem)
    if reader.places.problems:
        return None, reader.places.in_order()
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
class _Row:
    """A row of a table sheet: its values by key, and the place of every column's cell."""

    values: dict[str, Any]
    places: dict[str, Place]


class _WorkbookReader:
    """Builds the document from the sheets, remembering where each of its paths came from."""

    def __init__(self, workbook: Workbook, catalog: Catalog) -> None:
        self.workbook = workbook
        self.labels = {sheet.role: labels(catalog, sheet.role) for sheet in SHEETS}
        self.places = Places()

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
            self.places.add("missing_sheet", Place(sheet.title, order), sheet=sheet.title)
            keys = [c.key for c in sheet.columns if c.required] if sheet is CAMPAIGN else []
            self.places.told_missing.update(keys or [sheet.role])
            return None
        self.places.places["" if sheet is CAMPAIGN else sheet.role] = Place(found.title, order)
        return found

    # the campaign sheet: one key per row ------------------------------------------------------

    def _campaign(self, document: dict[str, Any]) -> None:
        ws = self._worksheet(CAMPAIGN)
        if ws is None:
            return
        seen: set[str] = set()
        for label, value in ws.iter_rows(min_row=2, max_col=2):
            if is_empty(label.value) and is_empty(value.value):
                continue
            at_label = Place(ws.title, SHEETS.index(CAMPAIGN), label.row, 1)
            if is_empty(label.value):
                self.places.add("empty_text", at_label)  # a value nobody can tell the meaning of
                continue
            text = str(label.value).strip()
            column = CAMPAIGN.column(self._header_key(CAMPAIGN, text) or "")
            key = column.key if column else text
            if key in seen:
                self.places.add("duplicate_key", at_label, key=key)
                continue
            if key in (s.role for s in TABLES):  # a list belongs on its own sheet
                self.places.add("unknown_key", at_label, key=text)
                continue
            seen.add(key)
            self._campaign_value(document, key, column, value, at_label)

    def _campaign_value(
        self,
        document: dict[str, Any],
        key: str,
        column: Column | None,
        value: AnyCell,
        at_label: Place,
    ) -> None:
        if column is None:  # let the document checks report it, with their suggestion
            self.places.places[key] = at_label
            document[key] = cell_value(value, Kind.TEXT)
            return
        place = Place(at_label.sheet, at_label.order, value.row, 2, key)
        self.places.places[key] = place
        if (read := self._cell(value, column, place)) is not None:
            document[key] = read

    # table sheets: a header row, then one entry per row ------------------------------------------

    def _table(self, sheet: Sheet) -> list[_Row] | None:
        """The sheet's rows with a value in a known column; None if the sheet is missing."""
        ws = self._worksheet(sheet)
        if ws is None:
            return None
        columns = self._header(ws, sheet)
        rows = []
        for row in range(2, ws.max_row + 1):
            values: dict[str, Any] = {}
            places: dict[str, Place] = {}  # every column's cell, empty ones too (missing_key)
            for number, column in columns.items():
                place = Place(ws.title, SHEETS.index(sheet), row, number, column.key)
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
            text = "" if is_empty(value) else str(value).strip()
            if not text or text.startswith("#"):  # no header, or the admin's own notes
                continue
            place = Place(ws.title, order, 1, number)
            column = sheet.column(self._header_key(sheet, text) or "")
            if column is None:
                self._unknown_column(sheet, text, place)
            elif column in columns.values():
                self.places.add("duplicate_key", place, key=column.key)
            else:
                columns[number] = column
        for column in sheet.columns:
            if column.required and column not in columns.values():
                self.places.add("missing_column", Place(ws.title, order, 1), column=column.key)
                path = "checklist.items" if sheet is CHECKLIST and column.key != "section" else ""
                self.places.told_missing.add(f"{path or sheet.role}.{column.key}")
        return columns

    def _header_key(self, sheet: Sheet, header: str) -> str | None:
        """The key of a header: "Mã đơn vị (code)", "code", or a catalog label ("Mã đơn vị")."""
        key = _key_part(header)
        if sheet.column(key) is not None:
            return key
        return self.labels[sheet.role].get(fold(header))

    def _unknown_column(self, sheet: Sheet, text: str, place: Place) -> None:
        keys = [c.key for c in sheet.columns]
        close = difflib.get_close_matches(_key_part(text).lower(), keys, n=1, cutoff=0.6)
        if close:
            self.places.add("unknown_column_did_you_mean", place, column=text, suggestion=close[0])
        else:
            self.places.add("unknown_column", place, column=text)

    def _cell(self, cell: AnyCell, column: Column, place: Place) -> Any:
        if column.kind is not Kind.SCORING or not isinstance(cell.value, str):
            return cell_value(cell, column.kind)
        rule, repeated = scoring_value(cell.value)
        for key in repeated:  # a dict keeps one of them: say so rather than lose one
            self.places.add("duplicate_key", place, key=key)
        return rule

    # entries ------------------------------------------------------------------------------------

    def _entries(self, sheet: Sheet, rows: list[_Row]) -> list[dict[str, Any]]:
        entries = []
        for index, row in enumerate(rows):
            self.places.record(f"{sheet.role}[{index}]", row.places)
            entries.append(_nest(row.values))
        return entries

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
                self.places.record(
                    path, {"section": places["section"]} if "section" in places else places
                )
                self.places.places[f"{path}.items"] = self.places.places[path]  # an empty one
                sections.append({"items": []} if title is None else {"section": title, "items": []})
            if values:
                items = sections[-1]["items"]
                path = f"checklist[{len(sections) - 1}].items[{len(items)}]"
                self.places.record(path, {k: p for k, p in places.items() if k != "section"})
                items.append(_nest(values))
        return sections


def _key_part(header: str) -> str:
    found = _KEY_IN_HEADER.search(header)
    return found[1] if found else header


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
