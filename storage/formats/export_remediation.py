"""The export's remediation sheet (Khắc phục): one row per shortcoming of an issued
conclusion, with its unit's progress ("4/6 tồn tại đã khắc phục") as numbers, dates as
date cells. Written by storage/formats/export_xlsx.py like its other sheets."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import Assignment, Conclusion, FixStatus, Shortcoming, Team, Unit
from storage.rules.answers import Translate
from storage.rules.remediation import remediation_rate

RATE_FORMAT = "0.00"
COLUMNS = (
    "unit_code",
    "unit_name",
    "team",
    "number",
    "shortcoming",
    "fix",
    "due_on",
    "status",
    "reported_at",
    "reviewed_at",
    "unit_fixed",
    "unit_total",
    "unit_rate",
)
# Column indices (0-based) given a number format by the sheet writer.
FORMATS = {COLUMNS.index("unit_rate"): RATE_FORMAT}


def headers(tr: Translate) -> list[list[str]]:
    return [[tr(f"remediation.export.{key}") for key in COLUMNS]]


async def rows(
    session: AsyncSession,
    campaign_id: int,
    team_ids: Collection[int] | None,
    tr: Translate,
) -> Iterable[list[Any]]:
    query = (
        select(Unit.code, Unit.name, Team.name, Shortcoming, Conclusion.assignment_id)
        .join(Conclusion, Conclusion.id == Shortcoming.conclusion_id)
        .join(Assignment, Assignment.id == Conclusion.assignment_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .join(Team, Team.id == Assignment.team_id)
        .where(Assignment.campaign_id == campaign_id, Conclusion.issued_at.is_not(None))
        .order_by(Assignment.position, Shortcoming.position)
    )
    if team_ids is not None:
        query = query.where(Assignment.team_id.in_(list(team_ids)))
    found = list(await session.execute(query))
    totals: dict[int, list[int]] = {}
    for *_, s, assignment_id in found:
        counts = totals.setdefault(assignment_id, [0, 0])
        counts[0] += s.status == FixStatus.FIXED
        counts[1] += 1
    out = []
    for code, name, team, s, assignment_id in found:
        fixed, total = totals[assignment_id]
        out.append(
            [
                code,
                name,
                team,
                s.position,
                s.text,
                s.fix,
                s.due_on,
                tr(f"remediation.state.{s.status}"),
                s.reported_at,
                s.reviewed_at,
                fixed,
                total,
                remediation_rate(fixed, total),
            ]
        )
    return out
