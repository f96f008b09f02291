"""One reminder planning pass over 1,000, 10,000 and 50,000 units: time and queries.

    uv run python bench/reminders.py [--sizes 1000,10000,50000] [--backend sqlite|postgres]

Each unit has one linked contact, and the pass runs at a moment when every unit has a
reminder due (the worst case: one outbox row per unit is written). A second pass at the
same moment (nothing new due) shows the cost of a quiet minute. Queries are counted with
an engine event; the count must not grow with the units.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._databases import fresh_database  # noqa: E402
from schedules.reminders import plan_reminders  # noqa: E402
from storage.db import create_engine, session_factory, transaction, upgrade  # noqa: E402
from storage.db.models import Assignment, ChatAccount, Membership, Person  # noqa: E402
from storage.formats.campaign_spec import (  # noqa: E402
    CampaignSpec,
    InspectionForm,
    ItemSpec,
    ItemType,
    ReminderPolicy,
    SectionSpec,
    TeamSpec,
    UnitSpec,
)
from storage.services.campaign_import import import_campaign  # noqa: E402

DEADLINE = datetime(2026, 12, 31, 10, 0, tzinfo=UTC)


def spec(units: int) -> CampaignSpec:
    items = tuple(ItemSpec(f"{n}", f"Tiêu chí {n}", ItemType.YESNO) for n in range(1, 31))
    return CampaignSpec(
        code=f"BENCH-{units}",
        title="Bench",
        timezone="Asia/Ho_Chi_Minh",
        deadline=DEADLINE,
        policy=ReminderPolicy(
            reminders=(timedelta(days=3), timedelta(days=1)), overdue_every=timedelta(days=1)
        ),
        teams=tuple(TeamSpec(f"D{t}", f"Đoàn {t}") for t in range(10)),
        units=tuple(
            UnitSpec(f"U{n:05d}", f"Phường {n}", f"D{n % 10}", InspectionForm.REPORT)
            for n in range(units)
        ),
        sections=(SectionSpec("Một", items),),
    )


async def link_contacts(sessions: Any, now: datetime) -> None:
    async with transaction(sessions) as session:
        assignments = list(await session.execute(select(Assignment.id, Assignment.campaign_id)))
        await session.execute(
            insert(Person), [{"full_name": f"P{a}", "created_at": now} for a, _ in assignments]
        )
        people = list(await session.scalars(select(Person.id).order_by(Person.id)))
        await session.execute(
            insert(ChatAccount),
            [
                {
                    "person_id": p,
                    "platform": "telegram",
                    "user_id": str(p),
                    "chat_id": str(p),
                    "created_at": now,
                }
                for p in people
            ],
        )
        await session.execute(
            insert(Membership),
            [
                {
                    "person_id": p,
                    "campaign_id": c,
                    "role": "unit_contact",
                    "assignment_id": a,
                    "created_at": now,
                }
                for p, (a, c) in zip(people, assignments, strict=True)
            ],
        )


async def measure(url: str, units: int) -> tuple[float, int, float, int]:
    engine = create_engine(url)
    await upgrade(engine)
    sessions = session_factory(engine)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    async with transaction(sessions) as session:
        await import_campaign(session, spec(units), now=start)
        await plan_reminders(session, now=start)  # sets "last run": nothing due yet
    await link_contacts(sessions, start)
    queries = 0

    def count(*_: Any) -> None:
        nonlocal queries
        queries += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    results = []
    for _ in range(2):  # a busy pass, then a quiet one at the same moment
        queries = 0
        began = time.perf_counter()
        async with transaction(sessions) as session:
            await plan_reminders(session, now=DEADLINE - timedelta(days=3, minutes=-1))
        results.append((time.perf_counter() - began, queries))
    await engine.dispose()
    return results[0][0], results[0][1], results[1][0], results[1][1]


async def with_database(backend: str, units: int) -> tuple[float, int, float, int]:
    async with fresh_database(backend, Path(tempfile.mkdtemp())) as url:
        return await measure(url, units)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    print(f"backend: {args.backend}")
    for size in (int(s) for s in args.sizes.split(",")):
        busy, busy_q, quiet, quiet_q = asyncio.run(with_database(args.backend, size))
        print(
            f"{size:6d} units: pass with {size} reminders {busy:6.2f} s, {busy_q} queries; "
            f"quiet pass {quiet:6.2f} s, {quiet_q} queries; "
            f"{busy / size * 1e6:5.0f} µs per unit"
        )


if __name__ == "__main__":
    main()
