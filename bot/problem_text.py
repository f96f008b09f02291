"""A campaign file's problem as a person reads it, at its line or its workbook cell.

Shared by `cchc-bot campaign import` and the console's import page, so both say the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from storage.formats.campaign_spec import Problem

# A workbook problem is located as "Đơn vị!C3 (team)": sheet, column letters, row.
_CELL = re.compile(r"^(?P<sheet>[^!]+)!(?P<column>[A-Z]+)(?P<row>\d+)\s*(?P<key>.*)$")


def problem_text(problem: Problem, tr: Callable[..., str]) -> str:
    message = tr(f"campaign_file.problem.{problem.code}", **problem.params)
    cell = _CELL.match(problem.where)
    if problem.line is None and cell:
        return tr("campaign_file.problem_at_cell", message=message, **cell.groupdict())
    if problem.line is None:
        return tr("campaign_file.problem_at_key", where=problem.where, message=message)
    return tr("campaign_file.problem_at", line=problem.line, where=problem.where, message=message)
