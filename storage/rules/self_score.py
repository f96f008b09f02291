"""Self-scores (tự chấm) of items scored by hand: read what the unit typed, check its step.

Pure functions, no I/O. An item with points and no rule (`scoring: by_hand`, or left
out) is scored by the unit first: a number from 0 to the item's points in the campaign's
steps (default 0.25, so 0.75 is fine and 0.8 is not), with a short reason; the team
appraises it afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from storage.rules.answers import parse_number

DEFAULT_SCORE_STEP = 0.25
# Scores are compared after rounding to this many decimals, so 0.1 + 0.2 noise never
# refuses a score that is on the step.
_PLACES = 6


@dataclass(frozen=True)
class SelfScoreCheck:
    """A typed self-score: the value when it is fine, else a problem code for the catalog."""

    value: float | None
    problem: str | None = None


def on_step(value: float, step: float) -> bool:
    """Whether value is a whole number of steps (0.75 on 0.25: yes; 0.8: no)."""
    if step <= 0:
        return True
    steps = round(value / step, _PLACES)
    return math.isclose(steps, round(steps), abs_tol=10**-_PLACES)


def read_self_score(text: str, points: float, step: float = DEFAULT_SCORE_STEP) -> SelfScoreCheck:
    """Read a typed self-score ("0,75", "1") against the item's points and the step.

    Problems: `not_number`, `negative`, `above_max`, `off_step`.
    """
    number = parse_number(text, dot_may_group=False)
    if number is None or not math.isfinite(float(number)):
        return SelfScoreCheck(None, "not_number")
    value = float(number)
    if value < 0:
        return SelfScoreCheck(None, "negative")
    if value > points + 10**-_PLACES:
        return SelfScoreCheck(None, "above_max")
    if not on_step(value, step):
        return SelfScoreCheck(None, "off_step")
    return SelfScoreCheck(round(value, 4))


def step_choices(points: float, step: float = DEFAULT_SCORE_STEP, limit: int = 9) -> list[float]:
    """Scores offered as buttons, highest first: every step when few, else a spread.

    A 1-point item on 0.25 steps offers 1, 0.75, 0.5, 0.25, 0; a 10-point item offers
    `limit` values including the ends, and any other step can still be typed.
    """
    if points <= 0 or step <= 0:
        return [0.0]
    count = math.floor(round(points / step, _PLACES))
    values = [round(i * step, 4) for i in range(count + 1)]
    if not on_step(points, step):
        values.append(round(points, 4))
    if len(values) > limit:
        stride = (len(values) - 1) / (limit - 1)
        values = [values[round(i * stride)] for i in range(limit)]
    return sorted(set(values), reverse=True)
