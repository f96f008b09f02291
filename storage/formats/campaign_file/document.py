"""A whole campaign document, checked part by part, built into a CampaignSpec.

Every part is read even after a problem, so that all of them are reported at once; any
problem means no spec. The document may come from YAML (with lines) or from another reader
(plain dicts, e.g. the Excel workbook), see `check_campaign_document`.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storage.formats.campaign_file import values
from storage.formats.campaign_file.checklist import read_checklist
from storage.formats.campaign_file.nodes import Doc, Node
from storage.formats.campaign_file.policy import read_policy
from storage.formats.campaign_file.roster import UnitReader, read_teams
from storage.formats.campaign_file.scoring_settings import check_steps, read_scoring_settings
from storage.formats.campaign_spec import CampaignSpec, InspectionForm, Problem

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
DEFAULT_FORM = InspectionForm.REPORT
TOP_KEYS = (
    "code",
    "title",
    "basis",
    "follow_up",
    "timezone",
    "deadline",
    "form",
    "reminders",
    "overdue_every",
    "overdue_limit",
    "escalate_after",
    "working_days_only",
    "quiet_hours",
    "visit_notice_before",
    "summary_at",
    "summary_when_unchanged",
    "score_step",
    "explain_days",
    "teams",
    "units",
    "checklist",
)


def check_campaign_document(
    document: dict[str, Any],
) -> tuple[CampaignSpec | None, list[Problem]]:
    """Check a campaign read into the file's shape by other means (plain dicts, lists and
    scalars, e.g. from the Excel workbook in storage/formats/campaign_excel/) with the very
    same rules as the file. Such a document has no lines: each problem carries only its path
    (`units[3].team`), which the caller maps to its own places (sheet, row, column)."""
    doc = Doc([])
    spec = read_campaign(Node(doc, document, "", None))
    if doc.problems:
        return None, doc.problems  # already in document order
    return spec, []


def read_campaign(root: Node) -> CampaignSpec | None:
    """The spec, or None when any problem was recorded in `root.doc`."""
    doc = root.doc
    root.check_keys(TOP_KEYS)
    timezone, zone = _timezone(root)
    code = root.required("code", values.code)
    title = root.required("title", values.text)
    basis = root.optional("basis", values.text) or ""
    follow_up = root.optional("follow_up", values.code)
    deadline_value = root.require("deadline")
    deadline = values.local_datetime(doc, deadline_value, zone) if deadline_value else None
    form = _default_form(root)
    policy = read_policy(root)
    teams, team_codes = read_teams(root)
    units = UnitReader(zone, team_codes, form).read(root)
    sections = read_checklist(root)
    scoring = read_scoring_settings(root)
    check_steps(root, scoring, sections)
    if code is None or title is None or deadline is None or doc.problems:
        return None
    return CampaignSpec(
        code=code,
        title=title,
        timezone=timezone,
        deadline=deadline,
        basis=basis,
        policy=policy,
        scoring=scoring,
        teams=tuple(teams),
        units=tuple(units),
        sections=tuple(sections),
        follow_up=follow_up,
    )


def _timezone(root: Node) -> tuple[str, tzinfo]:
    """The timezone's name and zone; a wrong one is reported and the default zone kept,
    so that the file's times are still checked."""
    default = ZoneInfo(DEFAULT_TIMEZONE)
    value = root.get("timezone")
    if value is None:
        return DEFAULT_TIMEZONE, default
    name = value.raw.strip() if isinstance(value.raw, str) else ""
    try:
        return name, ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        root.doc.add("bad_timezone", value.where, value.line, value=str(value.raw))
        return name, default


def _default_form(root: Node) -> InspectionForm | None:
    value = root.get("form")
    if value is None:
        return DEFAULT_FORM
    return values.choice(root.doc, value, InspectionForm, "bad_form")
