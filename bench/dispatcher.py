"""The conversation alone: N unit contacts answer their checklist through the real
Dispatcher (no Bot API, no channel), all at once; CPU and SQL statements per event.

    uv run python bench/dispatcher.py                      # 100 contacts, both backends
    uv run python bench/dispatcher.py --contacts 50 --backends sqlite

Each contact sends the same 14 events as bench/conversation.py (join, the 7 items of
`tests.factories.campaign` with one PDF), each one after the previous one's replies came
back. What this isolates is what the conversation code and the database cost per event,
without aiogram, HTTP and the fake Bot API that share the process in the full benchmark:
the figure each storage optimization's gain in docs/benchmarks.md is measured with.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, func, select

from bench._databases import fresh_database
from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from storage import db as storage_db
from storage.db.models import Answer
from tests import factories
from tests.chat_harness import Chat, import_and_codes, make_deps
from tests.conftest import Db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"
EVENTS_PER_CONTACT = 14


async def answer_checklist(chat: Chat, code: str) -> None:
    await chat.command("start", code)
    await chat.press_label("Bắt đầu")
    await chat.text("31/12/2020")
    await chat.file("ke-hoach-cchc-2021.pdf", PDF)
    await chat.press_label("Tiếp tục")
    await chat.press_label("Có")
    await chat.press_label("Tiếp tục")
    await chat.text("95")
    await chat.text("0")
    await chat.press_label("Đã áp dụng")
    await chat.press_label("Tiếp tục")
    await chat.press_label("Chữ ký số")
    await chat.press_label("Xong")
    await chat.text("Đề nghị bổ sung biên chế")


async def run(backend: str, contacts: int, folder: Path, profile: Path | None = None) -> str:
    clock = FrozenClock(datetime(2021, 9, 1, 1, 0, tzinfo=UTC))  # 08:00 in TP.HCM
    async with fresh_database(backend, folder) as url:
        engine = storage_db.create_engine(url)
        await storage_db.upgrade(engine)
        db = Db(backend, url, engine, storage_db.session_factory(engine))
        codes = await import_and_codes(db, clock, factories.campaign("KT-BENCH", units=contacts))
        dispatcher = Dispatcher(make_deps(db, clock, folder / backend))
        chats = [Chat(dispatcher, clock, user_id=str(800_000 + n)) for n in range(contacts)]
        shapes: Counter[str] = Counter()

        def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            shapes[statement.split(None, 1)[0].upper()] += 1

        event.listen(engine.sync_engine, "before_cursor_execute", count)
        gc.collect()
        gc.freeze()
        profiler = cProfile.Profile() if profile is not None else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        await asyncio.gather(
            *(answer_checklist(chat, codes[f"U{n + 1}"][0]) for n, chat in enumerate(chats))
        )
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        event.remove(engine.sync_engine, "before_cursor_execute", count)
        async with db.sessions() as session:
            stored = await session.scalar(select(func.count()).select_from(Answer))
        await engine.dispose()
    events = contacts * EVENTS_PER_CONTACT
    statements = sum(shapes.values()) / events
    kinds = ", ".join(f"{k} {v / events:.2f}" for k, v in shapes.most_common())
    return (
        f"{backend:9} {events / wall:7.0f} events/s  {cpu / events * 1000:5.2f} ms CPU/event"
        f"  {statements:4.1f} statements/event ({kinds})  answers {stored}/{contacts * 7}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--rounds", type=int, default=3, help="runs per backend")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE.prof",
        help="a cProfile of the conversations of the last run (setup excluded)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            for n in range(args.rounds):
                profile = args.profile if n == args.rounds - 1 else None
                print(
                    await run(backend, args.contacts, Path(tmp) / f"{backend}{n}", profile),
                    flush=True,
                )


if __name__ == "__main__":
    asyncio.run(main())
