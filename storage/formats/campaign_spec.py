"""A campaign as an admin describes it (YAML or Excel), validated, before it touches the database.

The campaign readers (storage/formats/campaign_file/, campaign_excel/) produce a
`CampaignSpec`; the importer (storage/services/campaign_import.py) writes it. Datetimes here
are aware, in UTC (the readers convert the file's local times with the campaign's timezone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any


class ItemType(StrEnum):
    YESNO = "yesno"
    CHOICE = "choice"
    MULTI = "multi"
    NUMBER = "number"
    PERCENT = "percent"
    DATE = "date"
    TEXT = "text"


class EvidencePolicy(StrEnum):
    REQUIRED = "required"
    OPTIONAL = "optional"
    NONE = "none"


class InspectionForm(StrEnum):
    """Hình thức kiểm tra."""

    DIRECT = "truc-tiep"  # trực tiếp: the team visits
    REPORT = "qua-bao-cao"  # qua báo cáo: through the unit's report
    DIGITAL = "moi-truong-so"  # qua môi trường số: through digital systems


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a campaign file, located; rendered through the locale catalog.

    `code` is a catalog key under `campaign_file.problem.` (e.g. "bad_date"); `where` is a
    dotted path into the document ("units[3].deadline"); `line` is 1-based when known.
    """

    code: str
    where: str
    line: int | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VisitSpec:
    at: datetime
    place: str
    announced: bool = True


@dataclass(frozen=True)
class TeamSpec:
    code: str
    name: str
    leaders: int = 1  # invite codes for team leaders
    members: int = 0  # invite codes for team members


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    team: str  # a TeamSpec.code
    form: InspectionForm
    deadline: datetime | None = None  # override of the campaign deadline (UTC)
    visit: VisitSpec | None = None
    contacts: int = 1  # invite codes for unit contacts


class AnswerSource(StrEnum):
    """Where an item's answer may come from (`answer_from`), in a follow-up campaign."""

    REMEDIATION_RATE = "remediation_rate"  # share of the earlier shortcomings fixed, %


@dataclass(frozen=True)
class ItemSpec:
    code: str
    text: str
    type: ItemType
    help: str = ""
    options: tuple[str, ...] = ()
    required: bool = True
    evidence: EvidencePolicy = EvidencePolicy.NONE
    points: float = 0.0
    scoring: dict[str, Any] | None = None  # normalised rule, see storage/rules/scoring.py
    min: float | None = None  # number: allowed range
    max: float | None = None
    max_length: int | None = None  # text: limit (default in storage/rules/answers.py)
    answer_from: str | None = None  # AnswerSource: prefilled from an earlier campaign


@dataclass(frozen=True)
class SectionSpec:
    title: str
    items: tuple[ItemSpec, ...]


@dataclass(frozen=True)
class ReminderPolicy:
    reminders: tuple[timedelta, ...] = ()  # before the deadline, largest first
    overdue_every: timedelta | None = None
    overdue_limit: int = 5
    escalate_after: timedelta | None = timedelta(days=1)
    quiet_start: time | None = None  # quiet hours, local time; may cross midnight
    quiet_end: time | None = None
    working_days_only: bool = False
    visit_notice_before: timedelta = timedelta(days=7)
    summary_at: str | None = None  # "mon-fri 08:00,16:30": the canonical text of
    # storage/rules/timing_forms.py's SummarySchedule, in the campaign's timezone
    summary_when_unchanged: bool = False


@dataclass(frozen=True)
class ScoringSettings:
    """How items scored by hand are scored and appraised (stored in campaigns.policy)."""

    score_step: float = 0.25  # a self-score is a whole number of steps
    explain_days: int = 5  # working days to explain (giải trình) after round 1


@dataclass(frozen=True)
class CampaignSpec:
    code: str
    title: str
    timezone: str
    deadline: datetime  # default report deadline (UTC)
    basis: str = ""
    policy: ReminderPolicy = field(default_factory=ReminderPolicy)
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    teams: tuple[TeamSpec, ...] = ()
    units: tuple[UnitSpec, ...] = ()
    sections: tuple[SectionSpec, ...] = ()
    follow_up: str | None = None  # the code of the earlier campaign this one follows up

    def items(self) -> list[ItemSpec]:
        return [item for section in self.sections for item in section.items]


# -- the policy as stored in campaigns.policy (JSON) ----------------------------------------


def _seconds(delta: timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds()


def _delta(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)


def _hhmm(value: time | None) -> str | None:
    return None if value is None else value.strftime("%H:%M")


def _time(value: str | None) -> time | None:
    return None if value is None else time.fromisoformat(value)


def policy_to_dict(policy: ReminderPolicy) -> dict[str, Any]:
    return {
        "reminders": [d.total_seconds() for d in policy.reminders],
        "overdue_every": _seconds(policy.overdue_every),
        "overdue_limit": policy.overdue_limit,
        "escalate_after": _seconds(policy.escalate_after),
        "quiet_start": _hhmm(policy.quiet_start),
        "quiet_end": _hhmm(policy.quiet_end),
        "working_days_only": policy.working_days_only,
        "visit_notice_before": policy.visit_notice_before.total_seconds(),
        "summary_at": policy.summary_at,
        "summary_when_unchanged": policy.summary_when_unchanged,
    }


def policy_from_dict(data: dict[str, Any]) -> ReminderPolicy:
    default = ReminderPolicy()
    return ReminderPolicy(
        reminders=tuple(timedelta(seconds=s) for s in data.get("reminders", ())),
        overdue_every=_delta(data.get("overdue_every")),
        overdue_limit=int(data.get("overdue_limit", default.overdue_limit)),
        escalate_after=_delta(data.get("escalate_after", _seconds(default.escalate_after))),
        quiet_start=_time(data.get("quiet_start")),
        quiet_end=_time(data.get("quiet_end")),
        working_days_only=bool(data.get("working_days_only", False)),
        visit_notice_before=timedelta(
            seconds=data.get("visit_notice_before", default.visit_notice_before.total_seconds())
        ),
        summary_at=data.get("summary_at"),
        summary_when_unchanged=bool(data.get("summary_when_unchanged", False)),
    )


def scoring_to_dict(settings: ScoringSettings) -> dict[str, Any]:
    return {"score_step": settings.score_step, "explain_days": settings.explain_days}


def scoring_from_dict(data: dict[str, Any]) -> ScoringSettings:
    default = ScoringSettings()
    return ScoringSettings(
        score_step=float(data.get("score_step", default.score_step)),
        explain_days=int(data.get("explain_days", default.explain_days)),
    )
