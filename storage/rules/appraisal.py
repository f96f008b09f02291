"""Appraisal (thẩm định) of a unit's scores in two rounds. Pure functions, no I/O.

Round 1: the team sets an appraised score (and a reason) for each item where it differs
from the self-score; items it leaves alone keep the self-score. Items marked down are
sent to the unit, which may explain (giải trình) each one by a deadline. Round 2: the
team confirms or changes each disputed (explained) item; that result is final. An item
marked down but not explained by the deadline keeps its round-1 score.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from storage.rules.timing import is_working_day

DEFAULT_EXPLAIN_DAYS = 5


class Stage(StrEnum):
    """Where an item's appraisal stands."""

    SELF = "self"  # only the self-score so far
    APPRAISED = "appraised"  # round 1 done, not marked down (or no explanation asked)
    MARKED_DOWN = "marked_down"  # round 1 gave less; the unit may explain
    EXPLAINED = "explained"  # the unit explained; waits for round 2
    FINAL = "final"  # round 2 decided


@dataclass(frozen=True)
class ItemAppraisal:
    """One item of one unit: the self-score and what the rounds made of it."""

    code: str
    points: float
    self_score: float | None
    round1: float | None = None  # None: the team kept the self-score
    appraised: bool = False  # round 1 has been recorded for the unit
    explained: bool = False
    round2: float | None = None  # None: round 2 not decided (or not needed)


def current_score(item: ItemAppraisal) -> float:
    """The score that counts now: round 2, else round 1, else the self-score."""
    for value in (item.round2, item.round1, item.self_score):
        if value is not None:
            return min(item.points, max(0.0, value))
    return 0.0


def is_marked_down(item: ItemAppraisal) -> bool:
    return item.round1 is not None and item.round1 < (item.self_score or 0.0)


def stage(item: ItemAppraisal, *, explanations_closed: bool = False) -> Stage:
    """An item's stage; after the explanation deadline an unexplained item is final."""
    if item.round2 is not None:
        return Stage.FINAL
    if not item.appraised:
        return Stage.SELF
    if not is_marked_down(item):
        return Stage.APPRAISED
    if item.explained:
        return Stage.EXPLAINED
    return Stage.APPRAISED if explanations_closed else Stage.MARKED_DOWN


def disputed(items: Iterable[ItemAppraisal]) -> list[ItemAppraisal]:
    """The items round 2 must decide: marked down and explained, not yet decided."""
    return [i for i in items if stage(i) is Stage.EXPLAINED]


def is_final(items: Iterable[ItemAppraisal], *, explanations_closed: bool) -> bool:
    """Whether the unit's result is final: every item appraised and nothing left to decide."""
    stages = [stage(i, explanations_closed=explanations_closed) for i in items]
    waiting = {Stage.SELF, Stage.MARKED_DOWN, Stage.EXPLAINED}
    return bool(stages) and not waiting.intersection(stages)


def total(items: Iterable[ItemAppraisal]) -> tuple[float, float]:
    """(score that counts now, maximum) over the items, four decimals."""
    rows = list(items)
    return round(sum(current_score(i) for i in rows), 4), round(sum(i.points for i in rows), 4)


def explanation_deadline(sent: date, working_days: int = DEFAULT_EXPLAIN_DAYS) -> date:
    """The last day to explain: `working_days` working days after round 1 was sent (the
    day it was sent does not count), skipping weekends and Vietnamese holidays."""
    day, left = sent, max(1, working_days)
    while left:
        day += timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return day
