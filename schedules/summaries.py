"""Summaries for team leaders and admins, at the campaign's `summary_at` times.

For each open campaign whose policy has `summary_at`, a pass asks `timing.summary_due`
whether an occurrence came since the last summary (ScheduleMark `summary:<campaign>`, or the
campaign's creation when there was none: no summary for an hour before the campaign
existed). After downtime the missed occurrences collapse into the latest one.

When due, each team's state is computed once (`storage.services.team_status`
`team_summaries`: submitted x/y and who has not, in progress, not started, returned,
overdue, unreachable contacts, units with no linked contact) and written to the outbox:
  - one message per reachable team LEADER account with its own team only (a leader never
    sees another team's units);
  - one message per reachable admin account (Person.is_admin, or a platform user id from the
    settings) with every team; an admin who also leads a team gets only this one.

"Nothing is sent when nothing changed" (unless `summary_when_unchanged`): a ScheduleMark
`summary-state:<campaign>:<team id>` (`...:all` for the admins' view) keeps the fingerprint
of the state last summarised and the accounts that got it. A recipient is skipped when the
fingerprint is unchanged and they already got it; a leader who joins later still gets the
current state once.

Params are plain text (the renderer escapes them); lists are passed as one string. Labels in
the admins' compact view are emoji explained by a legend in the template, so the message is
still rendered in each recipient's language at delivery time.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from common.localtime import fmt_datetime
from storage.db.models import Campaign, ChatAccount, ScheduleMark
from storage.formats.campaign_spec import policy_from_dict
from storage.rules.timing import parse_summary_at, summary_due
from storage.services.conclusions import local_day
from storage.services.outbox import DUE_PARAM, enqueue_many
from storage.services.people import admin_accounts
from storage.services.remediation import progress_by_unit
from storage.services.submissions import team_accounts
from storage.services.team_status import (
    TeamSummary,
    fingerprint_of,
    team_summaries,
    unit_states,
)

log = logging.getLogger(__name__)

MAX_NAMES = 30  # per list; the rest is "(+N)"
TEAM_TEMPLATE = "summaries.team"
ADMIN_TEMPLATE = "summaries.admin"
EMPTY = "—"
ALL_TEAMS = "all"  # the team part of the admins' state mark and dedupe key


# -- who gets what -------------------------------------------------------------------------


async def _mark(session: AsyncSession, key: str, now: datetime) -> ScheduleMark:
    mark = await session.scalar(select(ScheduleMark).where(ScheduleMark.key == key))
    if mark is None:
        mark = ScheduleMark(key=key, value={}, updated_at=now)
        session.add(mark)
    return mark


async def _to_tell(
    session: AsyncSession,
    key: str,
    fingerprint: str,
    accounts: Iterable[ChatAccount],
    *,
    when_unchanged: bool,
    now: datetime,
) -> list[ChatAccount]:
    """The accounts to send this state to, remembering who has it (see the module)."""
    mark = await _mark(session, key, now)
    same = mark.value.get("fingerprint") == fingerprint
    told = set(mark.value.get("accounts", [])) if same else set()
    chosen = [a for a in accounts if when_unchanged or a.id not in told]
    # A new dict, not an in-place change: plain JSON columns do not track mutation.
    mark.value = {"fingerprint": fingerprint, "accounts": sorted(told | {a.id for a in chosen})}
    mark.updated_at = now
    return chosen


# -- the message ---------------------------------------------------------------------------


def _capped(names: Sequence[str]) -> list[str]:
    shown = list(names[:MAX_NAMES])
    return shown + ([f"(+{len(names) - MAX_NAMES})"] if len(names) > MAX_NAMES else [])


def _bullets(names: Sequence[str]) -> str:
    """A list that follows its label: on its own lines, or "—" on the label's line."""
    if not names:
        return f" {EMPTY}"
    return "".join(f"\n• {name}" for name in _capped(names))


def team_params(summary: TeamSummary) -> dict[str, Any]:
    return {
        "team": summary.name,
        "submitted": summary.submitted,
        "accepted": summary.accepted,
        "awaiting": summary.awaiting_review,
        "total": summary.total,
        "in_progress": summary.in_progress,
        "not_started": summary.not_started,
        "returned": summary.returned,
        "not_submitted_count": len(summary.not_submitted),
        "not_submitted": _bullets(summary.not_submitted),
        "overdue_count": len(summary.overdue),
        "overdue": _bullets(summary.overdue),
        "unreachable_count": len(summary.unreachable),
        "unreachable": _bullets(summary.unreachable),
        "no_contact_count": len(summary.no_contact),
        "no_contact": _bullets(summary.no_contact),
    }


def _team_block(summary: TeamSummary) -> str:
    """The admins' compact view of one team; the emoji are explained in the template."""
    head = (
        f"▪ {summary.name} ({summary.code}): {summary.submitted}/{summary.total}"
        f" (👍 {summary.accepted} · 📥 {summary.awaiting_review})"
        f" · ✏️ {summary.in_progress} · ⭕ {summary.not_started} · ↩️ {summary.returned}"
    )
    lines = [head]
    for mark, names in (
        ("⏳", summary.not_submitted),
        ("⏰", summary.overdue),
        ("📵", summary.unreachable),
        ("👤", summary.no_contact),
    ):
        if names:
            lines.append(f"{mark} " + "; ".join(_capped(names)))
    return "\n".join(lines)


async def remediation_lists(
    session: AsyncSession, campaign: Campaign, now: datetime
) -> dict[int, list[str]]:
    """Per team: "Unit: 4/6" for each unit with an issued conclusion (fixed of its
    shortcomings, as the leader's /summary shows it). One grouped query, then the units."""
    today = local_day(now, campaign.timezone)
    progress = await progress_by_unit(session, campaign.id, today=today)
    found: dict[int, list[str]] = defaultdict(list)
    if progress:
        for unit in await unit_states(session, campaign_id=campaign.id):
            p = progress.get(unit.assignment_id)
            if p is not None:
                found[unit.team_id].append(f"{unit.unit_name}: {p.fixed}/{p.total}")
    return found


def admin_params(summaries: Sequence[TeamSummary]) -> dict[str, Any]:
    return {
        "submitted": sum(s.submitted for s in summaries),
        "accepted": sum(s.accepted for s in summaries),
        "awaiting": sum(s.awaiting_review for s in summaries),
        "total": sum(s.total for s in summaries),
        "overdue_count": sum(len(s.overdue) for s in summaries),
        "unreachable_count": sum(len(s.unreachable) for s in summaries),
        "no_contact_count": sum(len(s.no_contact) for s in summaries),
        "teams": "\n\n".join(_team_block(s) for s in summaries) or EMPTY,
    }


def _row(
    campaign: Campaign,
    account: ChatAccount,
    key: str,
    template: str,
    params: dict[str, Any],
    now: datetime,
    due: datetime,
) -> dict[str, Any]:
    return {
        "dedupe_key": key,
        "kind": "summary",
        "chat_account_id": account.id,
        "person_id": account.person_id,
        "campaign_id": campaign.id,
        "template": template,
        "params": {**params, DUE_PARAM: due.isoformat()},
        "not_before": due,  # the occurrence: sent, and shown, as it fell due
        "created_at": now,
    }


# -- the pass ------------------------------------------------------------------------------


def _instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _occurrence_due(campaign: Campaign, mark: ScheduleMark, now: datetime) -> datetime | None:
    policy = policy_from_dict(campaign.policy or {})
    if not policy.summary_at:
        return None
    try:
        schedule = parse_summary_at(policy.summary_at)
    except ValueError as error:  # the campaign file parser checks it; old data may not be
        log.warning("campaign %s: bad summary_at %r: %s", campaign.code, policy.summary_at, error)
        return None
    last = _instant(mark.value.get("last")) or campaign.created_at
    return summary_due(
        schedule, now, last, campaign.timezone, skip_holidays=policy.working_days_only
    )


async def _summarise_campaign(
    session: AsyncSession, campaign: Campaign, now: datetime, admins: list[ChatAccount]
) -> int:
    mark = await _mark(session, f"summary:{campaign.id}", now)
    occurrence = _occurrence_due(campaign, mark, now)
    if occurrence is None:
        return 0
    when_unchanged = policy_from_dict(campaign.policy or {}).summary_when_unchanged
    summaries = await team_summaries(session, campaign, now)
    fixes = await remediation_lists(session, campaign, now)
    common = {"campaign": campaign.title, "time": fmt_datetime(occurrence, campaign.timezone)}
    stamp = occurrence.isoformat()
    admin_ids = {a.id for a in admins}
    rows = []
    for summary in summaries:
        leaders = [
            a
            for a in await team_accounts(session, summary.team_id)
            if a.unreachable_at is None and a.id not in admin_ids
        ]
        fixed = fixes.get(summary.team_id, [])
        for account in await _to_tell(
            session,
            f"summary-state:{campaign.id}:{summary.team_id}",
            # a fix reported or accepted is a change worth a summary too
            summary.fingerprint() + "".join(f"|{line}" for line in fixed),
            leaders,
            when_unchanged=when_unchanged,
            now=now,
        ):
            rows.append(
                _row(
                    campaign,
                    account,
                    f"summary:{campaign.id}:{summary.team_id}:{stamp}:{account.id}",
                    TEAM_TEMPLATE,
                    {**common, **team_params(summary), "remediation": _bullets(fixed)},
                    now,
                    occurrence,
                )
            )
    overall = fingerprint_of(summaries)
    for account in await _to_tell(
        session,
        f"summary-state:{campaign.id}:{ALL_TEAMS}",
        overall,
        admins,
        when_unchanged=when_unchanged,
        now=now,
    ):
        rows.append(
            _row(
                campaign,
                account,
                f"summary:{campaign.id}:{ALL_TEAMS}:{stamp}:{account.id}",
                ADMIN_TEMPLATE,
                {**common, **admin_params(summaries)},
                now,
                occurrence,
            )
        )
    await enqueue_many(session, rows)
    mark.value = {"last": stamp}
    mark.updated_at = now
    return len(rows)


async def send_due_summaries(
    session: AsyncSession, *, now: datetime, admin_user_ids: Mapping[str, frozenset[str]]
) -> int:
    """Write the summaries due at `now` for every open campaign; returns the number of
    outbox rows planned. Runs in the caller's transaction."""
    campaigns = list(
        await session.scalars(
            select(Campaign).where(Campaign.closed_at.is_(None)).order_by(Campaign.id)
        )
    )
    if not campaigns:
        return 0
    admins = await admin_accounts(session, admin_user_ids)
    total = 0
    for campaign in campaigns:
        total += await _summarise_campaign(session, campaign, now, admins)
    return total
