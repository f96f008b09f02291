"""Export a campaign of 10,000 units x 100 items (a million answers) to XLSX: time, memory.

    uv run python bench/export.py                    # SQLite and PostgreSQL, 10,000 x 100
    uv run python bench/export.py --units 1000 --backends sqlite

The data is written with bulk Core inserts (campaign, 10 teams, units, assignments,
submissions in a realistic mix of states, 100 items of every type with scoring rules, one
answer per unit and item, 2 evidence rows per unit, an audit trail), in one process; the
export runs in a fresh process per backend, so its peak RSS is the export's own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._databases import fresh_database_sync  # noqa: E402
from common.i18n import Catalog  # noqa: E402
from storage.db import create_engine, session_factory, upgrade  # noqa: E402
from storage.db.models import (  # noqa: E402
    Answer,
    Assignment,
    AuditEntry,
    Campaign,
    EvidenceFile,
    Item,
    Person,
    Section,
    Submission,
    Team,
    Unit,
)
from storage.formats.export_xlsx import begin_snapshot, export_workbook  # noqa: E402

DEADLINE = datetime(2026, 12, 31, 10, 0, tzinfo=UTC)
START = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
BATCH = 20_000  # rows per bulk insert
OPTIONS = ["Đã áp dụng", "Đang xây dựng", "Chưa"]
# (type, options, points, scoring): the shapes of DOMAIN.md's checklist
KINDS: list[tuple[str, list[str], float, dict[str, Any] | None]] = [
    ("yesno", [], 1.0, {"rule": "yes"}),
    ("percent", [], 2.0, {"rule": "at_least", "steps": [[90.0, 2.0], [70.0, 1.0]]}),
    ("number", [], 1.0, {"rule": "at_most", "steps": [[0.0, 1.0]]}),
    ("date", [], 1.0, {"rule": "on_or_before", "date": "2025-12-31", "late": 0.5}),
    ("choice", OPTIONS, 0.5, {"rule": "choices", "points": {"Đã áp dụng": 0.5}}),
    ("multi", OPTIONS, 0.0, None),
    ("text", [], 0.0, None),
]


def _value(kind: str, unit: int, item: int) -> Any:
    n = unit * 7 + item * 13
    return {
        "yesno": n % 5 != 0,
        "percent": round(60 + n % 400 / 10, 1),
        "number": n % 4,
        "date": f"2025-{n % 12 + 1:02d}-{n % 28 + 1:02d}",
        "choice": OPTIONS[n % 3],
        "multi": OPTIONS[: n % 4],
        "text": f"Đơn vị {unit} báo cáo tiêu chí {item}: đã thực hiện theo kế hoạch, còn khó "
        f"khăn về kinh phí và nhân lực ({n % 97}).",
    }[kind]


async def _ids(conn: Any, column: Any) -> list[int]:
    return list((await conn.execute(select(column).order_by(column))).scalars())


async def _structure(conn: Any, units: int, items: int) -> tuple[int, list[int], list[int]]:
    """Campaign, teams, units, assignments, sections and items; returns their ids."""
    campaign = (
        await conn.execute(
            insert(Campaign).returning(Campaign.id),
            [
                {
                    "code": "BENCH-EXPORT",
                    "title": "Kiểm tra CCHC - bench",
                    "deadline": DEADLINE,
                    "policy": {},
                    "created_at": START,
                    "updated_at": START,
                }
            ],
        )
    ).scalar_one()
    await conn.execute(
        insert(Team),
        [
            {"campaign_id": campaign, "code": f"D{t}", "name": f"Đoàn kiểm tra số {t}"}
            for t in range(1, 11)
        ],
    )
    teams = await _ids(conn, Team.id)
    await conn.execute(
        insert(Unit),
        [{"code": f"U{n:05d}", "name": f"Ủy ban nhân dân Phường {n}"} for n in range(units)],
    )
    unit_ids = await _ids(conn, Unit.id)
    await conn.execute(
        insert(Assignment),
        [
            {
                "campaign_id": campaign,
                "unit_id": u,
                "team_id": teams[n % 10],
                "form": "qua-bao-cao",
                "position": n,
            }
            for n, u in enumerate(unit_ids)
        ],
    )
    await conn.execute(
        insert(Section),
        [
            {"campaign_id": campaign, "position": s, "title": f"{s + 1}. Lĩnh vực {s + 1}"}
            for s in range(10)
        ],
    )
    sections = await _ids(conn, Section.id)
    await conn.execute(
        insert(Item),
        [
            {
                "campaign_id": campaign,
                "section_id": sections[n * 10 // items],
                "position": n,
                "code": f"{n * 10 // items + 1}.{n % (items // 10 or 1) + 1}",
                "text": f"Tiêu chí {n + 1}: nội dung kiểm tra về cải cách hành chính",
                "type": KINDS[n % 7][0],
                "options": KINDS[n % 7][1],
                "points": KINDS[n % 7][2],
                "scoring": KINDS[n % 7][3],
                "evidence": "required" if n % 7 == 0 else "none",
            }
            for n in range(items)
        ],
    )
    return campaign, await _ids(conn, Assignment.id), await _ids(conn, Item.id)


def _submission(assignment: int, n: int) -> dict[str, Any]:
    """70% submitted (a tenth of them late), 10% accepted and appraised, 20% in progress."""
    state = "in_progress" if n % 10 >= 8 else "accepted" if n % 10 == 7 else "submitted"
    done = state != "in_progress"
    return {
        "assignment_id": assignment,
        "status": state,
        "late": done and n % 10 == 0,
        "submitted_at": START + timedelta(minutes=n) if done else None,
        "self_score": round(40 + n % 300 / 10, 1) if done else None,
        "appraised_score": round(38 + n % 250 / 10, 1) if state == "accepted" else None,
        "updated_at": START,
        "version": 1,
    }


async def generate(url: str, units: int, items: int) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    async with engine.begin() as conn:
        campaign, assignments, item_ids = await _structure(conn, units, items)
        await conn.execute(
            insert(Person),
            [{"full_name": f"Cán bộ {n}", "created_at": START} for n in range(units)],
        )
        people = await _ids(conn, Person.id)
        await conn.execute(
            insert(Submission), [_submission(a, n) for n, a in enumerate(assignments)]
        )
        submissions = await _ids(conn, Submission.id)
        await _answers(conn, submissions, item_ids, people)
        await _evidence(conn, submissions, item_ids, people)
        await _audit(conn, campaign, people, units)
    await engine.dispose()


async def _answers(
    conn: Any, submissions: list[int], item_ids: list[int], people: list[int]
) -> None:
    rows: list[dict[str, Any]] = []
    for u, submission in enumerate(submissions):
        for i, item in enumerate(item_ids):
            rows.append(
                {
                    "submission_id": submission,
                    "item_id": item,
                    "value": _value(KINDS[i % 7][0], u, i),
                    "answered_by": people[u],
                    "answered_at": START,
                    "revision": 1,
                }
            )
        if len(rows) >= BATCH:
            await conn.execute(insert(Answer), rows)
            rows = []
    if rows:
        await conn.execute(insert(Answer), rows)


async def _evidence(
    conn: Any, submissions: list[int], item_ids: list[int], people: list[int]
) -> None:
    rows = [
        {
            "submission_id": s,
            "item_id": item_ids[k * 7],
            "file_name": f"ke-hoach-{k}.pdf",
            "size": 100_000 + u,
            "mime_type": "application/pdf",
            "sha256": f"{u:064x}",
            "storage_path": f"x/{u}/{k}.pdf",
            "uploaded_by": people[u],
            "uploaded_at": START,
        }
        for u, s in enumerate(submissions)
        for k in range(2)
    ]
    for start in range(0, len(rows), BATCH):
        await conn.execute(insert(EvidenceFile), rows[start : start + BATCH])


async def _audit(conn: Any, campaign: int, people: list[int], units: int) -> None:
    rows = [
        {
            "at": START + timedelta(seconds=n),
            "actor_id": people[n],
            "campaign_id": campaign,
            "action": "submission.submit",
            "subject": f"U{n:05d}",
            "details": {"late": False, "self_score": 50.5},
            "actor_label": "",
        }
        for n in range(units)
    ]
    for start in range(0, len(rows), BATCH):
        await conn.execute(insert(AuditEntry), rows[start : start + BATCH])


async def export(url: str, out: Path) -> dict[str, float]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    tr = Catalog.load().for_locale("vi")
    start = time.perf_counter()
    async with sessions() as session:
        await begin_snapshot(session)
        campaign = (await session.execute(select(Campaign.id))).scalar_one()
        stats = await export_workbook(session, campaign, out, tr=tr)
    elapsed = time.perf_counter() - start
    await engine.dispose()
    return {
        "export_s": elapsed,
        "answers": stats.answers,
        "units": stats.units,
        "file_mb": out.stat().st_size / 1e6,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True
    ).stdout
    figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return figures


def run_backend(backend: str, units: int, items: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp())
    with fresh_database_sync(backend, folder) as url:
        made = _child("--generate", url, "--units", str(units), "--items", str(items))
        figures = _child("--export", url, "--out", str(folder / "export.xlsx"))
        return {**made, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--generate", help=argparse.SUPPRESS)
    parser.add_argument("--export", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        start = time.perf_counter()
        asyncio.run(generate(args.generate, args.units, args.items))
        print(json.dumps({"generate_s": time.perf_counter() - start}))
        return
    if args.export:
        print(json.dumps(asyncio.run(export(args.export, Path(args.out)))))
        return
    print(
        f"campaign: {args.units} units x {args.items} items ({args.units * args.items:,} answers)"
    )
    for backend in args.backends.split(","):
        f = run_backend(backend, args.units, args.items)
        print(
            f"{backend:9s} data {f['generate_s']:6.1f} s   export {f['export_s']:6.1f} s "
            f"(floor 120 s)  peak RSS {f['peak_rss_mb']:6.0f} MB (floor 500 MB)  "
            f"file {f['file_mb']:5.1f} MB  {int(f['answers']):,} answers"
        )


if __name__ == "__main__":
    main()
