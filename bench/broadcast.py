"""A notice broadcast to 3,000 officers through the outbox, the real TelegramChannel and the
fake Bot API enforcing Telegram's flood limits (30 msg/s per bot, 1 msg/s per chat).

    python bench/broadcast.py                   # 3,000 recipients per scenario
    python bench/broadcast.py --recipients 600  # a quicker look

Three scenarios, each on a fresh SQLite database in a temporary directory (a campaign, its
unit contacts and one outbox row per contact), the delivery worker on wall-clock time until
every row is settled:

    clean      the broadcast alone
    5% 429s    the fake refuses 5% of sends at random (429, retry_after 2 s), as Telegram
               does to one chat: only that chat should wait
    + replies  the broadcast while conversation replies (10 a second, to other chats) go
               through the same send budget, first

Printed per scenario: the achieved rate as a fraction of the 30 msg/s limit (floors: 0.9
clean, 0.8 under 5% 429s), the 429s our own pace caused (must be 0), the injected ones,
messages lost (rows not SENT, or SENT but never received) and duplicates. Exit status 1 when
self-caused 429s, losses or duplicates are not zero; the rates are reported, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

# Run as a script from anywhere: make the repository root importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiogram import Bot
from aiogram.methods import SendMessage
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.telegram import TelegramChannel, build_bot
from bot.channels.telegram_outbound import Outbound
from bot.outbox_render import make_renderer
from common.clock import SystemClock
from common.i18n import Catalog
from schedules.delivery import DeliveryWorker
from schedules.pacing import Pacer, RateLimiter, RateLimits
from storage import db as storage_db
from storage.db.models import (
    Assignment,
    ChatAccount,
    Membership,
    OutboxMessage,
    OutboxStatus,
    Person,
)
from storage.services.campaign_import import import_campaign
from storage.services.outbox import button, enqueue_many
from tests import factories
from tests.fake_telegram import FakeTelegram

Sessions = async_sessionmaker[AsyncSession]
LIMIT = 30  # messages per second per bot, enforced by the fake
FLOORS = {"clean": 0.9, "5% 429s": 0.8, "+ replies": 0.9}
REPLIES_PER_SECOND = 10
REPLY_CHAT = 900_000_000  # reply chats: apart from the broadcast's
FIRST_CHAT = 700_000_000
CONTACTS_PER_UNIT = 2
NOTICE = {
    "vi": "Thông báo lịch kiểm tra CCHC: <b>{unit}</b> được kiểm tra ngày {date} tại {place}. "
    "Đề nghị gửi báo cáo tự kiểm tra trước {deadline}.",
    "en": "Inspection notice: <b>{unit}</b> will be inspected on {date} at {place}. "
    "Please send the self-inspection report by {deadline}.",
    "open": {"vi": "Mở danh mục kiểm tra", "en": "Open the checklist"},
}


def bench_catalog() -> Catalog:
    """The real catalog plus the notice text this benchmark sends."""
    catalog = Catalog.load()
    for locale in ("vi", "en"):
        catalog.texts[locale]["bench.notice"] = NOTICE[locale]
        catalog.texts[locale]["bench.open"] = NOTICE["open"][locale]
    return catalog


async def prepare(sessions: Sessions, recipients: int, now: datetime) -> None:
    """A campaign, one person + chat account + membership per recipient, one row each."""
    units = max(1, math.ceil(recipients / CONTACTS_PER_UNIT))
    async with storage_db.transaction(sessions) as session:
        result = await import_campaign(session, factories.campaign("BENCH", units=units), now=now)
        assignments = (
            await session.scalars(
                select(Assignment.id)
                .where(Assignment.campaign_id == result.campaign_id)
                .order_by(Assignment.position)
            )
        ).all()
        accounts = []
        for n in range(recipients):
            person = Person(full_name=f"Cán bộ đầu mối {n}", created_at=now)
            account = ChatAccount(
                person=person,
                platform="telegram",
                user_id=str(FIRST_CHAT + n),
                chat_id=str(FIRST_CHAT + n),
                language_hint="en" if n % 10 == 0 else "vi",
                created_at=now,
            )
            session.add_all(
                [
                    account,
                    Membership(
                        person=person,
                        campaign_id=result.campaign_id,
                        role="unit_contact",
                        assignment_id=assignments[n // CONTACTS_PER_UNIT],
                        created_at=now,
                    ),
                ]
            )
            accounts.append(account)
        await session.flush()
        await enqueue_many(
            session,
            [
                {
                    "dedupe_key": f"notice:bench:{a.id}",
                    "kind": "notice",
                    "campaign_id": result.campaign_id,
                    "person_id": a.person_id,
                    "chat_account_id": a.id,
                    "template": "bench.notice",
                    "not_before": now,
                    "created_at": now,
                    "params": {
                        "unit": f"Ủy ban nhân dân Phường {n // CONTACTS_PER_UNIT + 1}",
                        "date": "05/10/2021 08:30",
                        "place": "Trụ sở UBND",
                        "deadline": "30/09/2021 17:00",
                        "_buttons": [[button("bench.open", f"cl:{n}")]],
                    },
                }
                for n, a in enumerate(accounts)
            ],
        )


async def settled(sessions: Sessions) -> Counter[str]:
    async with sessions() as session:
        counts = await session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return Counter({status: n for status, n in counts.all()})


async def deliver(
    fake: FakeTelegram, sessions: Sessions, recipients: int, *, replies: bool
) -> tuple[DeliveryWorker, float, int]:
    bot = build_bot(fake.token, fake.base_url)
    limiter = Pacer(RateLimits(), started=time.monotonic())  # as `cchc-bot run` makes it
    worker = DeliveryWorker(
        sessions,
        {"telegram": TelegramChannel(bot)},
        make_renderer(bench_catalog()),
        SystemClock(),
        {"telegram": limiter},
        "bench:1",
        instance="bench",
        pace_clock=time.monotonic,
    )
    stop = asyncio.Event()
    started = time.perf_counter()
    running = asyncio.create_task(worker.run(stop))
    replying = asyncio.create_task(reply_steadily(bot, limiter, stop)) if replies else None
    try:
        while True:
            counts = await settled(sessions)
            if sum(counts[s] for s in UNSETTLED) == 0:
                break
            print(f"  {counts[OutboxStatus.SENT]}/{recipients} sent", end="\r", flush=True)
            await asyncio.sleep(1.0)  # a benchmark runs on wall time by nature
    finally:
        stop.set()
        worker.notify()
        await running
        replied = await replying if replying else 0
        await bot.session.close()
    return worker, time.perf_counter() - started, replied


UNSETTLED = (OutboxStatus.PENDING, OutboxStatus.CLAIMED, OutboxStatus.SENDING)


async def reply_steadily(bot: Bot, limiter: RateLimiter, stop: asyncio.Event) -> int:
    """Replies to people chatting meanwhile, through the bot's shared budget; the count."""
    outbound = Outbound(bot, flood_wait=10.0, limiter=limiter)
    sent = 0
    while not stop.is_set():
        chat = REPLY_CHAT + sent % 50
        await outbound.call(SendMessage(chat_id=chat, text=f"Đã lưu câu trả lời {sent}"))
        sent += 1
        await asyncio.sleep(1 / REPLIES_PER_SECOND)
    return sent


async def scenario(name: str, recipients: int) -> int:
    with tempfile.TemporaryDirectory(prefix="cchc-bench-") as tmp:
        engine = storage_db.create_engine(f"sqlite:///{tmp}/bench.sqlite3")
        try:
            await storage_db.upgrade(engine)
            sessions = storage_db.session_factory(engine)
            await prepare(sessions, recipients, SystemClock().now())
            async with FakeTelegram() as fake:
                fake.set_rate_limits(global_per_second=LIMIT, per_chat=(1, 1.0))
                if name == "5% 429s":
                    fake.inject_429(0.05, retry_after=2, seed=15)
                worker, elapsed, replied = await deliver(
                    fake, sessions, recipients, replies=name == "+ replies"
                )
                return await report(name, fake, sessions, worker, recipients, elapsed, replied)
        finally:
            await engine.dispose()


async def main(recipients: int, only: str | None) -> int:
    failures = 0
    for name in FLOORS:
        if only is None or only == name:
            failures += await scenario(name, recipients)
    return 1 if failures else 0


async def report(
    name: str,
    fake: FakeTelegram,
    sessions: Sessions,
    worker: DeliveryWorker,
    recipients: int,
    elapsed: float,
    replied: int,
) -> int:
    delivered = [c for c in fake.calls_to("sendMessage", ok_only=True) if c.chat_id < REPLY_CHAT]
    per_chat = Counter(call.chat_id for call in delivered)
    async with sessions() as session:
        rows = (
            await session.execute(
                select(OutboxMessage.status, ChatAccount.chat_id).join(ChatAccount)
            )
        ).all()
    sent_chats = {int(chat) for status, chat in rows if status == OutboxStatus.SENT}
    lost = sum(1 for status, _ in rows if status != OutboxStatus.SENT) + len(
        sent_chats - set(per_chat)
    )
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    span = delivered[-1].at - delivered[0].at if len(delivered) > 1 else 0.0
    rate = (len(delivered) - 1 + replied) / span if span > 0 else 0.0
    floor = FLOORS[name]
    self_caused = fake.gates.flood_refusals
    print(
        f"broadcast [{name}]: {recipients} recipients, {len(delivered)} messages "
        f"+ {replied} replies in {span:.1f} s (whole run {elapsed:.1f} s)"
    )
    print(
        f"  achieved rate   {rate:.2f} msg/s = {rate / LIMIT:.3f} of the {LIMIT}/s limit "
        f"(floor {floor}: {'met' if rate / LIMIT >= floor else 'NOT met'})"
    )
    print(f"  429s self-caused {self_caused}   injected {fake.gates.injected_refusals}")
    print(f"  messages lost   {lost}")
    print(f"  duplicates      {duplicates}")
    print(f"  worker          {worker.stats}")
    return 1 if self_caused or lost or duplicates else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=3000)
    parser.add_argument("--only", choices=list(FLOORS), help="run one scenario")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sys.exit(asyncio.run(main(args.recipients, args.only)))
