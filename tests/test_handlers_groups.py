"""Group chats: the bot works in private chat only; nothing of a unit reaches a group, no
code is redeemed there, and a group message never moves anyone's account."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from common.clock import FrozenClock
from common.messages import Attachment, Inbound, InboundKind
from handlers.dispatcher import Dispatcher
from storage.db.models import ChatAccount, ConversationState, EvidenceFile, Membership
from tests import factories
from tests.chat_harness import Chat, import_and_codes, make_deps
from tests.conftest import Db
from tests.test_handlers_checklist import PDF

GROUP = "-1001234567890"
UNIT = "Ủy ban nhân dân Phường 1"


@pytest.fixture
async def world(db: Db, clock: FrozenClock, tmp_path: Path):
    codes = await import_and_codes(db, clock, factories.campaign())
    deps = make_deps(db, clock, tmp_path, bot_username="cchc_bot")
    return codes, Dispatcher(deps)


async def _contact(world, clock) -> Chat:
    codes, dispatcher = world
    lan = Chat(dispatcher, clock)
    await lan.command("start", codes["U1"][0])
    assert UNIT in lan.text_out
    return lan


async def _account(db: Db, user_id: str) -> ChatAccount | None:
    async with db.sessions() as session:
        return await session.scalar(select(ChatAccount).where(ChatAccount.user_id == user_id))


@pytest.mark.parametrize("command", ["status", "review", "checklist", "summary", "help", "lang"])
async def test_a_unit_contact_command_in_a_group_shows_nothing_of_the_unit(world, clock, command):
    lan = await _contact(world, clock)
    group = lan.in_group(GROUP)
    await group.command(command)
    [reply] = group.last
    assert "trò chuyện riêng" in reply.text and "https://t.me/cchc_bot" in reply.text
    assert UNIT not in reply.text and "KT-TEST" not in reply.text
    assert reply.choices == [] and reply.document is None and reply.photo is None


async def test_start_with_a_code_in_a_group_redeems_nothing_and_warns(world, db, clock):
    codes, dispatcher = world
    stranger = Chat(dispatcher, clock, group=GROUP)
    await stranger.command("start", codes["U2"][0])
    assert "chưa được dùng" in stranger.text_out and "Phường 2" not in stranger.text_out
    assert await _account(db, stranger.user_id) is None  # not even an account
    async with db.sessions() as session:
        assert await session.scalar(select(Membership.id)) is None
    # The same person in private chat: the code still works.
    private = Chat(dispatcher, clock, stranger.user_id)
    await private.command("start", codes["U2"][0])
    assert "Ủy ban nhân dân Phường 2" in private.text_out


async def test_the_note_is_given_once_per_group_and_again_for_a_later_command(world, clock):
    lan = await _contact(world, clock)
    group = lan.in_group(GROUP)
    await group.text("Chào cả nhà")
    assert "trò chuyện riêng" in group.text_out
    for send in (group.text("Ai nộp báo cáo chưa?"), group.sticker(), group.command("status")):
        assert await send == []  # said already: not on every message
    clock.advance(timedelta(minutes=11))
    assert await group.text("Còn ai không?") == []  # plain messages: once per group
    await group.command("checklist")
    assert "trò chuyện riêng" in group.text_out  # a new command, a while later
    other = lan.in_group("-1009999")
    await other.text("Xin chào")
    assert "trò chuyện riêng" in other.text_out  # each group once


async def test_a_code_posted_as_text_in_a_group_is_always_warned_about(world, db, clock):
    codes, dispatcher = world
    someone = Chat(dispatcher, clock, group=GROUP)
    await someone.text("hello")
    await someone.text(codes["U3"][0])
    assert "chưa được dùng" in someone.text_out
    async with db.sessions() as session:
        assert await session.scalar(select(Membership.id)) is None


async def test_a_button_pressed_in_a_group_gets_a_toast_and_runs_nothing(world, db, clock):
    lan = await _contact(world, clock)
    group = lan.in_group(GROUP)
    for token in ("st", "k", "ru:1", "lang:en"):
        [reply] = await group.press(token)
        assert reply.text == "" and reply.toast and "trò chuyện riêng" in reply.toast
    account = await _account(db, lan.user_id)
    assert account is not None and account.person.locale is None  # lang:en did not run


async def test_a_file_in_a_group_is_never_downloaded_nor_kept(world, db, clock):
    lan = await _contact(world, clock)
    await lan.press_label("Bắt đầu")
    await lan.text("31/12/2020")  # the item now waits for evidence, in the private chat
    downloads: list[Path] = []

    async def download(path: Path) -> None:
        downloads.append(path)
        path.write_bytes(PDF)

    group = lan.in_group(GROUP)
    attachment = Attachment("ke-hoach.pdf", "application/pdf", len(PDF), download)
    await group.send(Inbound(InboundKind.FILE, group._sender(), clock.now(), attachment=attachment))
    assert downloads == [] and UNIT not in group.text_out
    async with db.sessions() as session:
        assert await session.scalar(select(EvidenceFile.id)) is None


async def test_a_group_message_leaves_the_account_in_private_chat(world, db, clock):
    lan = await _contact(world, clock)
    await lan.in_group(GROUP).command("status")
    account = await _account(db, lan.user_id)
    assert account is not None and account.chat_id == lan.user_id
    async with db.sessions() as session:
        group_state = await session.scalar(
            select(ConversationState).where(ConversationState.chat_id == GROUP)
        )
    assert group_state is not None and group_state.person_id is None


async def test_an_account_moved_to_a_group_before_goes_back_to_private_chat(world, db, clock):
    lan = await _contact(world, clock)
    async with db.sessions.begin() as session:  # what a group message did before the fix
        await session.execute(
            update(ChatAccount).where(ChatAccount.user_id == lan.user_id).values(chat_id=GROUP)
        )
    await lan.in_group(GROUP).text("Chào")
    account = await _account(db, lan.user_id)
    assert account is not None and account.chat_id == lan.user_id
