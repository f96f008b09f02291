"""Writing one unit's conclusion notice (.docx) from what the database holds."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import Assignment, Conclusion
from storage.formats.conclusion_docx import (
    Finding,
    NoticeData,
    NoticeSettings,
    write_notice,
)
from storage.services.conclusions import issue, leader_name, local_day, team_of
from storage.services.evidence import safe_name


async def notice_data(
    session: AsyncSession, assignment: Assignment, conclusion: Conclusion, settings: NoticeSettings
) -> NoticeData:
    campaign = assignment.campaign
    team = await team_of(session, assignment)
    day = local_day(conclusion.issued_at or conclusion.concluded_at, campaign.timezone)
    return NoticeData(
        issuer=settings.issuer,
        team=team.name,
        place=settings.place,
        day=day,
        unit=assignment.unit.name,
        campaign=campaign.title,
        basis=campaign.basis,
        leader=await leader_name(session, team.id),
        strengths=conclusion.strengths,
        findings=tuple(Finding(s.text, s.fix, s.due_on) for s in conclusion.shortcomings),
        recipients=(assignment.unit.name, f"Thành viên {team.name}", settings.issuer),
    )


def notice_file_name(assignment: Assignment) -> str:
    return safe_name(f"thong-bao-ket-luan-{assignment.campaign.code}-{assignment.unit.code}.docx")


async def write_unit_notice(
    session: AsyncSession,
    assignment: Assignment,
    conclusion: Conclusion,
    settings: NoticeSettings,
    target: Path,
) -> Path:
    """Write the notice to `target` (off the event loop: python-docx does file work)."""
    data = await notice_data(session, assignment, conclusion, settings)
    return await asyncio.to_thread(write_notice, data, target, settings.template)


def issued_path(evidence_root: Path, assignment: Assignment, conclusion: Conclusion) -> Path:
    """Where the issued notice is kept: beside the evidence, out of the units' folders."""
    return evidence_root / ".conclusions" / f"{conclusion.id}-{notice_file_name(assignment)}"


async def issue_conclusion(
    session: AsyncSession,
    assignment: Assignment,
    conclusion: Conclusion,
    settings: NoticeSettings,
    evidence_root: Path,
    *,
    person_id: int | None,
    actor_label: str = "",
    now: datetime,
) -> tuple[Path, int]:
    """Write the notice (once: an issued one is kept as it was) and issue it: the unit's
    contacts get it in chat. Returns the document and the outbox rows written."""
    path = Path(conclusion.document_path) if conclusion.document_path else None
    if path is None or not path.is_file():
        path = issued_path(evidence_root, assignment, conclusion)
        await write_unit_notice(session, assignment, conclusion, settings, path)
    rows = await issue(
        session,
        assignment,
        conclusion,
        path,
        person_id=person_id,
        actor_label=actor_label,
        now=now,
    )
    return path, rows
