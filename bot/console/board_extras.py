"""The board's team filter and progress chart.

The filter narrows the board to one of the teams the person may see (admins: any team of
the campaign); a team outside that is no filter, never a way to see more. The chart is one
bar per team split by status, drawn as inline SVG (sizes as attributes, so the strict CSP
needs no inline style), with every number also written as text for screen readers and
in the person's number format.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.access import Scope
from handlers.console_access import board_teams
from storage.db.models import Team
from storage.rules.answers import Translate, format_number
from storage.services.board import BoardStatus
from storage.services.board_chart import TeamBar, team_bars, teams_of_campaign
from storage.services.remediation import progress_by_unit

# The colours of handlers/charts.py (the chat's chart): green done, blue working,
# amber returned, grey idle; late a darker amber, accepted a darker green.
COLOURS = {
    BoardStatus.ACCEPTED: "#1b5e20",
    BoardStatus.SUBMITTED: "#2e7d32",
    BoardStatus.LATE: "#9a6700",
    BoardStatus.IN_PROGRESS: "#1565c0",
    BoardStatus.RETURNED: "#ef6c00",
    BoardStatus.NOT_STARTED: "#9e9e9e",
}


@dataclass(frozen=True)
class BoardExtras:
    teams: frozenset[int] | None  # what the board shows: None for every team
    context: dict[str, Any]  # for board.html


def chosen_team(scope: Scope, allowed: list[int], asked: str | None) -> int | None:
    """The team asked for in ?team=, if the person may see it."""
    if not asked or not asked.isdigit():
        return None
    team = int(asked)
    return team if team in allowed and (scope.admin or team in scope.team_ids) else None


def chart_rows(bars: list[TeamBar], tr: Translate) -> list[dict[str, Any]]:
    """Each team's bar as SVG rectangles: widths in % of the largest team, so teams of
    different sizes compare at a glance; the counts as the person reads numbers."""
    widest = max((b.total for b in bars), default=0) or 1
    chart = []
    for bar in bars:
        x, parts = 0.0, []
        for status, colour in COLOURS.items():
            count = bar.counts[status]
            if count:
                width = 100 * count / widest
                parts.append(
                    {
                        "x": round(x, 3),
                        "width": round(width, 3),
                        "colour": colour,
                        "status": status.value,
                        "count": format_number(count, tr),
                    }
                )
                x += width
        chart.append(
            {
                "bar": bar,
                "parts": parts,
                "done": format_number(bar.done, tr),
                "total": format_number(bar.total, tr),
            }
        )
    return chart


async def shown_teams(
    session: AsyncSession, campaign_id: int, scope: Scope, asked: str | None
) -> tuple[list[Team], int | None, frozenset[int] | None]:
    """The teams the person may filter by, the one chosen by ?team= (if allowed), and the
    teams whose units are shown (None: every team)."""
    visible = board_teams(scope)
    teams = await teams_of_campaign(session, campaign_id, visible)
    team = chosen_team(scope, [t.id for t in teams], asked)
    return teams, team, frozenset({team}) if team is not None else visible


async def board_extras(
    session: AsyncSession,
    campaign_id: int,
    scope: Scope,
    asked: str | None,
    tr: Translate,
    today: date | None = None,
) -> BoardExtras:
    teams, team, shown = await shown_teams(session, campaign_id, scope, asked)
    bars = await team_bars(session, campaign_id, shown)
    chart = chart_rows(bars, tr)
    # Remediation per unit (the board's, not the export's: today given): one grouped
    # query; board_remediation.html shows it for the units of the page.
    fixes = await progress_by_unit(session, campaign_id, today=today) if today else {}
    return BoardExtras(
        shown,
        {
            "teams": teams,
            "team": team,
            "team_query": str(team) if team is not None else "",
            "chart": chart,
            "colours": [(s.value, c) for s, c in COLOURS.items()],
            "number": lambda value: format_number(value, tr),
            "remediation": fixes,
        },
    )
