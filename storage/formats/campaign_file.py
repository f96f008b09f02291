"""The campaign file (YAML) an admin writes: read it, check everything, build a CampaignSpec.

The format is documented for admins in docs/campaign-file.md; examples/hcmc-2021-team1.yaml
is a complete file. Validation reports every problem at once, each located by a path into
the document (`units[3].team`) and a 1-based line, so an admin fixes the file in one pass;
any problem means no spec. Problems are rendered through the catalog
(`campaign_file.problem.<code>`), see `format_problem`.

Times in the file are local to the campaign's `timezone` and become aware UTC datetimes.
A bare date as a deadline means the end of that day (23:59 local): "by 30/09" includes the
30th. A visit needs a time. No wall clock is read here.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.constructor import DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from storage.formats.campaign_spec import (
    CampaignSpec,
    EvidencePolicy,
    InspectionForm,
    ItemSpec,
    ItemType,
    Problem,
    ReminderPolicy,
    SectionSpec,
    TeamSpec,
    UnitSpec,
    VisitSpec,
)
from storage.rules import scoring
from storage.rules.answers import DATE_MAX_YEAR, DATE_MIN_YEAR, Translate, fold, parse_number

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
DEFAULT_FORM = InspectionForm.REPORT
END_OF_DAY = time(23, 59)
MAX_INVITES = 50  # per unit or team and kind: more is a typo, not a real team
CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")

# Every problem code and the params of its catalog text (checked by tests/test_locales.py).
PROBLEM_PARAMS: dict[str, tuple[str, ...]] = {
    **scoring.PROBLEM_PARAMS,
    "cannot_read": ("detail",),
    "not_utf8": (),
    "yaml_syntax": ("detail",),
    "yaml_tab": (),
    "duplicate_key": ("key",),
    "empty_file": (),
    "missing_key": ("key",),
    "unknown_key_did_you_mean": ("key", "suggestion"),
    "expected_text": (),
    "expected_number": (),
    "expected_integer": (),
    "expected_bool": (),
    "expected_list": (),
    "empty_text": (),
    "empty_list": (),
    "empty_checklist": (),
    "empty_section": (),
    "bad_code": ("value",),
    "ambiguous_code": ("value",),
    "duplicate_code": ("code", "first"),
    "bad_datetime": ("value",),
    "visit_needs_time": (),
    "bad_duration": ("value",),
    "bad_quiet_hours": ("value",),
    "bad_summary_at": ("value",),
    "bad_timezone": ("value",),
    "unknown_team": ("team", "known"),
    "bad_item_type": ("value", "allowed"),
    "bad_form": ("value", "allowed"),
    "bad_evidence": ("value", "allowed"),
    "options_required": (),
    "options_too_few": (),
    "options_not_allowed": ("type",),
    "duplicate_option": ("option",),
    "not_positive": ("value",),
    "negative": ("value",),
    "too_many": ("value", "max"),
    "min_above_max": ("min", "max"),
    "not_for_type": ("key", "type"),
    "percent_bound": ("value",),
    "visit_form_mismatch": ("form",),
}

_TOP_KEYS = (
    "code", "title", "basis", "timezone", "deadline", "form", "reminders", "overdue_every",
    "overdue_limit", "escalate_after", "working_days_only", "quiet_hours",
    "visit_notice_before", "summary_at", "summary_when_unchanged", "teams", "units",
    "checklist",
)  # fmt: skip
_TEAM_KEYS = ("code", "name", "leaders", "members")
_UNIT_KEYS = ("code", "name", "team", "form", "deadline", "visit", "contacts")
_VISIT_KEYS = ("at", "place", "announced")
_SECTION_KEYS = ("section", "items")
_ITEM_KEYS = (
    "code", "text", "help", "type", "options", "required", "evidence", "points", "scoring",
    "min", "max", "max_length",
)  # fmt: skip
T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)
_OFF = {"off", "none", "no", "khong", "tat"}  # a nullable policy value switched off
_TRUE = {"true", "yes", "on", "co"}
_FALSE = {"false", "no", "off", "khong"}


# --- entry points ---------------------------------------------------------------------------


def load_campaign_file(path: str | Path) -> tuple[CampaignSpec | None, list[Problem]]:
    """Read and check a campaign file; (spec, []) or (None, every problem found)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [Problem("cannot_read", "", None, {"detail": exc.strerror or str(exc)})]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [Problem("not_utf8", "", line)]
    return parse_campaign_text(text, str(path))


def parse_campaign_text(text: str, source_name: str) -> tuple[CampaignSpec | None, list[Problem]]:
    """Check campaign YAML text; `source_name` only names it (for logs and messages)."""
    loaded = _load_yaml(text)
    if isinstance(loaded, Problem):
        return None, [loaded]
    if loaded is None:
        return None, [Problem("empty_file", "", None)]
    doc = _Doc(text.splitlines())
    if not isinstance(loaded, CommentedMap):
        doc.add("expected_mapping", "", 1)
        return None, doc.problems
    spec = _CampaignReader(doc).read(_Map(doc, loaded, "", _line(loaded)))
    if doc.problems:
        return None, sorted(doc.problems, key=lambda p: p.line or 0)  # in reading order
    return spec, []


def check_campaign_document(
    document: dict[str, Any],
) -> tuple[CampaignSpec | None, list[Problem]]:
    """Check a campaign read into the file's shape by other means (plain dicts, lists and
    scalars, e.g. from the Excel workbook in storage/campaign_excel.py) with the very same
    rules as the file. Such a document has no lines: each problem carries only its path
    (`units[3].team`), which the caller maps to its own places (sheet, row, column)."""
    doc = _Doc([])
    spec = _CampaignReader(doc).read(_Map(doc, document, "", None))
    if doc.problems:
        return None, doc.problems  # already in document order
    return spec, []


def format_problem(problem: Problem, tr: Translate) -> str:
    """ "Dòng 12, mục units[3].team: Không có đoàn "D9"..." in the reader's language."""
    message = tr(f"campaign_file.problem.{problem.code}", **problem.params)
    if problem.line is not None and problem.where:
        return tr("campaign_file.problem_at", line=problem.line, where=problem.where,
                  message=message)  # fmt: skip
    if problem.line is not None:
        return tr("campaign_file.problem_line", line=problem.line, message=message)
    if problem.where:
        return tr("campaign_file.problem_at_key", where=problem.where, message=message)
    return message


class _Constructor(RoundTripConstructor):
    """Round-trip loading that keeps an impossible date (2021-02-31) as its text, so the
    reader reports it with its place instead of the whole load failing."""

    def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
        try:
            return super().construct_yaml_timestamp(node, values)
        except ValueError:
            return self.construct_scalar(node)


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)


def _load_yaml(text: str) -> Any | Problem:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        return yaml.load(text)
    except DuplicateKeyError as exc:
        found = re.search(r'duplicate key "(.*?)"', str(exc.problem))
        return Problem("duplicate_key", "", _mark_line(exc), {"key": found[1] if found else ""})
    except MarkedYAMLError as exc:
        if "'\\t'" in str(exc.problem):
            return Problem("yaml_tab", "", _mark_line(exc))
        detail = " ".join(p for p in (exc.context, exc.problem) if p)
        return Problem("yaml_syntax", "", _mark_line(exc), {"detail": detail})
    except YAMLError as exc:
        return Problem("yaml_syntax", "", None, {"detail": str(exc)})


def _mark_line(exc: MarkedYAMLError) -> int | None:
    mark = exc.problem_mark or exc.context_mark
    return mark.line + 1 if mark is not None else None


# --- walking the document with locations ------------------------------------------------------


class _Doc:
    """The problems found so far, and the source lines (to read a scalar as it was typed)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.problems: list[Problem] = []

    def add(self, code: str, where: str, line: int | None, /, **params: Any) -> None:
        assert set(params) == set(PROBLEM_PARAMS[code]), code  # keeps the catalog honest
        self.problems.append(Problem(code, where, line, params))

    def token(self, line: int, col: int) -> str:
        """The scalar as typed at a 0-based position ("1.10", not the float 1.1)."""
        found = re.match(r"[^\s,\]}#]+", self.lines[line][col:]) if line < len(self.lines) else None
        return found[0] if found else ""


def _position(data: dict[Any, Any], key: Any, *, of_value: bool) -> tuple[int, int] | None:
    """0-based (line, col) of a key or its value; a key merged in with `<<: *anchor` is
    found where the anchor wrote it. None for a document built in code (no YAML lines)."""
    lc = getattr(data, "lc", None)
    if lc is None:
        return None
    if key in (getattr(lc, "data", None) or {}):
        return lc.value(key) if of_value else lc.key(key)
    for merged in getattr(data, "_yaml_merge", []):
        source = merged[1] if isinstance(merged, tuple) else merged
        if isinstance(source, CommentedMap) and key in source:
            return _position(source, key, of_value=of_value)
    return (lc.line or 0), (lc.col or 0)


def _line_at(data: dict[Any, Any], key: Any, *, of_value: bool) -> int | None:
    """1-based line of a key or its value, when the document has lines."""
    found = _position(data, key, of_value=of_value)
    return found[0] + 1 if found is not None else None


def _line(node: Any) -> int | None:
    lc = getattr(node, "lc", None)
    return lc.line + 1 if lc is not None and lc.line is not None else None


@dataclass(frozen=True)
class _Value:
    """A scalar or node with its place: path into the document, 1-based line, 0-based col."""

    raw: Any
    where: str
    line: int | None
    col: int | None = None


class _Map:
    """A YAML mapping with its path, reading values and recording problems."""

    def __init__(self, doc: _Doc, data: dict[Any, Any], where: str, line: int | None) -> None:
        self.doc, self.data, self.where, self.line = doc, data, where, line

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def check_keys(self, allowed: Iterable[str]) -> None:
        allowed = list(allowed)
        for key in self.data:
            name = str(key)
            # "x-..." at the top holds YAML anchors for reuse (`<<: *unit`), as in compose files
            if name in allowed or (not self.where and name.startswith("x-")):
                continue
            line = _line_at(self.data, key, of_value=False)
            close = difflib.get_close_matches(name.lower(), allowed, n=1, cutoff=0.6)
            if close:
                self.doc.add("unknown_key_did_you_mean", self.path(name), line, key=name,
                             suggestion=close[0])  # fmt: skip
            else:
                self.doc.add("unknown_key", self.path(name), line, key=name)

    def present(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str) -> _Value | None:
        """The value under `key`; None when absent or null (so defaults apply)."""
        if self.data.get(key) is None:
            return None
        found = _position(self.data, key, of_value=True)
        line, col = (found[0] + 1, found[1]) if found is not None else (None, None)
        return _Value(self.data[key], self.path(key), line, col)

    def key_line(self, key: str) -> int | None:
        if key not in self.data:
            return self.line
        return _line_at(self.data, key, of_value=False)

    def require(self, key: str) -> _Value | None:
        value = self.get(key)
        if value is None:
            self.doc.add("missing_key", self.path(key), self.key_line(key), key=key)
        return value


# --- scalar readers: each returns None after recording a problem -------------------------------


def _text(doc: _Doc, value: _Value, *, allow_empty: bool = False) -> str | None:
    raw = value.raw
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        doc.add("expected_text", value.where, value.line)
        return None
    text = raw.strip() if isinstance(raw, str) else _as_typed(doc, value)
    if not text and not allow_empty:
        doc.add("empty_text", value.where, value.line)
        return None
    return text


def _as_typed(doc: _Doc, value: _Value) -> str:
    if value.line is None or value.col is None:
        return str(value.raw)
    return doc.token(value.line - 1, value.col) or str(value.raw)


def _code(doc: _Doc, value: _Value) -> str | None:
    """A code as text. YAML reads 1.1 as a float: take the text as typed, and refuse 1.10,
    which YAML has already turned into 1.1 (the admin must quote it)."""
    raw = value.raw
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        doc.add("expected_text", value.where, value.line)
        return None
    if isinstance(raw, str):
        code = raw.strip()
    else:
        code = _as_typed(doc, value)
        canonical = str(int(raw)) if isinstance(raw, int) else repr(float(raw))
        if code != canonical:
            doc.add("ambiguous_code", value.where, value.line, value=code)
            return None
    if not CODE_PATTERN.fullmatch(code):
        doc.add("bad_code", value.where, value.line, value=code)
        return None
    return code


def _integer(doc: _Doc, value: _Value) -> int | None:
    if isinstance(value.raw, int) and not isinstance(value.raw, bool):
        return int(value.raw)
    doc.add("expected_integer", value.where, value.line)
    return None


def _count(doc: _Doc, value: _Value | None, default: int, *, minimum: int) -> int | None:
    """An invite count: an integer from `minimum` (0 or 1) to MAX_INVITES."""
    if value is None:
        return default
    return _bounded(doc, value, minimum, MAX_INVITES)


def _bounded(doc: _Doc, value: _Value, minimum: int, maximum: int | None) -> int | None:
    """An integer from `minimum` to `maximum` (None: no upper bound), or None after
    reporting why not."""
    number = _integer(doc, value)
    if number is None:
        return None
    if number < minimum:
        code = "not_positive" if minimum > 0 else "negative"
        doc.add(code, value.where, value.line, value=number)
        return None
    if maximum is not None and number > maximum:
        doc.add("too_many", value.where, value.line, value=number, max=maximum)
        return None
    return number


def _number(doc: _Doc, value: _Value) -> float | None:
    raw = value.raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    parsed = parse_number(raw) if isinstance(raw, str) else None  # "1,5" typed the VN way
    if parsed is None:
        doc.add("expected_number", value.where, value.line)
        return None
    return float(parsed)


def _boolean(doc: _Doc, value: _Value | None, default: bool) -> bool | None:
    """true/false; also yes/no and có/không, which YAML 1.2 leaves as text."""
    if value is None:
        return default
    if isinstance(value.raw, bool):
        return value.raw
    word = fold(value.raw) if isinstance(value.raw, str) else ""
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    doc.add("expected_bool", value.where, value.line)
    return None


def _choice(doc: _Doc, value: _Value, enum: type[E], code: str) -> E | None:
    """An enum value; "Trực tiếp" or "TRUC TIEP" also mean truc-tiep."""
    word = fold(str(value.raw)).replace(" ", "-") if isinstance(value.raw, str) else ""
    try:
        return enum(word)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        doc.add(code, value.where, value.line, value=str(value.raw), allowed=allowed)
        return None


_DURATION = re.compile(r"\s*(\d+)\s*([wdhm])\s*")
_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1),
          "m": timedelta(minutes=1)}  # fmt: skip


def parse_duration(text: str) -> timedelta | None:
    """ "7d", "2h", "90m", "1w", "1d12h" -> timedelta; None if not one (m = minutes)."""
    s = text.strip().lower()
    if not s or _DURATION.sub("", s):
        return None
    return sum((int(n) * _UNITS[u] for n, u in _DURATION.findall(s)), timedelta())


def _duration(doc: _Doc, value: _Value) -> timedelta | None:
    delta = parse_duration(value.raw) if isinstance(value.raw, str) else None
    if delta is None:
        doc.add("bad_duration", value.where, value.line, value=str(value.raw))
        return None
    if delta <= timedelta():
        doc.add("not_positive", value.where, value.line, value=str(value.raw))
        return None
    return delta


_QUIET = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


def parse_quiet_hours(text: str) -> tuple[time, time] | None:
    """ "21:00-07:00" -> (21:00, 07:00); may cross midnight; start and end must differ."""
    m = _QUIET.fullmatch(text.strip())
    if not m:
        return None
    try:
        start, end = time(int(m[1]), int(m[2])), time(int(m[3]), int(m[4]))
    except ValueError:
        return None
    return (start, end) if start != end else None


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_RANGE = rf"(?:{'|'.join(_DAYS)})(?:-(?:{'|'.join(_DAYS)}))?"
_SUMMARY = re.compile(rf"(?:(daily|\*|{_DAY_RANGE}(?:,{_DAY_RANGE})*)\s+)?(\d{{1,2}}):(\d{{2}})")


@dataclass(frozen=True)
class SummaryAt:
    """When the daily summary goes out: `days` in cron day_of_week syntax ("mon-fri")."""

    days: str
    weekdays: frozenset[int]  # 0 = Monday
    at: time

    def __str__(self) -> str:
        return f"{self.days} {self.at:%H:%M}"


def parse_summary_at(text: str) -> SummaryAt | None:
    """ "mon-fri 08:00", "mon,wed,fri 17:30", "daily 08:00" or "08:00" (every day)."""
    m = _SUMMARY.fullmatch(" ".join(text.strip().lower().split()))
    if not m:
        return None
    try:
        at = time(int(m[2]), int(m[3]))
    except ValueError:
        return None
    days = "mon-sun" if m[1] in (None, "daily", "*") else m[1]
    weekdays: set[int] = set()
    for part in days.split(","):
        first, _, last = part.partition("-")
        start, end = _DAYS.index(first), _DAYS.index(last or first)
        if end < start:
            return None
        weekdays.update(range(start, end + 1))
    return SummaryAt(days, frozenset(weekdays), at)


_ISO_DT = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:T|\s+)(\d{1,2})[:h](\d{2})(?::(\d{2}))?)?")
_VN_DT = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2})[:h](\d{2}))?")


def parse_local_datetime(raw: Any, zone: tzinfo) -> tuple[datetime, bool] | None:
    """A date-time of the file, aware in `zone` (or in the offset the file gave), and
    whether it had a time of day. A bare date is the end of that day (23:59).

    Accepts what YAML made of it (date, datetime) and the texts "2021-09-30 17:00",
    "2021-09-30T17:00", "2021-09-30 17:00:00", "2021-09-30", "30/09/2021 17:00",
    "30/09/2021"; "17h00" for "17:00" too.
    """
    if isinstance(raw, datetime):
        return (raw if raw.tzinfo else raw.replace(tzinfo=zone)), True
    if isinstance(raw, date):
        return datetime.combine(raw, END_OF_DAY, tzinfo=zone), False
    parts = _datetime_parts(raw.strip()) if isinstance(raw, str) else None
    if parts is None:
        return None
    year, month, day, hour, minute, second = parts
    try:
        day_of = date(year, month, day)
        if hour is None:
            return datetime.combine(day_of, END_OF_DAY, tzinfo=zone), False
        return datetime.combine(day_of, time(hour, minute or 0, second or 0), tzinfo=zone), True
    except ValueError:
        return None  # 31/02, 25:00


def _datetime_parts(text: str) -> tuple[int, int, int, int | None, int | None, int | None] | None:
    if m := _ISO_DT.fullmatch(text):
        year, month, day, hour, minute, second = m.groups()
    elif m := _VN_DT.fullmatch(text):
        day, month, year, hour, minute = m.groups()
        second = None
    else:
        return None

    def maybe(part: str | None) -> int | None:
        return int(part) if part else None

    return int(year), int(month), int(day), maybe(hour), maybe(minute), maybe(second)


def _datetime(
    doc: _Doc, value: _Value, zone: tzinfo, *, need_time: bool = False
) -> datetime | None:
    """A local date-time of the file as aware UTC."""
    found = parse_local_datetime(value.raw, zone)
    if found is None or not DATE_MIN_YEAR <= found[0].year <= DATE_MAX_YEAR:
        doc.add("bad_datetime", value.where, value.line, value=str(value.raw))
        return None
    moment, has_time = found
    if need_time and not has_time:
        doc.add("visit_needs_time", value.where, value.line)
        return None
    return moment.astimezone(UTC)


def _seq(doc: _Doc, value: _Value | None) -> list[_Value] | None:
    """The items of a YAML list with their places; None (recorded) if not a list."""
    if value is None:
        return None
    if not isinstance(value.raw, list):  # a CommentedSeq, or a plain list built in code
        doc.add("expected_list", value.where, value.line)
        return None
    items = []
    for i, raw in enumerate(value.raw):
        line, col = _item_position(value.raw, i)
        items.append(_Value(raw, f"{value.where}[{i}]", line, col))
    return items


def _item_position(seq: list[Any], index: int) -> tuple[int | None, int | None]:
    """1-based line and 0-based col of a list item; (None, None) for a list built in code."""
    lc = getattr(seq, "lc", None)
    if lc is None:
        return None, None
    line, col = lc.item(index)
    return line + 1, col


def _mapping(doc: _Doc, value: _Value, allowed: Iterable[str]) -> _Map | None:
    if not isinstance(value.raw, dict):  # a CommentedMap, or a plain dict built in code
        doc.add("expected_mapping", value.where, value.line)
        return None
    node = _Map(doc, value.raw, value.where, value.line)
    node.check_keys(allowed)
    return node


class _Codes:
    """Codes seen so far in one namespace, case-insensitive: "snv" repeats "SNV"."""

    def __init__(self, doc: _Doc) -> None:
        self.doc = doc
        self.seen: dict[str, tuple[str, str]] = {}  # folded code -> (code, where first)

    def add(self, code: str, value: _Value) -> bool:
        key = code.casefold()
        if key in self.seen:
            self.doc.add("duplicate_code", value.where, value.line, code=code,
                         first=self.seen[key][1])  # fmt: skip
            return False
        self.seen[key] = (code, value.where)
        return True


# --- the document ---------------------------------------------------------------------------


class _CampaignReader:
    """Reads the whole document; every part is read even after a problem, to report all."""

    def __init__(self, doc: _Doc) -> None:
        self.doc = doc
        self.zone: tzinfo = ZoneInfo(DEFAULT_TIMEZONE)
        self.team_codes: dict[str, str] = {}  # folded code -> code, as written

    def read(self, root: _Map) -> CampaignSpec | None:
        root.check_keys(_TOP_KEYS)
        timezone = self._timezone(root)
        code = self._req(root, "code", _code)
        title = self._req(root, "title", _text)
        basis = self._opt(root, "basis", _text) or ""
        deadline = self._deadline(root)
        form = self._default_form(root)
        policy = self._policy(root)
        teams = self._teams(root)
        units = self._units(root, form)
        sections = self._checklist(root)
        if code is None or title is None or deadline is None or self.doc.problems:
            return None
        return CampaignSpec(
            code=code, title=title, timezone=timezone, deadline=deadline, basis=basis,
            policy=policy, teams=tuple(teams), units=tuple(units), sections=tuple(sections),
        )  # fmt: skip

    def _req(self, node: _Map, key: str, reader: Callable[[_Doc, _Value], T | None]) -> T | None:
        value = node.require(key)
        return reader(self.doc, value) if value is not None else None

    def _opt(self, node: _Map, key: str, reader: Callable[[_Doc, _Value], T | None]) -> T | None:
        value = node.get(key)
        return reader(self.doc, value) if value is not None else None

    def _timezone(self, root: _Map) -> str:
        value = root.get("timezone")
        if value is None:
            return DEFAULT_TIMEZONE
        name = value.raw.strip() if isinstance(value.raw, str) else ""
        try:
            self.zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            # keep the default zone so the file's times are still checked
            self.doc.add("bad_timezone", value.where, value.line, value=str(value.raw))
        return name

    def _deadline(self, node: _Map, *, required: bool = True) -> datetime | None:
        value = node.require("deadline") if required else node.get("deadline")
        return _datetime(self.doc, value, self.zone) if value is not None else None

    def _default_form(self, root: _Map) -> InspectionForm | None:
        value = root.get("form")
        if value is None:
            return DEFAULT_FORM
        return _choice(self.doc, value, InspectionForm, "bad_form")

    # policy ---------------------------------------------------------------------------------

    def _policy(self, root: _Map) -> ReminderPolicy:
        base = ReminderPolicy()
        quiet = self._switchable(root, "quiet_hours", self._quiet_hours, None)
        summary = self._switchable(root, "summary_at", self._summary_at, None)
        return ReminderPolicy(
            reminders=self._reminders(root),
            overdue_every=self._switchable(root, "overdue_every", self._dur, base.overdue_every),
            overdue_limit=_count_or(self.doc, root.get("overdue_limit"), base.overdue_limit),
            escalate_after=self._switchable(root, "escalate_after", self._dur, base.escalate_after),
            quiet_start=quiet[0] if quiet else None,
            quiet_end=quiet[1] if quiet else None,
            working_days_only=bool(_boolean(self.doc, root.get("working_days_only"), False)),
            visit_notice_before=self._opt(root, "visit_notice_before", _duration)
            or base.visit_notice_before,
            summary_at=summary,
            summary_when_unchanged=bool(
                _boolean(self.doc, root.get("summary_when_unchanged"), False)
            ),
        )  # fmt: skip

    def _switchable(
        self, root: _Map, key: str, reader: Callable[[_Value], T | None], default: T | None
    ) -> T | None:
        """A policy value that null or "off" switches off; absent = the default."""
        if not root.present(key):
            return default
        value = root.get(key)
        if value is None or (isinstance(value.raw, str) and fold(value.raw) in _OFF):
            return None
        return reader(value)

    def _dur(self, value: _Value) -> timedelta | None:
        return _duration(self.doc, value)

    def _quiet_hours(self, value: _Value) -> tuple[time, time] | None:
        found = parse_quiet_hours(value.raw) if isinstance(value.raw, str) else None
        if found is None:
            self.doc.add("bad_quiet_hours", value.where, value.line, value=str(value.raw))
        return found

    def _summary_at(self, value: _Value) -> str | None:
        found = parse_summary_at(value.raw) if isinstance(value.raw, str) else None
        if found is None:
            self.doc.add("bad_summary_at", value.where, value.line, value=str(value.raw))
            return None
        return str(found)

    def _reminders(self, root: _Map) -> tuple[timedelta, ...]:
        entries = _seq(self.doc, root.get("reminders")) or []
        found = {d for e in entries if (d := _duration(self.doc, e)) is not None}
        return tuple(sorted(found, reverse=True))

    # teams and units ---------------------------------------------------------------------------

    def _list(self, root: _Map, key: str, empty_code: str = "empty_list") -> list[_Value]:
        value = root.require(key)
        entries = _seq(self.doc, value)
        if value is not None and entries == []:
            self.doc.add(empty_code, value.where, value.line)
        return entries or []

    def _teams(self, root: _Map) -> list[TeamSpec]:
        codes = _Codes(self.doc)
        teams = []
        for entry in self._list(root, "teams"):
            node = _mapping(self.doc, entry, _TEAM_KEYS)
            if node is None:
                continue
            code = self._unique_code(node, codes)
            name = self._req(node, "name", _text)
            leaders = _count(self.doc, node.get("leaders"), 1, minimum=0)
            members = _count(self.doc, node.get("members"), 0, minimum=0)
            if code and name and leaders is not None and members is not None:
                teams.append(TeamSpec(code, name, leaders, members))
        # every code written, even of a team with other problems: units are checked against
        # these, so one mistake in a team does not make all its units "unknown team"
        self.team_codes = {key: code for key, (code, _) in codes.seen.items()}
        return teams

    def _unique_code(self, node: _Map, codes: _Codes) -> str | None:
        value = node.require("code")
        code = _code(self.doc, value) if value is not None else None
        return code if code is not None and value is not None and codes.add(code, value) else None

    def _units(self, root: _Map, form: InspectionForm | None) -> list[UnitSpec]:
        codes = _Codes(self.doc)
        units = []
        for entry in self._list(root, "units"):
            node = _mapping(self.doc, entry, _UNIT_KEYS)
            unit = self._unit(node, form, codes) if node else None
            if unit is not None:
                units.append(unit)
        return units

    def _unit(
        self, node: _Map, default_form: InspectionForm | None, codes: _Codes
    ) -> UnitSpec | None:
        code = self._unique_code(node, codes)
        name = self._req(node, "name", _text)
        team = self._unit_team(node)
        form_value = node.get("form")
        form = (
            _choice(self.doc, form_value, InspectionForm, "bad_form")
            if form_value else default_form
        )  # fmt: skip
        deadline = self._deadline(node, required=False)
        visit = self._visit(node, form)
        contacts = _count(self.doc, node.get("contacts"), 1, minimum=1)
        if None in (code, name, team, form, contacts):
            return None
        if node.get("deadline") is not None and deadline is None:
            return None
        if node.get("visit") is not None and visit is None:
            return None
        assert code and name and team and form and contacts
        return UnitSpec(code, name, team, form, deadline, visit, contacts)

    def _unit_team(self, node: _Map) -> str | None:
        value = node.get("team")
        if value is None and len(self.team_codes) == 1:
            return next(iter(self.team_codes.values()))  # one team: units need not say it
        if value is None:
            node.require("team")
            return None
        code = _code(self.doc, value)
        if code is not None and code.casefold() not in self.team_codes:
            known = ", ".join(self.team_codes.values())
            self.doc.add("unknown_team", value.where, value.line, team=code, known=known)
            return None
        return self.team_codes[code.casefold()] if code else None

    def _visit(self, unit: _Map, form: InspectionForm | None) -> VisitSpec | None:
        value = unit.get("visit")
        if value is None:
            return None
        node = _mapping(self.doc, value, _VISIT_KEYS)
        if node is None:
            return None
        if form is not None and form is not InspectionForm.DIRECT:
            # a visit is the team going there: only a direct inspection has one
            self.doc.add("visit_form_mismatch", value.where, value.line, form=form.value)
        at_value = node.require("at")
        at = _datetime(self.doc, at_value, self.zone, need_time=True) if at_value else None
        place = self._opt(node, "place", _text) or ""
        announced = _boolean(self.doc, node.get("announced"), True)
        if at is None or announced is None:
            return None
        return VisitSpec(at, place, announced)

    # checklist ----------------------------------------------------------------------------------

    def _checklist(self, root: _Map) -> list[SectionSpec]:
        codes = _Codes(self.doc)
        sections = []
        for entry in self._list(root, "checklist", "empty_checklist"):
            node = _mapping(self.doc, entry, _SECTION_KEYS)
            if node is None:
                continue
            title = self._req(node, "section", _text)
            items = [i for e in self._list(node, "items", "empty_section")
                     if (i := self._item(e, codes)) is not None]  # fmt: skip
            if title:
                sections.append(SectionSpec(title, tuple(items)))
        return sections

    def _item(self, entry: _Value, codes: _Codes) -> ItemSpec | None:
        node = _mapping(self.doc, entry, _ITEM_KEYS)
        if node is None:
            return None
        code = self._unique_code(node, codes)
        text = self._req(node, "text", _text)
        type_value = node.require("type")
        kind = _choice(self.doc, type_value, ItemType, "bad_item_type") if type_value else None
        help_text = self._opt(node, "help", lambda d, v: _text(d, v, allow_empty=True)) or ""
        required = _boolean(self.doc, node.get("required"), True)
        evidence_value = node.get("evidence")
        evidence = (
            _choice(self.doc, evidence_value, EvidencePolicy, "bad_evidence")
            if evidence_value else EvidencePolicy.NONE
        )  # fmt: skip
        points = self._points(node)
        options = self._options(node, kind)
        low, high = self._range(node, kind)
        max_length = self._max_length(node, kind)
        rule, rule_ok = self._scoring(node, kind, points, options)
        if None in (code, text, kind, required, evidence, points, options) or not rule_ok:
            return None
        assert code and text and kind and evidence and options is not None
        return ItemSpec(
            code=code, text=text, type=kind, help=help_text, options=options,
            required=bool(required), evidence=evidence, points=points or 0.0,
            scoring=rule, min=low, max=high, max_length=max_length,
        )  # fmt: skip

    def _points(self, node: _Map) -> float | None:
        value = node.get("points")
        if value is None:
            return 0.0
        points = _number(self.doc, value)
        if points is not None and points < 0:
            self.doc.add("negative", value.where, value.line, value=scoring.plain(points))
            return None
        return points

    def _options(self, node: _Map, kind: ItemType | None) -> tuple[str, ...] | None:
        value = node.get("options")
        entries = _seq(self.doc, value)
        if value is not None and entries is None:
            return None
        texts = [t for e in entries or [] if (t := _text(self.doc, e)) is not None]
        if len(texts) != len(entries or []):
            return None
        needs = kind in (ItemType.CHOICE, ItemType.MULTI)
        where, line = node.path("options"), value.line if value else node.key_line("options")
        if needs and not texts:
            self.doc.add("options_required", where, line)
            return None
        if needs and len(texts) < 2:
            self.doc.add("options_too_few", where, line)
            return None
        if kind is not None and not needs and texts:
            self.doc.add("options_not_allowed", where, line, type=kind.value)
            return None
        return self._unique_options(texts, entries or [])

    def _unique_options(self, texts: list[str], entries: list[_Value]) -> tuple[str, ...] | None:
        seen: set[str] = set()
        for text, entry in zip(texts, entries, strict=True):
            # buttons and typed answers match options without accents, so those must differ
            if fold(text) in seen:
                self.doc.add("duplicate_option", entry.where, entry.line, option=text)
                return None
            seen.add(fold(text))
        return tuple(texts)

    def _range(self, node: _Map, kind: ItemType | None) -> tuple[float | None, float | None]:
        bounds = []
        for key in ("min", "max"):
            value = node.get(key)
            number = _number(self.doc, value) if value is not None else None
            if value is not None and kind not in (ItemType.NUMBER, ItemType.PERCENT, None):
                self.doc.add("not_for_type", value.where, value.line, key=key, type=str(kind))
                number = None
            elif number is not None and kind is ItemType.PERCENT and not 0 <= number <= 100:
                assert value is not None
                self.doc.add("percent_bound", value.where, value.line, value=scoring.plain(number))
                number = None
            bounds.append(number)
        low, high = bounds
        if low is not None and high is not None and low > high:
            self.doc.add("min_above_max", node.path("min"), node.key_line("min"),
                         min=scoring.plain(low), max=scoring.plain(high))  # fmt: skip
        return low, high

    def _max_length(self, node: _Map, kind: ItemType | None) -> int | None:
        value = node.get("max_length")
        if value is None:
            return None
        if kind not in (ItemType.TEXT, None):
            self.doc.add("not_for_type", value.where, value.line, key="max_length", type=str(kind))
            return None
        return _count_or(self.doc, value, None, minimum=1, maximum=None)

    def _scoring(
        self,
        node: _Map,
        kind: ItemType | None,
        points: float | None,
        options: tuple[str, ...] | None,
    ) -> tuple[dict[str, Any] | None, bool]:
        """(the normalised rule or None when not scored, whether the rule is fine)."""
        if kind is None or points is None or options is None:
            return None, False  # the item's own problems are reported; no rule to judge
        value = node.get("scoring")
        rule, problems = scoring.parse_scoring(kind, points, value.raw if value else None, options)
        for problem in problems:
            where, line = _locate(node, value, problem.path)
            self.doc.add(problem.code, where, line, **problem.params)
        return rule, not problems


def _locate(item: _Map, value: _Value | None, path: tuple[Any, ...]) -> tuple[str, int | None]:
    """Where a scoring problem is: follow its raw keys into the `scoring:` node."""
    if value is None:  # no rule written: point at the item
        return item.path("scoring"), item.line
    where, line, node = value.where, value.line, value.raw
    for key in path:
        if not isinstance(node, dict) or key not in node:
            break
        where = f"{where}.{key}"
        line = _line_at(node, key, of_value=node[key] is not None)
        node = node[key]
    return where, line


def _count_or(
    doc: _Doc, value: _Value | None, default: Any, *, minimum: int = 0, maximum: int | None = 1000
) -> Any:
    """A plain non-negative integer setting (overdue_limit, max_length)."""
    if value is None:
        return default
    number = _bounded(doc, value, minimum, maximum)
    return default if number is None else number
