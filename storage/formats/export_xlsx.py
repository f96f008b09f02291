"""A campaign's results as one Excel workbook: summary, answers, evidence, history.

Sized for a national round (10,000 units x 100 items: a million answers):

* the workbook is openpyxl's write-only kind: each sheet streams its rows to a temporary
  file, so memory does not grow with the rows written;
* answers are read per chunk of units as three plain columns (no ORM objects), evidence and
  history through a server-side stream;
* a write-only sheet cannot be fitted after its rows are written, so column widths come
  from the headers and the first rows of each sheet.

Dates are real Excel dates in the campaign's timezone with a dd/mm/yyyy number format:
admins sort and filter on them. Numbers are numeric cells with a number format, never text:
scores to two decimals, percentages as percentages, number answers as numbers (Excel then
shows the decimal mark of the reader's own settings). Texts come from the translator
passed in (catalog namespace `export`); storage never imports bot. `team_ids` restricts
every sheet to those teams' units (a team leader's export); ranks are then within the
exported units.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol, cast
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.localtime import zone
from storage.db import READ_ONLY
from storage.db.models import (
    Answer,
    Assignment,
    AuditEntry,
    Campaign,
    EvidenceFile,
    Invite,
    Item,
    Person,
    Submission,
    SubmissionStatus,
    Team,
    Unit,
)
from storage.formats import export_remediation
from storage.formats.campaign_spec import ItemType
from storage.rules.answers import Translate, format_value
from storage.rules.scoring import score
from storage.services.checklist import ItemInfo, read_checklist
from storage.services.ranking import RankRow, campaign_ranking

Progress = Callable[[int, int], None]
"""Told (done, total) as the export advances; total stays the same from the first call."""

# Ranked: reports the team has in hand (the same "done" as the leaders' status view).
RANKED_STATUSES = frozenset({SubmissionStatus.SUBMITTED, SubmissionStatus.ACCEPTED})
# Audit actions with a readable label in the catalog (export.action.*); others show raw.
KNOWN_ACTIONS = frozenset(
    {
        "campaign.import",
        "invite.new",
        "invite.revoke",
        "invite.redeem",
        "submission.submit",
        "submission.return",
        "submission.accept",
        "notice.create",
        "notice.dispatch",
        "question.ask",
        "question.answer",
    }
)

DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
DATE_FORMAT = "dd/mm/yyyy"
SIZE_FORMAT = "#,##0"
SCORE_FORMAT = "0.00"
WHOLE_FORMAT = "#,##0"
DECIMAL_FORMAT = "#,##0.####"  # up to the four decimals an answer keeps, no trailing zeros
WHOLE_PERCENT_FORMAT = "0%"
PERCENT_FORMAT = "0.##%"
ANSWER_CHUNK = 500  # units per answers query: 50,000 values at 100 items, well under limits
STREAM_BATCH = 2_000  # rows per fetch from a server-side cursor
SAMPLE_ROWS = 200  # rows that decide the column widths
EXCEL_CELL_MAX = 32_767  # characters Excel keeps in one cell
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
HEADER_FONT = Font(bold=True)
HEADER_ALIGN = Alignment(wrap_text=True, vertical="top")


@dataclass(frozen=True)
class ExportStats:
    units: int
    items: int
    answers: int
    evidence_files: int
    history_entries: int


@dataclass
class UnitRow:
    """One unit of the campaign with its report's state (one row of the summary)."""

    assignment_id: int
    submission_id: int | None
    unit_code: str
    unit_name: str
    team_id: int
    team_name: str
    deadline: datetime
    status: str
    late: bool
    submitted_at: datetime | None
    self_score: float | None  # filled from the answers when the report has none stored
    appraised_score: float | None

    @property
    def ranking_score(self) -> float | None:
        if self.status not in RANKED_STATUSES:
            return None
        return self.appraised_score if self.appraised_score is not None else self.self_score


class Number(NamedTuple):
    """A numeric cell with its own number format (an answer's format depends on its value:
    "#,##0.####" would show 12 as "12.")."""

    value: float
    number_format: str


def answer_number(item: ItemInfo, value: Any) -> Number | None:
    """A number or percent answer as a numeric cell; None for every other answer."""
    if item.type not in (ItemType.NUMBER, ItemType.PERCENT):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    whole = float(value).is_integer()
    if item.type == ItemType.PERCENT:  # Excel's 100% is 1
        return Number(value / 100, WHOLE_PERCENT_FORMAT if whole else PERCENT_FORMAT)
    return Number(value, WHOLE_FORMAT if whole else DECIMAL_FORMAT)


class EvidenceRecord(NamedTuple):
    unit_code: str
    unit_name: str
    item_code: str
    file_name: str
    size: int
    sha256: str
    storage_path: str
    uploaded_by: str
    uploaded_at: datetime


# -- reading -------------------------------------------------------------------------------


async def read_units(
    session: AsyncSession, campaign: Campaign, team_ids: Collection[int] | None = None
) -> list[UnitRow]:
    """The campaign's units in the campaign file's order (10,000 rows are a few MB)."""
    query = (
        select(
            Assignment.id,
            Submission.id,
            Unit.code,
            Unit.name,
            Team.id,
            Team.name,
            Assignment.deadline,
            Submission.status,
            Submission.late,
            Submission.submitted_at,
            Submission.self_score,
            Submission.appraised_score,
        )
        .join(Unit, Unit.id == Assignment.unit_id)
        .join(Team, Team.id == Assignment.team_id)
        .outerjoin(Submission, Submission.assignment_id == Assignment.id)
        .where(Assignment.campaign_id == campaign.id)
        .order_by(Assignment.position, Assignment.id)
    )
    if team_ids is not None:
        query = query.where(Assignment.team_id.in_(list(team_ids)))
    return [
        UnitRow(
            a_id,
            s_id,
            code,
            name,
            t_id,
            team,
            deadline or campaign.deadline,
            status or SubmissionStatus.NOT_STARTED,
            bool(late),
            submitted_at,
            self_score,
            appraised,
        )
        for (
            a_id,
            s_id,
            code,
            name,
            t_id,
            team,
            deadline,
            status,
            late,
            submitted_at,
            self_score,
            appraised,
        ) in (await session.execute(query))
    ]


def _evidence_query(campaign_id: int, team_ids: Collection[int] | None) -> Select[*tuple[Any, ...]]:
    query = (
        select(
            Unit.code,
            Unit.name,
            Item.code,
            EvidenceFile.file_name,
            EvidenceFile.size,
            EvidenceFile.sha256,
            EvidenceFile.storage_path,
            Person.full_name,
            EvidenceFile.uploaded_at,
        )
        .join(Submission, Submission.id == EvidenceFile.submission_id)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .join(Item, Item.id == EvidenceFile.item_id)
        .outerjoin(Person, Person.id == EvidenceFile.uploaded_by)
        .where(Assignment.campaign_id == campaign_id, EvidenceFile.removed_at.is_(None))
        .order_by(
            Assignment.position,
            Assignment.id,
            Item.position,
            EvidenceFile.uploaded_at,
            EvidenceFile.id,
        )
    )
    if team_ids is not None:
        query = query.where(Assignment.team_id.in_(list(team_ids)))
    return query


async def count_evidence(
    session: AsyncSession, campaign_id: int, team_ids: Collection[int] | None = None
) -> int:
    counted = (
        _evidence_query(campaign_id, team_ids)
        .order_by(None)
        .with_only_columns(func.count(EvidenceFile.id))
    )
    return int(await session.scalar(counted) or 0)


async def evidence_records(
    session: AsyncSession, campaign_id: int, team_ids: Collection[int] | None = None
) -> AsyncIterator[EvidenceRecord]:
    """Current evidence files (removed ones are no longer proof), by unit, item, time."""
    query = _evidence_query(campaign_id, team_ids).execution_options(yield_per=STREAM_BATCH)
    result = await session.stream(query)
    async for partition in result.partitions():
        for row in partition:
            unit_code, unit_name, item_code, name, size, sha256, stored, who, at = row
            yield EvidenceRecord(
                unit_code, unit_name, item_code, name, size, sha256, stored, who or "", at
            )


async def begin_snapshot(session: AsyncSession) -> None:
    """Start the session's transaction so every sheet sees the same moment.

    PostgreSQL: REPEATABLE READ, read only. SQLite: a deferred transaction reads one WAL
    snapshot and, unlike the engine's default BEGIN IMMEDIATE, does not hold up the bot's
    writes while a large export runs.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
    else:
        await session.connection(execution_options=READ_ONLY)


# -- ranks and scores ------------------------------------------------------------------------


def competition_ranks(scores: Sequence[float | None]) -> list[int | None]:
    """1, 2, 2, 4: equal scores share a rank and the next rank skips; None stays unranked.

    Scores are compared at 4 decimals, as stored, so float noise never splits a tie.
    """
    rounded = [None if s is None else round(s, 4) for s in scores]
    counts = Counter(s for s in rounded if s is not None)
    rank_of: dict[float, int] = {}
    higher = 0
    for value in sorted(counts, reverse=True):
        rank_of[value] = higher + 1
        higher += counts[value]
    return [None if s is None else rank_of[s] for s in rounded]


def self_score_of(items: Sequence[ItemInfo], answers: dict[int, Any]) -> float:
    return round(sum(score(item, answers[item.id]) for item in items if item.id in answers), 4)


# -- writing a sheet ---------------------------------------------------------------------------


def _display_width(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, Number):
        return len(f"{value.value * (100 if '%' in value.number_format else 1):,g}") + 1
    if isinstance(value, datetime):
        return len("dd/mm/yyyy hh:mm")
    if isinstance(value, date):
        return len("dd/mm/yyyy")
    if isinstance(value, float):
        return len(f"{value:g}")
    return max((len(line) for line in str(value).splitlines()), default=0)


def column_widths(
    headers: Sequence[Sequence[Any]],
    sample: Iterable[Sequence[Any]],
    *,
    header_max: int = 30,
    value_max: int = 64,
) -> list[float]:
    """Widths (in characters) that fit the headers and sampled values, within bounds.

    Headers wrap, so a long one (an item's text) only widens its column up to header_max;
    value_max lets a sha256 show whole.
    """
    widths: list[int] = []
    for rows, limit in ((headers, header_max), (sample, value_max)):
        for row in rows:
            for index, value in enumerate(row):
                if index >= len(widths):
                    widths.append(0)
                widths[index] = max(widths[index], min(_display_width(value), limit))
    return [max(6, w) + 2 for w in widths]


class WriteOnlySheet(Protocol):
    """What SheetWriter uses of a sheet of `Workbook(write_only=True)`: openpyxl documents
    these (widths, panes, filter, append) but types `create_sheet()` as Any."""

    column_dimensions: Any
    freeze_panes: Any
    auto_filter: Any

    def append(self, row: Iterable[Any]) -> None: ...


class SheetWriter:
    """One write-only sheet: headers and widths first, then rows, dates made Excel dates."""

    def __init__(
        self,
        ws: WriteOnlySheet,
        tz: ZoneInfo,
        *,
        frozen_cols: int = 0,
        formats: dict[int, str] | None = None,
    ) -> None:
        self.ws = ws
        self.tz, self.frozen_cols = tz, frozen_cols
        self.formats = formats or {}  # column index -> number format
        self.rows = 0
        self.columns = 0
        self.header_rows = 0

    def start(self, headers: Sequence[Sequence[Any]], sample: Sequence[Sequence[Any]]) -> None:
        """Widths and frozen panes must be set before the first row is streamed out."""
        for index, width in enumerate(column_widths(headers, sample), 1):
            self.ws.column_dimensions[get_column_letter(index)].width = width
        self.columns = max((len(row) for row in headers), default=0)
        top_left = f"{get_column_letter(self.frozen_cols + 1)}{len(headers) + 1}"
        self.ws.freeze_panes = top_left
        for row in headers:
            self.ws.append([self._header(value) for value in row])
        self.header_rows = len(headers)

    def _new_cell(self, value: Any) -> Cell:
        # The stubs type WriteOnlyCell's sheet as openpyxl's internal base class, which a
        # write-only sheet is; the protocol above names only what this writer uses.
        return WriteOnlyCell(cast(Any, self.ws), value)

    def _header(self, value: Any) -> Cell:
        cell = self._new_cell(_clean(str(value)))
        cell.font, cell.fill, cell.alignment = HEADER_FONT, HEADER_FILL, HEADER_ALIGN
        return cell

    def append(self, row: Sequence[Any]) -> None:
        self.ws.append([self._cell(index, value) for index, value in enumerate(row)])
        self.rows += 1

    def _cell(self, index: int, value: Any) -> Any:
        if isinstance(value, Number):
            return self._formatted(value.value, value.number_format)
        if isinstance(value, str):
            text = _clean(value)
            # openpyxl reads "=..." as a formula and "#N/A" as an error: typed text is text
            if text[:1] in ("=", "#"):
                cell = self._new_cell(text)
                cell.data_type = "s"
                return cell
            return text
        if isinstance(value, datetime):
            # Excel has no timezones: the campaign's local time, as people read it
            return self._formatted(value.astimezone(self.tz).replace(tzinfo=None), DATETIME_FORMAT)
        if isinstance(value, date):
            return self._formatted(value, DATE_FORMAT)
        if index in self.formats and value is not None:
            return self._formatted(value, self.formats[index])
        return value

    def _formatted(self, value: Any, number_format: str) -> Cell:
        cell = self._new_cell(value)
        cell.number_format = number_format
        return cell

    def finish(self) -> None:
        """A filter on the header row (the ref is written after the rows, so it can wait)."""
        if self.columns and self.rows:
            last = f"{get_column_letter(self.columns)}{self.header_rows + self.rows}"
            self.ws.auto_filter.ref = f"A{self.header_rows}:{last}"


def _clean(text: str) -> str:
    """Drop the control characters XML cannot carry; keep within Excel's cell size."""
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    return text if len(text) <= EXCEL_CELL_MAX else text[: EXCEL_CELL_MAX - 1] + "…"


async def fill_sheet(
    sheet: SheetWriter,
    headers: Sequence[Sequence[Any]],
    rows: AsyncIterable[Sequence[Any]] | Iterable[Sequence[Any]],
) -> int:
    """Write all rows, the first SAMPLE_ROWS of them deciding the widths; returns the count."""
    iterator = _aiter(rows)
    sample: list[Sequence[Any]] = []
    async for row in iterator:
        sample.append(row)
        if len(sample) >= SAMPLE_ROWS:
            break
    sheet.start(headers, sample)
    for row in sample:
        sheet.append(row)
    async for row in iterator:  # the same generator carries on after the sample
        sheet.append(row)
    sheet.finish()
    return sheet.rows


async def _aiter(
    rows: AsyncIterable[Sequence[Any]] | Iterable[Sequence[Any]],
) -> AsyncIterator[Sequence[Any]]:
    if isinstance(rows, AsyncIterable):
        async for row in rows:
            yield row
    else:
        for row in rows:
            yield row


class ProgressTracker:
    """Reports progress about 200 times in all, not once per row (the bar redraws)."""

    def __init__(self, callback: Progress | None, total: int) -> None:
        self.callback, self.total, self.done = callback, max(total, 1), 0
        self._reported = 0
        self._step = max(1, self.total // 200)

    def advance(self, count: int = 1) -> None:
        self.done = min(self.total, self.done + count)
        if self.callback and (self.done - self._reported >= self._step or self.done == self.total):
            self._reported = self.done
            self.callback(self.done, self.total)


# -- the sheets --------------------------------------------------------------------------------


class _AnswerCount:
    def __init__(self) -> None:
        self.value = 0


async def _values_by_submission(
    session: AsyncSession, submission_ids: list[int]
) -> dict[int, dict[int, Any]]:
    values: dict[int, dict[int, Any]] = {}
    if not submission_ids:
        return values
    rows = await session.execute(
        select(Answer.submission_id, Answer.item_id, Answer.value).where(
            Answer.submission_id.in_(submission_ids), Answer.value.is_not(None)
        )
    )
    for submission_id, item_id, value in rows:
        values.setdefault(submission_id, {})[item_id] = value
    return values


class ReadableValues:
    """format_value with a memo per item: a million answers repeat a few thousand values.

    Free text is unique, so it is formatted each time and never kept.
    """

    LIMIT = 10_000  # distinct values kept per item

    def __init__(self, tr: Translate) -> None:
        self.tr = tr
        self._memo: dict[int, dict[tuple[type, Any], str]] = {}

    def __call__(self, item: ItemInfo, value: Any) -> str | None:
        if value is None:
            return None
        if item.type == ItemType.TEXT:
            return format_value(item, value, self.tr)
        if not isinstance(value, bool | int | float | str | list):
            return format_value(item, value, self.tr)  # a stored shape no rule expects
        memo = self._memo.setdefault(item.id, {})
        # the type is part of the key: True == 1 in a dict, but "Có" is not "1"
        key = (type(value), tuple(map(str, value)) if isinstance(value, list) else value)
        shown = memo.get(key)
        if shown is None:
            shown = format_value(item, value, self.tr)
            if len(memo) < self.LIMIT:
                memo[key] = shown
        return shown


async def _answer_rows(
    session: AsyncSession,
    units: list[UnitRow],
    items: Sequence[ItemInfo],
    tr: Translate,
    tracker: ProgressTracker,
    answered: _AnswerCount,
) -> AsyncIterator[list[Any]]:
    """One row per unit, one column per item; also fills in self-scores not yet stored."""
    readable = ReadableValues(tr)
    for start in range(0, len(units), ANSWER_CHUNK):
        chunk = units[start : start + ANSWER_CHUNK]
        values = await _values_by_submission(
            session, [u.submission_id for u in chunk if u.submission_id is not None]
        )
        for unit in chunk:
            answers = values.get(unit.submission_id or 0, {})
            answered.value += len(answers)
            if unit.self_score is None:
                unit.self_score = self_score_of(items, answers)
            shown = [
                answer_number(item, answers.get(item.id)) or readable(item, answers.get(item.id))
                for item in items
            ]
            tracker.advance()
            yield [unit.unit_code, unit.unit_name, unit.team_name, *shown]


def _answer_headers(items: Sequence[ItemInfo], tr: Translate) -> list[list[str]]:
    """Item codes on the first row, their texts (wrapped) on the second."""
    lead = [tr("export.col.unit_code"), tr("export.col.unit_name"), tr("export.col.team")]
    return [[*lead, *(item.code for item in items)], ["", "", "", *(item.text for item in items)]]


def _summary_headers(tr: Translate) -> list[list[str]]:
    keys = (
        "number",
        "unit_code",
        "unit_name",
        "team",
        "status",
        "deadline",
        "submitted_at",
        "late",
        "self_score",
        "appraised_score",
        "rank",
    )
    return [[tr(f"export.col.{key}") for key in keys]]


def _summary_rows(
    units: list[UnitRow], tr: Translate, tracker: ProgressTracker
) -> Iterable[list[Any]]:
    ranks = competition_ranks([unit.ranking_score for unit in units])
    for number, (unit, rank) in enumerate(zip(units, ranks, strict=True), 1):
        tracker.advance()
        yield [
            number,
            unit.unit_code,
            unit.unit_name,
            unit.team_name,
            tr(f"export.status.{unit.status}"),
            unit.deadline,
            unit.submitted_at,
            tr("export.yes") if unit.late else "",
            unit.self_score,
            unit.appraised_score,
            rank,
        ]


def _evidence_headers(tr: Translate) -> list[list[str]]:
    keys = (
        "unit_code",
        "unit_name",
        "item",
        "file_name",
        "size",
        "sha256",
        "uploaded_by",
        "uploaded_at",
    )
    return [[tr(f"export.col.{key}") for key in keys]]


async def _evidence_rows(
    session: AsyncSession,
    campaign_id: int,
    team_ids: Collection[int] | None,
    tracker: ProgressTracker,
) -> AsyncIterator[list[Any]]:
    async for record in evidence_records(session, campaign_id, team_ids):
        tracker.advance()
        yield [
            record.unit_code,
            record.unit_name,
            record.item_code,
            record.file_name,
            record.size,
            record.sha256,
            record.uploaded_by,
            record.uploaded_at,
        ]


def _history_headers(tr: Translate) -> list[list[str]]:
    return [[tr(f"export.col.{key}") for key in ("at", "actor", "action", "subject", "details")]]


async def _team_subjects(
    session: AsyncSession, campaign_id: int, team_ids: Collection[int], units: list[UnitRow]
) -> set[str]:
    """What a team's history is about: its units, and the invite codes of its units and team."""
    invites = await session.scalars(
        select(Invite.code)
        .outerjoin(Assignment, Assignment.id == Invite.assignment_id)
        .where(
            Invite.campaign_id == campaign_id,
            or_(Invite.team_id.in_(list(team_ids)), Assignment.team_id.in_(list(team_ids))),
        )
    )
    return {unit.unit_code for unit in units} | set(invites)


async def _history_rows(
    session: AsyncSession,
    campaign_id: int,
    subjects: set[str] | None,
    tr: Translate,
    tracker: ProgressTracker,
) -> AsyncIterator[list[Any]]:
    query = (
        select(
            AuditEntry.at,
            Person.full_name,
            AuditEntry.actor_label,
            AuditEntry.action,
            AuditEntry.subject,
            AuditEntry.details,
        )
        .outerjoin(Person, Person.id == AuditEntry.actor_id)
        .where(AuditEntry.campaign_id == campaign_id)
        .order_by(AuditEntry.at, AuditEntry.id)
        .execution_options(yield_per=STREAM_BATCH)
    )
    result = await session.stream(query)
    async for partition in result.partitions():
        for at, person, label, action, subject, details in partition:
            tracker.advance()
            if subjects is not None and subject not in subjects:
                continue
            shown = tr(f"export.action.{action}") if action in KNOWN_ACTIONS else action
            text = json.dumps(details, ensure_ascii=False, default=str) if details else ""
            yield [at, person or label, shown, subject, text]


RANKING_FORMATS = {5: "0.00", 6: "0.00", 7: "0.00%"}  # score, maximum, share of it
SUMMARY_FORMATS = {8: "0.00", 9: "0.00"}  # self-assessed and appraised scores


def _ranking_headers(tr: Translate) -> list[list[str]]:
    keys = ("rank", "tied", "unit_code", "unit_name", "team", "score", "max", "percent", "final")
    return [[tr(f"scores.export.col.{key}") for key in keys]]


def _ranking_rows(ranked: Sequence[RankRow], tr: Translate) -> Iterable[list[Any]]:
    """Numbers stay numbers (the percentage as a share, shown "91.59%" by its format)."""
    for row in ranked:
        yield [
            row.rank,
            tr("scores.export.tied") if row.tied else "",
            row.unit_code,
            row.unit_name,
            row.team_name,
            row.score,
            row.maximum if row.score is not None else None,
            None if row.percent is None else round(row.percent / 100, 4),
            tr("scores.export.final") if row.final else "",
        ]


async def _count_history(session: AsyncSession, campaign_id: int) -> int:
    counted = select(func.count(AuditEntry.id)).where(AuditEntry.campaign_id == campaign_id)
    return int(await session.scalar(counted) or 0)


# -- the workbook ------------------------------------------------------------------------------


async def export_workbook(
    session: AsyncSession,
    campaign_id: int,
    path: Path,
    *,
    team_ids: Collection[int] | None = None,
    locale: str = "vi",
    tr: Translate,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ExportStats:
    """Write the campaign's results to `path` (.xlsx); only `team_ids`' units if given.
    `now` (the injected clock's) decides which appraisals are final by their deadline.

    The file appears whole or not at all: it is written beside `path` and renamed at the end.
    """
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise LookupError(f"no campaign {campaign_id}")
    checklist = await read_checklist(session, campaign_id)
    units = await read_units(session, campaign, team_ids)
    files = await count_evidence(session, campaign_id, team_ids)
    history = await _count_history(session, campaign_id)
    tracker = ProgressTracker(progress, 2 * len(units) + files + history)
    tz = zone(campaign.timezone)

    wb = Workbook(write_only=True)
    wb.properties.title = tr("export.title", campaign=campaign.title)
    wb.properties.language = locale
    # Sheets are created in reading order but filled in the order the data allows: the
    # summary needs the self-scores computed while the answers are written.
    summary = SheetWriter(
        wb.create_sheet(tr("export.sheet.summary")), tz, frozen_cols=3, formats=SUMMARY_FORMATS
    )
    answers = SheetWriter(wb.create_sheet(tr("export.sheet.answers")), tz, frozen_cols=2)
    evidence = SheetWriter(
        wb.create_sheet(tr("export.sheet.evidence")), tz, frozen_cols=0, formats={4: SIZE_FORMAT}
    )
    log = SheetWriter(wb.create_sheet(tr("export.sheet.history")), tz, frozen_cols=0)
    ranking = SheetWriter(
        wb.create_sheet(tr("scores.export.sheet")), tz, frozen_cols=4, formats=RANKING_FORMATS
    )
    fixes = SheetWriter(
        wb.create_sheet(tr("remediation.export.sheet")),
        tz,
        frozen_cols=2,
        formats=export_remediation.FORMATS,
    )

    answered = _AnswerCount()
    await fill_sheet(
        answers,
        _answer_headers(checklist.items, tr),
        _answer_rows(session, units, checklist.items, tr, tracker, answered),
    )
    await fill_sheet(summary, _summary_headers(tr), _summary_rows(units, tr, tracker))
    files_written = await fill_sheet(
        evidence, _evidence_headers(tr), _evidence_rows(session, campaign_id, team_ids, tracker)
    )
    subjects = (
        None if team_ids is None else await _team_subjects(session, campaign_id, team_ids, units)
    )
    history_written = await fill_sheet(
        log, _history_headers(tr), _history_rows(session, campaign_id, subjects, tr, tracker)
    )
    ranked = await campaign_ranking(
        session, campaign_id, checklist.max_score, now or datetime.now(UTC), team_ids
    )
    await fill_sheet(ranking, _ranking_headers(tr), _ranking_rows(ranked, tr))
    await fill_sheet(
        fixes,
        export_remediation.headers(tr),
        await export_remediation.rows(session, campaign_id, team_ids, tr),
    )
    _save(wb, path)
    if progress:
        progress(tracker.total, tracker.total)
    return ExportStats(
        len(units), len(checklist.items), answered.value, files_written, history_written
    )


def _save(wb: Workbook, path: Path) -> None:
    partial = path.with_name(path.name + ".part")
    try:
        wb.save(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
