"""Scoring rules of checklist items: read the campaign file's `scoring:`, score an answer.

Pure functions, no I/O. The campaign file says how an item is scored in a form an admin
can read; `parse_scoring` checks it against the item and turns it into a normalised,
JSON-able dict that is stored with the item; `score` applies it to an answer.

YAML form (campaign file) -> item types -> normalised dict:

    scoring: yes                            yesno
        {"rule": "yes"}
    scoring: answered                       date
        {"rule": "answered"}
    scoring: {thresholds: {90: 2, 70: 1}}   number, percent, multi (count chosen)
        {"rule": "at_least", "steps": [[90.0, 2.0], [70.0, 1.0]]}   (highest first)
    scoring: {at_most: {0: 1, 2: 0.5}}      number, percent
        {"rule": "at_most", "steps": [[0.0, 1.0], [2.0, 0.5]]}      (lowest first)
    scoring: {on_or_before: 2020-12-31, late: 0.5}                  date
        {"rule": "on_or_before", "date": "2020-12-31", "late": 0.5}
    scoring: {choices: {"Đã áp dụng": 0.5, "Đang xây dựng": 0.25}}  choice, multi
        {"rule": "choices", "points": {"Đã áp dụng": 0.5, "Đang xây dựng": 0.25}}
    scoring: {each: 0.25}                   multi
        {"rule": "each", "points": 0.25}
    scoring: {proportional: 70}             number, percent
        {"rule": "proportional", "target": 70.0}
    scoring: by_hand  (default but yesno)   every type with points
        {"rule": "by_hand"}

Meaning:

* yes: full points for "yes". The default for a yes/no item with points when `scoring` is
  left out.
* by_hand: no rule can score the item; the unit proposes a self-score (tự chấm) in the
  campaign's steps and the team appraises it (storage/rules/self_score.py). The default
  for any other item with points when `scoring` is left out (issue 18: such items are
  scored by hand, not refused).
* answered: full points for any answer (a date item where having the document is enough).
* thresholds (alias at_least): the value must reach a threshold; the highest threshold
  reached gives its points ("≥90%: 2; ≥70%: 1"). For multi the value is the number of
  options chosen.
* at_most: the value must not exceed a threshold; the lowest threshold not exceeded gives
  its points ("0 disciplined officers: 1; at most 2: 0.5").
* on_or_before: full points for a date on or before the given date, `late` points
  (default 0) for a later date.
* choices: points per option; for multi the points of the chosen options add up.
* each: for multi, these points for every option chosen.
* proportional: `points * min(1, value / target)`, e.g. a target of 70%.

Stricter thresholds may not give fewer points (a typo check). Every step's points must be
between 0 and the item's points, and the score is capped at the item's points anyway.
Unanswered items score 0; text items are never scored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from storage.formats.campaign_spec import ItemType
from storage.rules.answers import (
    DATE_MAX_YEAR,
    DATE_MIN_YEAR,
    Translate,
    fold,
    format_number,
    parse_number,
    parse_percent,
    split_date,
)

# The scoring rules each item type accepts (normalised names).
RULES_BY_TYPE: dict[ItemType, tuple[str, ...]] = {
    ItemType.YESNO: ("yes", "by_hand"),
    ItemType.CHOICE: ("choices", "by_hand"),
    ItemType.MULTI: ("choices", "each", "at_least", "by_hand"),
    ItemType.NUMBER: ("at_least", "at_most", "proportional", "by_hand"),
    ItemType.PERCENT: ("at_least", "at_most", "proportional", "by_hand"),
    ItemType.DATE: ("on_or_before", "answered", "by_hand"),
    ItemType.TEXT: (),
}

# The YAML spelling of each rule: scalar forms and mapping keys.
_SCALAR_FORMS = {"yes": "yes", "co": "yes", "answered": "answered", "by_hand": "by_hand"}
BY_HAND = {"rule": "by_hand"}
_MAPPING_FORMS = {
    "thresholds": "at_least",
    "at_least": "at_least",
    "at_most": "at_most",
    "on_or_before": "on_or_before",
    "choices": "choices",
    "each": "each",
    "proportional": "proportional",
}
_EXTRA_KEYS = {"on_or_before": {"late"}}
_YAML_NAME = {"at_least": "thresholds"}  # how problems name a rule to the admin

# Every problem code parse_scoring reports and the params of its catalog text
# (`campaign_file.problem.<code>`).
PROBLEM_PARAMS: dict[str, tuple[str, ...]] = {
    "scoring_text": (),
    "scoring_unknown_form": ("value", "allowed"),
    "scoring_wrong_type": ("form", "type", "allowed"),
    "scoring_several_forms": ("forms",),
    "scoring_empty": ("form",),
    "scoring_bad_threshold": ("value",),
    "scoring_duplicate_threshold": ("value",),
    "scoring_threshold_range": ("value", "min", "max"),
    "scoring_bad_points": ("value",),
    "scoring_points_above_max": ("value", "max"),
    "scoring_not_monotonic": ("form",),
    "scoring_unknown_option": ("option",),
    "scoring_bad_target": ("value",),
    "scoring_bad_date": ("value",),
    "unknown_key": ("key",),
    "expected_mapping": (),
}


@dataclass(frozen=True)
class ScoringProblem:
    """A problem in a `scoring:` value; `path` leads from it to the culprit (raw YAML keys)."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)
    path: tuple[Any, ...] = ()


class ScoredItem(Protocol):
    """What scoring needs of an item: an ItemSpec or an ORM row both fit."""

    @property
    def type(self) -> str: ...
    @property
    def points(self) -> float: ...
    @property
    def scoring(self) -> Mapping[str, Any] | None: ...


def plain(number: float) -> int | float:
    """2.0 -> 2 for messages: admins wrote 2, not 2.0."""
    return int(number) if float(number).is_integer() else number


class _Problems(list[ScoringProblem]):
    def add(self, code: str, /, *path: Any, **params: Any) -> None:
        assert set(params) == set(PROBLEM_PARAMS[code]), code  # keeps the catalog honest
        self.append(ScoringProblem(code, params, tuple(path)))


# --- reading the campaign file's form ---------------------------------------------------


def default_rule(item_type: str, points: float) -> dict[str, Any] | None:
    """The rule of an item whose `scoring` is left out: yes/no items score "yes", other
    items with points are scored by hand."""
    kind = ItemType(item_type)
    if points <= 0 or kind is ItemType.TEXT:
        return None
    return {"rule": "yes"} if kind is ItemType.YESNO else dict(BY_HAND)


def is_by_hand(item: ScoredItem) -> bool:
    """Whether the team scores the item by hand (no rule can)."""
    rule = item.scoring or default_rule(item.type, float(item.points or 0))
    return rule is not None and rule.get("rule") == "by_hand"


def parse_scoring(
    item_type: str, points: float, raw: Any, options: Sequence[str] = ()
) -> tuple[dict[str, Any] | None, list[ScoringProblem]]:
    """Check a raw `scoring:` value for an item; (normalised rule or None, problems)."""
    kind = ItemType(item_type)
    problems = _Problems()
    if kind is ItemType.TEXT:
        if raw is not None or points > 0:
            problems.add("scoring_text")
        return None, problems
    if raw is None:
        return default_rule(kind, points), problems
    found = _form_of(raw, problems)
    if found is None:
        return None, problems
    form = found.rule
    allowed = RULES_BY_TYPE[kind]
    if form not in allowed:
        problems.add(
            "scoring_wrong_type",
            form=_YAML_NAME.get(form, form),
            type=str(kind),
            allowed=", ".join(_YAML_NAME.get(r, r) for r in allowed),
        )
        return None, problems
    ctx = _Context(kind, float(points), tuple(options), problems)
    rule = _READERS[form](ctx, found)
    return (None, problems) if problems else (rule, problems)


@dataclass(frozen=True)
class _Form:
    """The rule a raw `scoring:` value names; for a mapping, its key and the value under it."""

    rule: str
    raw: Any
    key: Any = None
    body: Any = None


def _form_of(raw: Any, problems: _Problems) -> _Form | None:
    if raw is True or isinstance(raw, str):
        name = "yes" if raw is True else fold(raw)
        if name in _SCALAR_FORMS:
            return _Form(_SCALAR_FORMS[name], raw)
        problems.add("scoring_unknown_form", value=str(raw), allowed=_all_forms())
        return None
    if not isinstance(raw, Mapping):
        problems.add("scoring_unknown_form", value=str(raw), allowed=_all_forms())
        return None
    keys = [k for k in raw if str(k) in _MAPPING_FORMS]
    if len(keys) > 1:
        problems.add("scoring_several_forms", forms=", ".join(map(str, keys)))
        return None
    if not keys:
        problems.add("scoring_unknown_form", value=", ".join(map(str, raw)), allowed=_all_forms())
        return None
    rule = _MAPPING_FORMS[str(keys[0])]
    for key in raw:
        if key != keys[0] and str(key) not in _EXTRA_KEYS.get(rule, set()):
            problems.add("unknown_key", key, key=str(key))
    return _Form(rule, raw, keys[0], raw[keys[0]])


def _all_forms() -> str:
    return ", ".join([*dict.fromkeys(_SCALAR_FORMS.values()), *_MAPPING_FORMS])


@dataclass(frozen=True)
class _Context:
    kind: ItemType
    points: float
    options: tuple[str, ...]
    problems: _Problems


def _read_scalar(ctx: _Context, found: _Form) -> dict[str, Any]:
    return {"rule": found.rule}


def _read_steps(ctx: _Context, found: _Form) -> dict[str, Any]:
    key, body, rule = found.key, found.body, found.rule
    form = str(key)
    if not isinstance(body, Mapping):
        ctx.problems.add("expected_mapping", key)
        return {}
    if not body:
        ctx.problems.add("scoring_empty", key, form=form)
        return {}
    steps: dict[float, float] = {}
    for threshold_raw, points_raw in body.items():
        threshold = _threshold(ctx, threshold_raw, (key, threshold_raw))
        points = _points(ctx, points_raw, (key, threshold_raw))
        if threshold is None or points is None:
            continue
        if threshold in steps:
            ctx.problems.add(
                "scoring_duplicate_threshold", key, threshold_raw, value=plain(threshold)
            )
        steps[threshold] = points
    # at_least: strictest = highest threshold; at_most: strictest = lowest
    ordered = sorted(steps.items(), reverse=rule == "at_least")
    gains = [p for _, p in ordered]
    if gains != sorted(gains, reverse=True):
        ctx.problems.add("scoring_not_monotonic", key, form=form)
    return {"rule": rule, "steps": [[t, p] for t, p in ordered]}


def _threshold(ctx: _Context, raw: Any, path: tuple[Any, ...]) -> float | None:
    value = _number(raw)
    if value is None:
        ctx.problems.add("scoring_bad_threshold", *path, value=str(raw))
        return None
    low, high = _threshold_bounds(ctx)
    if (low is not None and value < low) or (high is not None and value > high):
        ctx.problems.add(
            "scoring_threshold_range",
            *path,
            value=plain(value),
            min=plain(low or 0),
            max=plain(high) if high is not None else "",
        )
        return None
    return value


def _threshold_bounds(ctx: _Context) -> tuple[float | None, float | None]:
    if ctx.kind is ItemType.PERCENT:
        return 0.0, 100.0
    if ctx.kind is ItemType.MULTI:
        return 0.0, float(len(ctx.options))
    return None, None


def _number(raw: Any) -> float | None:
    """A number from YAML: 90, 99.5, "90%", "99,5"."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw) if math.isfinite(raw) else None
    if isinstance(raw, str):
        value = parse_percent(raw) if raw.strip().endswith("%") else parse_number(raw)
        return None if value is None else float(value)
    return None


def _points(ctx: _Context, raw: Any, path: tuple[Any, ...]) -> float | None:
    value = _number(raw)
    if value is None or value < 0:
        ctx.problems.add("scoring_bad_points", *path, value=str(raw))
        return None
    if value > ctx.points:
        ctx.problems.add(
            "scoring_points_above_max", *path, value=plain(value), max=plain(ctx.points)
        )
        return None
    return value


def _read_on_or_before(ctx: _Context, found: _Form) -> dict[str, Any]:
    day = _date(found.body)
    if day is None:
        ctx.problems.add("scoring_bad_date", found.key, value=str(found.body))
    late = 0.0
    if found.raw.get("late") is not None:
        late = _points(ctx, found.raw["late"], ("late",)) or 0.0
    return {"rule": "on_or_before", "date": day.isoformat() if day else "", "late": late}


def _date(raw: Any) -> date | None:
    """A date from YAML: 2020-12-31 (a YAML date), "31/12/2020" or "2020-12-31"."""
    if isinstance(raw, datetime):
        return None  # a time of day makes no sense here
    if isinstance(raw, date):
        day: date | None = raw
    elif isinstance(raw, str) and (parts := split_date(raw)):
        try:
            day = date(parts[2], parts[1], parts[0])
        except ValueError:
            return None
    else:
        return None
    return day if day and DATE_MIN_YEAR <= day.year <= DATE_MAX_YEAR else None


def _read_choices(ctx: _Context, found: _Form) -> dict[str, Any]:
    key, body = found.key, found.body
    if not isinstance(body, Mapping):
        ctx.problems.add("expected_mapping", key)
        return {}
    if not body:
        ctx.problems.add("scoring_empty", key, form="choices")
        return {}
    by_fold = {fold(o): o for o in ctx.options}
    gains: dict[str, float] = {}
    for option_raw, points_raw in body.items():
        option = by_fold.get(fold(str(option_raw)))
        if option is None:
            ctx.problems.add("scoring_unknown_option", key, option_raw, option=str(option_raw))
            continue
        points = _points(ctx, points_raw, (key, option_raw))
        if points is not None:
            gains[option] = points
    return {"rule": "choices", "points": gains}


def _read_each(ctx: _Context, found: _Form) -> dict[str, Any]:
    points = _points(ctx, found.body, (found.key,))
    return {"rule": "each", "points": points or 0.0}


def _read_proportional(ctx: _Context, found: _Form) -> dict[str, Any]:
    target = _number(found.body)
    too_high = ctx.kind is ItemType.PERCENT and target is not None and target > 100
    if target is None or target <= 0 or too_high:
        ctx.problems.add("scoring_bad_target", found.key, value=str(found.body))
        return {}
    return {"rule": "proportional", "target": target}


_READERS = {
    "yes": _read_scalar,
    "answered": _read_scalar,
    "by_hand": _read_scalar,
    "at_least": _read_steps,
    "at_most": _read_steps,
    "on_or_before": _read_on_or_before,
    "choices": _read_choices,
    "each": _read_each,
    "proportional": _read_proportional,
}


# --- scoring an answer --------------------------------------------------------------------


def score(item: ScoredItem, value: Any) -> float:
    """Points an answer earns: 0 when unanswered or of the wrong shape, never above points.

    An item scored by hand earns 0 here: its points come from the self-score and the
    appraisal, never from the answer."""
    points = float(item.points or 0)
    rule = item.scoring or default_rule(item.type, points)
    if value is None or rule is None or points <= 0 or ItemType(item.type) is ItemType.TEXT:
        return 0.0
    scorer = _SCORERS.get(str(rule.get("rule")))
    earned = scorer(rule, points, value) if scorer else 0.0
    # 4 decimals: hides float noise (1.5 * 65/70) but keeps quarter and eighth points
    return round(min(points, max(0.0, earned)), 4)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | list):
        return None
    # a multi answer is measured by how many options were chosen
    return float(len(value)) if isinstance(value, list) else float(value)


def _score_yes(rule: Mapping[str, Any], points: float, value: Any) -> float:
    return points if value is True else 0.0


def _score_answered(rule: Mapping[str, Any], points: float, value: Any) -> float:
    return points if value not in ("", []) else 0.0


def _score_at_least(rule: Mapping[str, Any], points: float, value: Any) -> float:
    number = _as_number(value)
    if number is None:
        return 0.0
    reached = [p for t, p in rule.get("steps", []) if number >= t]
    return max(reached, default=0.0)


def _score_at_most(rule: Mapping[str, Any], points: float, value: Any) -> float:
    number = _as_number(value)
    if number is None or isinstance(value, list):
        return 0.0
    kept = [p for t, p in rule.get("steps", []) if number <= t]
    return max(kept, default=0.0)


def _score_on_or_before(rule: Mapping[str, Any], points: float, value: Any) -> float:
    try:
        answered = date.fromisoformat(value)
        limit = date.fromisoformat(rule["date"])
    except (TypeError, ValueError, KeyError):
        return 0.0
    return points if answered <= limit else float(rule.get("late", 0.0))


def _score_choices(rule: Mapping[str, Any], points: float, value: Any) -> float:
    gains: Mapping[str, float] = rule.get("points", {})
    if isinstance(value, str):
        return float(gains.get(value, 0.0))
    if isinstance(value, list):
        return sum(float(gains.get(v, 0.0)) for v in set(value) if isinstance(v, str))
    return 0.0


def _score_each(rule: Mapping[str, Any], points: float, value: Any) -> float:
    if not isinstance(value, list):
        return 0.0
    return len(set(value)) * float(rule.get("points", 0.0))


def _score_proportional(rule: Mapping[str, Any], points: float, value: Any) -> float:
    number = _as_number(value)
    target = float(rule.get("target", 0))
    if number is None or isinstance(value, list) or target <= 0:
        return 0.0
    return points * min(1.0, number / target)


_SCORERS = {
    "yes": _score_yes,
    "answered": _score_answered,
    "at_least": _score_at_least,
    "at_most": _score_at_most,
    "on_or_before": _score_on_or_before,
    "choices": _score_choices,
    "each": _score_each,
    "proportional": _score_proportional,
}


SCORE_DECIMALS = 2


def fmt_points(value: float, tr: Translate) -> str:
    """A score as people read it: at most two decimals, no trailing zeros, in the reader's
    number format ("14,12", "5,5", "2" in Vietnamese; "14.12" in English)."""
    return format_number(value, tr, decimals=SCORE_DECIMALS)
