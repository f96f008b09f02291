"""The desk console's campaign board: the first page (with the counts at the top and the
per-team progress chart) for a campaign of 250 and of 8,000 units, as an admin (every
team) and as one team's leader.

    uv run python bench/console.py                       # SQLite and PostgreSQL
    uv run python bench/console.py --items 30 --backends postgres

The data is bench/export.py's generator (teams, units, submissions in a mix of states,
one answer per unit and item, evidence rows). Each figure is the median of 7 runs of
board_counts + board_page + team_bars in one transaction, after one warm-up run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench._databases import fresh_database  # noqa: E402
from bench.export import generate  # noqa: E402
from storage.db import create_engine, session_factory, transaction  # noqa: E402
from storage.db.models import Assignment, Campaign  # noqa: E402
from storage.services.board import board_counts, board_page  # noqa: E402
from storage.services.board_chart import team_bars  # noqa: E402

RUNS = 7


async def _first_page(url: str, teams: frozenset[int] | None) -> float:
    engine = create_engine(url)
    sessions = session_factory(engine)
    timings = []
    try:
        for run in range(RUNS + 1):
            async with transaction(sessions) as session:
                campaign = await session.scalar(select(Campaign.id))
                assert campaign is not None
                start = time.perf_counter()
                await board_counts(session, campaign, team_ids=teams)
                page = await board_page(session, campaign, team_ids=teams)
                await team_bars(session, campaign, teams)
                if run:
                    timings.append(time.perf_counter() - start)
                assert page.rows
    finally:
        await engine.dispose()
    return statistics.median(timings) * 1000


async def _one_team(url: str) -> frozenset[int]:
    engine = create_engine(url)
    try:
        async with transaction(session_factory(engine)) as session:
            team = await session.scalar(select(func.min(Assignment.team_id)))
            return frozenset({team or 0})
    finally:
        await engine.dispose()


async def run(backend: str, units: int, items: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with fresh_database(backend, Path(folder)) as url:
            await generate(url, units, items)
            admin = await _first_page(url, None)
            team = await _first_page(url, await _one_team(url))
            print(
                f"{backend:9} {units:6} units x {items} items: first page {admin:7.1f} ms"
                f" (admin, all teams), {team:7.1f} ms (one team)",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--units", default="250,8000")
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        for units in (int(u) for u in args.units.split(",")):
            asyncio.run(run(backend, units, args.items))


if __name__ == "__main__":
    main()
