"""The audit log: one row per thing someone did (also the export's history sheet)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import AuditEntry


async def record(
    session: AsyncSession,
    *,
    now: datetime,
    action: str,
    campaign_id: int | None = None,
    actor_id: int | None = None,
    actor_label: str = "",
    subject: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            at=now,
            action=action,
            campaign_id=campaign_id,
            actor_id=actor_id,
            actor_label=actor_label,
            subject=subject,
            details=details or {},
        )
    )
