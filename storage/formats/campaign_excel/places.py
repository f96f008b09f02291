"""Where in the workbook each part of the document was read, so that every problem, found
by the reader or by the document's checks (at a path such as `units[3].team`), is told at
its cell: "Đơn vị!C5 (team)"; and the problems in workbook order."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from openpyxl.utils import get_column_letter

from storage.formats.campaign_excel.layout import PROBLEM_PARAMS
from storage.formats.campaign_file import PROBLEM_PARAMS as FILE_PROBLEM_PARAMS
from storage.formats.campaign_spec import Problem

_ALL_PARAMS = {**FILE_PROBLEM_PARAMS, **PROBLEM_PARAMS}
_INDEX = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class Place:
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


class Places:
    """Document path -> where it was read, and the problems found so far."""

    def __init__(self) -> None:
        self.places: dict[str, Place] = {}
        self.problems: list[tuple[tuple[int, int, int], Problem]] = []
        # "missing" problems already told per sheet or column (paths without indexes,
        # "units.code"): the document checks' per-row twins would only repeat them
        self.told_missing: set[str] = set()

    def add(self, code: str, place: Place, key: str = "", /, **params: Any) -> None:
        assert set(params) == set(_ALL_PARAMS[code]), code  # keeps the catalog honest
        self.problems.append((place.sort_key(), Problem(code, place.where(key), None, params)))

    def in_order(self) -> list[Problem]:
        return [p for _, p in sorted(self.problems, key=lambda found: found[0])]

    def record(self, path: str, places: dict[str, Place]) -> None:
        """Remember where an entry's keys are; the entry itself is its first column's cell."""
        first = min(places.values(), key=lambda p: p.column or 0)
        self.places[path] = Place(first.sheet, first.order, first.row, first.column)
        for key, place in places.items():
            self.places[f"{path}.{key}"] = place
            parent = key.rpartition(".")[0]  # "visit" is where "visit.at" is, if written
            if parent and (f"{path}.{parent}" not in self.places or key.endswith(".at")):
                self.places[f"{path}.{parent}"] = place

    def relocate(self, problem: Problem) -> None:
        """Put a problem the document checks found (at a document path) at its cell."""
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

    def place_of(self, path: str) -> Place | None:
        """The place of a path or of its nearest recorded parent ("...scoring.thresholds.90"
        is the scoring cell)."""
        while True:
            if path in self.places:
                return self.places[path]
            if not path:
                return None
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""


def _leaf(path: str) -> str:
    """The key a path ends in: "units[3].team" -> "team", "reminders[1]" -> "reminders"."""
    return _INDEX.sub("", path).rpartition(".")[2]
