"""/link: one person on Telegram and Zalo, through the real dispatcher, on SQLite and
PostgreSQL; and what the outbox does for such a person (the channel used last, the other
when that one is unreachable, one message per person, the report by channel)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import cli
from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from storage.db import transaction
from storage.db.models import (
    AuditEntry,
    Campaign,
    ChatAccount,
    LinkCode,
    Notice,
    OutboxMessage,
    OutboxStatus,
)
from storage.services.notices import notice_report
from storage.services.outbox import enqueue_many
from storage.services.outbox_delivery import claim_due, mark_sending, mark_unreachable
from tests import factories
from tests.chat_harness import Chat, import_and_codes, make_deps
from tests.conftest import Db

CODE_RE = re.compile(r"/link ([A-Z0-9]{4}-[A-Z0-9]{4})")


@pytest.fixture
async def codes(db: Db, clock: FrozenClock) -> dict[str, list[str]]:
    return await import_and_codes(db, clock, factories.campaign(units=2))


@pytest.fixture
def dispatcher(db: Db, clock: FrozenClock, tmp_path: Path) -> Dispatcher:
    return Dispatcher(make_deps(db, clock, tmp_path))


async def joined(dispatcher: Dispatcher, clock: FrozenClock, code: str, **who: str) -> Chat:
    chat = Chat(dispatcher, clock, **who)  # type: ignore[arg-type]
    await chat.command("start", code)
    return chat


async def link_code(chat: Chat) -> str:
    await chat.command("link")
    found = CODE_RE.search(chat.text_out)
    assert found, chat.text_out
    return found.group(1)


async def test_a_code_from_telegram_typed_on_zalo_makes_it_the_same_person(
    db: Db, clock: FrozenClock, dispatcher: Dispatcher, codes: dict[str, list[str]]
) -> None:
    telegram = await joined(dispatcher, clock, codes["U1"][0], user_id="3001")
    code = await link_code(telegram)
    assert "10 phút" in telegram.text_out
    zalo = Chat(dispatcher, clock, user_id="z3001", platform="zalo")
    await zalo.command("link", code.lower().replace("-", " "))  # loosely typed
    assert "Đã liên kết Zalo với Telegram" in zalo.text_out
    await zalo.command("status")
    assert "Ủy ban nhân dân Phường 1" in zalo.text_out  # Lan's unit, from Zalo now
    async with db.sessions() as session:
        accounts = list(await session.scalars(select(ChatAccount).order_by(ChatAccount.id)))
        stored = list(await session.scalars(select(LinkCode)))
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "chat.linked"))
    assert len({a.person_id for a in accounts if a.user_id in ("3001", "z3001")}) == 1
    assert all(a.last_used_at is not None for a in accounts if a.user_id in ("3001", "z3001"))
    digest = hashlib.sha256(code.replace("-", "").encode()).hexdigest()
    assert [s.code_hash for s in stored] == [digest]  # the hash only, never the code
    assert stored[0].used_at is not None and audit is not None
    # Used once: typed again (from another new chat), it is refused.
    other = Chat(dispatcher, clock, user_id="z3002", platform="zalo")
    await other.command("link", code)
    assert "không đúng, đã dùng hoặc đã hết hạn" in other.text_out


async def test_the_reverse_direction_and_every_refusal(
    clock: FrozenClock, dispatcher: Dispatcher, codes: dict[str, list[str]]
) -> None:
    zalo = await joined(dispatcher, clock, codes["U2"][0], user_id="z4001", platform="zalo")
    code = await link_code(zalo)
    await zalo.command("link", code)
    assert "chính cuộc trò chuyện này" in zalo.text_out
    # A Telegram chat with a unit of its own is not merged into someone else.
    busy = await joined(dispatcher, clock, codes["U1"][0], user_id="4002")
    await busy.command("link", code)
    assert "đã có vai trò riêng" in busy.text_out
    # A new Telegram chat takes it: the reverse direction.
    telegram = Chat(dispatcher, clock, user_id="4003", language="en")
    await telegram.command("link", code)
    assert "Linked Telegram with Zalo" in telegram.text_out
    # The person has a Telegram chat now: a second one cannot join them.
    second = await link_code(zalo)
    another = Chat(dispatcher, clock, user_id="4004")
    await another.command("link", second)
    assert "đã liên kết với một cuộc trò chuyện khác" in another.text_out
    # A code expires after 10 minutes.
    third = await link_code(zalo)
    clock.advance(timedelta(minutes=10, seconds=1))
    late = Chat(dispatcher, clock, user_id="z4005", platform="zalo")
    await late.command("link", third)
    assert "đã hết hạn" in late.text_out
    await late.command("link", "KHÔNG-CÓ-MÃ")
    assert "đã hết hạn" in late.text_out


@pytest.mark.parametrize(("language", "line"), [("vi", "/link – liên kết"), ("en", "/link – link")])
async def test_help_lists_link_in_both_languages(
    clock: FrozenClock, dispatcher: Dispatcher, language: str, line: str
) -> None:
    chat = Chat(dispatcher, clock, language=language)
    await chat.command("help")
    assert line in chat.text_out


async def test_the_outbox_writes_once_to_the_channel_used_last_then_to_the_other(
    db: Db, clock: FrozenClock, dispatcher: Dispatcher, codes: dict[str, list[str]]
) -> None:
    telegram = await joined(dispatcher, clock, codes["U1"][0], user_id="5001")
    zalo = Chat(dispatcher, clock, user_id="z5001", platform="zalo")
    await zalo.command("link", await link_code(telegram))
    clock.advance(timedelta(minutes=1))
    await telegram.command("status")  # Telegram is the one used last now
    async with db.sessions() as session:
        accounts = {
            a.platform: a
            for a in await session.scalars(
                select(ChatAccount).where(ChatAccount.user_id.in_(["5001", "z5001"]))
            )
        }
    now = clock.now()
    async with transaction(db.sessions) as session:  # planned per account, as callers do
        await enqueue_many(
            session,
            [
                {
                    "dedupe_key": f"test:1:{a.id}",
                    "kind": "notice",
                    "chat_account_id": a.id,
                    "person_id": a.person_id,
                    "template": "reminders.before",
                    "not_before": now,
                    "created_at": now,
                }
                for a in accounts.values()
            ],
        )
    async with transaction(db.sessions) as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
        assert await claim_due(session, now=now, worker_id="w", limit=10, platform="zalo") == []
        rows = await claim_due(session, now=now, worker_id="w", limit=10, platform="telegram")
        assert [r.chat_account_id for r in rows] == [accounts["telegram"].id]
        assert await mark_sending(session, rows[0].id, worker_id="w", now=now)
        # Telegram says the person blocked the bot: the message goes to their Zalo.
        await mark_unreachable(session, rows[0].id, now=now, reason="403 blocked")
    async with transaction(db.sessions) as session:
        row = await session.scalar(select(OutboxMessage))
        assert row is not None
        assert (row.status, row.chat_account_id) == (OutboxStatus.PENDING, accounts["zalo"].id)
        moved = await claim_due(session, now=now, worker_id="w", limit=10, platform="zalo")
        assert [r.id for r in moved] == [row.id]


async def test_the_delivery_report_says_which_channel_each_message_went_through(
    db: Db, clock: FrozenClock, tmp_path: Path, codes: dict[str, list[str]]
) -> None:
    deps = make_deps(db, clock, tmp_path)
    deps.admin_ids = {"telegram": frozenset({"6009"})}
    dispatcher = Dispatcher(deps)
    await joined(dispatcher, clock, codes["U1"][0], user_id="6001")
    await joined(dispatcher, clock, codes["U2"][0], user_id="z6002", platform="zalo")
    now = clock.now()
    async with transaction(db.sessions) as session:
        campaign = await session.scalar(select(Campaign))
        assert campaign is not None
        notice = Notice(
            campaign_id=campaign.id,
            audience="all",
            text="Họp giao ban",
            send_at=now,
            created_at=now,
            dispatched_at=now,
        )
        session.add(notice)
        await session.flush()
        for account in await session.scalars(select(ChatAccount).order_by(ChatAccount.id)):
            session.add(
                OutboxMessage(
                    dedupe_key=f"notice:{notice.id}:{account.id}",
                    kind="notice",
                    notice_id=notice.id,
                    campaign_id=campaign.id,
                    chat_account_id=account.id,
                    template="notices.message",
                    status=OutboxStatus.SENT,
                    not_before=now,
                    created_at=now,
                )
            )
        code = campaign.code
    async with db.sessions() as session:
        (report,) = await notice_report(session, campaign.id)
    assert report.sent_by_channel == {"telegram": 1, "zalo": 1}
    admin = Chat(dispatcher, clock, user_id="6009")  # the chat's report of the notice
    await admin.press(f"bcr:{notice.id}")
    assert "Đã gửi qua: Telegram 1 · Zalo 1" in admin.text_out
    env = {"DATABASE_URL": db.url, "CCHC_LANG": "en"}
    # The CLI runs its own event loop: in a thread, as from a shell beside the bot.
    listed = await asyncio.to_thread(CliRunner().invoke, cli, ["notice", "list", code], env=env)
    assert listed.exit_code == 0, listed.output
    assert "2 (telegram 1, zalo 1)" in listed.output
    args = ["notice", "list", code, "--format", "json"]
    as_json = await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)
    assert json.loads(as_json.output)[0]["sent_by_channel"] == {"telegram": 1, "zalo": 1}
