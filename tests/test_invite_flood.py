"""Wrong invite codes from many chats: beyond the bot's limit per minute no code is even
looked up until the minute ends, and the admins hear of it once per minute."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.outbox_render import render_text
from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from handlers.invite_guard import InviteGuard
from storage.services.invites import FLOOD_TEMPLATE
from tests import factories
from tests.chat_harness import CATALOG, Chat, import_and_codes, make_deps
from tests.conftest import Db
from tests.test_handlers_team import _outbox

TOO_MANY = "quá nhiều lần"
GUESSES = [f"7KQ2M9XD3HV{n:02d}" for n in range(5)]  # well-formed, not issued


@pytest.fixture
async def world(db: Db, clock: FrozenClock, tmp_path: Path):
    codes = await import_and_codes(db, clock, factories.campaign())
    deps = make_deps(db, clock, tmp_path, invite_guard=InviteGuard(limit=30))
    dispatcher = Dispatcher(deps)
    admins = [Chat(dispatcher, clock, name="Quản trị 1"), Chat(dispatcher, clock, language="en")]
    deps.admin_ids = {"telegram": frozenset(a.user_id for a in admins)}
    for admin in admins:
        await admin.command("start")  # their accounts exist: alerts have somewhere to go
    return codes, dispatcher


async def _guess(dispatcher: Dispatcher, clock: FrozenClock, chats: int) -> list[str]:
    """Each of `chats` new chats sends 5 wrong codes (within its own limit); the replies."""
    said = []
    for _ in range(chats):
        chat = Chat(dispatcher, clock)
        for code in GUESSES:
            await chat.command("start", code)
            said.append(chat.text_out)
    return said


async def test_200_guesses_from_40_chats_are_not_all_checked(world, db, clock):
    codes, dispatcher = world
    said = await _guess(dispatcher, clock, 40)
    assert sum("không đúng" in s for s in said) == 30  # the limit: checked, and wrong
    assert sum(TOO_MANY in s for s in said) == 170  # the rest: refused without a look
    assert all("thử lại sau 1 phút" in s for s in said if TOO_MANY in s)
    # A right code in the same minute is refused too, and is not spent.
    late = Chat(dispatcher, clock)
    await late.command("start", codes["U1"][0])
    assert TOO_MANY in late.text_out
    clock.advance(timedelta(seconds=60))  # the next minute: checks again
    await late.command("start", codes["U1"][0])
    assert "Ủy ban nhân dân Phường 1" in late.text_out


async def test_the_admins_are_alerted_once_per_minute(world, db, clock):
    _, dispatcher = world
    await _guess(dispatcher, clock, 10)
    rows = await _outbox(db, FLOOD_TEMPLATE)
    assert len(rows) == 2 and {r.kind for r in rows} == {"alert"}  # one per admin
    text = render_text(CATALOG, "vi", FLOOD_TEMPLATE, rows[0].params)
    assert "30 mã mời sai từ 6 cuộc trò chuyện" in text and "01/09/2021 08:00" in text
    english = render_text(CATALOG, "en", FLOOD_TEMPLATE, rows[1].params)
    assert "30 wrong invite codes from 6 chats" in english
    clock.advance(timedelta(seconds=30))
    await _guess(dispatcher, clock, 4)  # the same minute: refused, no new alert
    assert len(await _outbox(db, FLOOD_TEMPLATE)) == 2
    clock.advance(timedelta(seconds=30))
    await _guess(dispatcher, clock, 6)  # the next minute trips again
    assert len(await _outbox(db, FLOOD_TEMPLATE)) == 4


async def test_below_the_limit_nothing_changes(world, db, clock):
    _, dispatcher = world
    said = await _guess(dispatcher, clock, 5)  # 25 wrong codes: under 30
    assert all("không đúng" in s for s in said)
    clock.advance(timedelta(seconds=60))
    said = await _guess(dispatcher, clock, 5)  # a new minute, a new count
    assert all("không đúng" in s for s in said) and await _outbox(db, FLOOD_TEMPLATE) == []
