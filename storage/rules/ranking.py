"""Ranking units by appraised score (xếp hạng), with ties. Pure functions, no I/O.

Units are ranked by their score as a percentage of the maximum, rounded to two decimals
as it is published (91,59%): units equal at that precision share a rank and the next
rank skips ("1, 2, 2, 4"), as rankings of the PAR index are published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Ranked:
    """One unit's place: `tied` when another unit shares its rank."""

    unit: str
    percent: float | None
    rank: int | None
    tied: bool = False


def percent_of(score: float, maximum: float) -> float | None:
    """A score as a percentage of the maximum, two decimals; None without a maximum."""
    if maximum <= 0:
        return None
    return round(100.0 * score / maximum, 2)


def rank_units(scores: Sequence[tuple[str, float, float]]) -> list[Ranked]:
    """Rank (unit, score, maximum) rows, best first; units without a maximum come last,
    unranked. Equal percentages keep the order of the unit codes."""
    rows = [(unit, percent_of(score, top)) for unit, score, top in scores]
    scored = sorted(((u, p) for u, p in rows if p is not None), key=lambda row: (-row[1], row[0]))
    counts: dict[float, int] = {}
    for _, percent in scored:
        counts[percent] = counts.get(percent, 0) + 1
    ranked: list[Ranked] = []
    for position, (unit, percent) in enumerate(scored, start=1):
        previous = ranked[-1] if ranked else None
        same = previous is not None and previous.percent == percent
        rank = previous.rank if same and previous is not None else position
        ranked.append(Ranked(unit, percent, rank, counts[percent] > 1))
    unscored = sorted(u for u, p in rows if p is None)
    return ranked + [Ranked(unit, None, None) for unit in unscored]
