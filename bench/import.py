"""Import a generated campaign of 10,000 units x 100 items; print time and peak memory.

    uv run python bench/import.py                 # SQLite and PostgreSQL, 10,000 x 100
    uv run python bench/import.py --units 1000 --backends sqlite

Each backend runs in its own process so its peak RSS is its own. The whole path is timed:
parsing and validating the YAML file, then writing it (units, assignments, submissions,
items, invite codes) in one transaction, then a re-import of the same file.
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
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TYPES = ["yesno", "percent", "number", "date", "choice", "multi", "text"]


def generate_yaml(units: int, items: int) -> str:
    lines = [
        "code: BENCH-IMPORT",
        "title: Bench campaign",
        "timezone: Asia/Ho_Chi_Minh",
        "deadline: 2026-12-31 17:00",
        "reminders: [7d, 1d]",
        "overdue_every: 1d",
        "teams:",
        *[f"  - {{code: D{t}, name: Đoàn {t}, members: 2}}" for t in range(1, 11)],
        "units:",
    ]
    lines += [
        f"  - {{code: U{n:05d}, name: Phường số {n}, team: D{n % 10 + 1}, contacts: 2}}"
        for n in range(units)
    ]
    lines.append("checklist:")
    for section in range(10):
        lines.append(f'  - section: "Lĩnh vực {section + 1}"\n    items:')
        for n in range(items // 10):
            kind = TYPES[n % len(TYPES)]
            item = [
                f'      - code: "{section + 1}.{n + 1}"',
                f"        text: Tiêu chí {n + 1}",
                f"        type: {kind}",
                "        required: false",
            ]
            if kind in ("choice", "multi"):
                item.append("        options: [Có, Một phần, Chưa]")
            lines += item
    return "\n".join(lines) + "\n"


async def run_once(url: str, path: Path) -> dict[str, float]:
    from storage.db import create_engine, session_factory, transaction, upgrade
    from storage.formats.campaign_file import load_campaign_file
    from storage.services.campaign_import import import_campaign

    engine = create_engine(url)
    await upgrade(engine)
    sessions = session_factory(engine)
    figures = {}
    start = time.perf_counter()
    spec, problems = load_campaign_file(path)
    assert spec is not None, problems[:3]
    figures["parse_s"] = time.perf_counter() - start
    for label in ("import_s", "reimport_s"):
        start = time.perf_counter()
        async with transaction(sessions) as session:
            await import_campaign(session, spec, now=datetime.now(UTC))
        figures[label] = time.perf_counter() - start
    await engine.dispose()
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def child(backend: str, path: Path) -> None:
    from bench._databases import fresh_database_sync

    with fresh_database_sync(backend, Path(tempfile.mkdtemp())) as url:
        print(json.dumps(asyncio.run(run_once(url, path))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.file))
        return
    path = Path(tempfile.mkdtemp()) / "bench-campaign.yaml"
    path.write_text(generate_yaml(args.units, args.items), encoding="utf-8")
    print(
        f"campaign: {args.units} units x {args.items} items "
        f"({path.stat().st_size / 1e6:.1f} MB of YAML)"
    )
    for backend in args.backends.split(","):
        out = subprocess.run(
            [sys.executable, __file__, "--child", backend, "--file", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        f = json.loads(out.strip().splitlines()[-1])
        total = f["parse_s"] + f["import_s"]
        print(
            f"{backend:9s} parse+validate {f['parse_s']:6.1f} s  import {f['import_s']:6.1f} s"
            f"  total {total:6.1f} s (floor 60 s)  re-import {f['reimport_s']:6.1f} s"
            f"  peak RSS {f['peak_rss_mb']:6.0f} MB (floor 500 MB)"
        )


if __name__ == "__main__":
    main()
