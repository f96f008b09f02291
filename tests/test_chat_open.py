"""`storage.services.chat_open.open_chat`: what every event starts with, in one statement on
PostgreSQL when it can, and exactly what the separate reads would give."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from storage.db.engine import transaction
from storage.services.chat_open import OpenedChat, open_chat
from storage.services.conversation_state import lock_state
from storage.services.people import account_for, roles_of
from storage.services.submissions import answer_states
from tests import factories
from tests.chat_harness import Chat, import_and_codes, make_deps
from tests.conftest import Db
from tests.test_db_lanes import POSTGRES_ONLY


async def _contact_with_an_answer(db: Db, clock: FrozenClock, tmp_path: Path) -> Chat:
    codes = await import_and_codes(db, clock, factories.campaign())
    chat = Chat(Dispatcher(make_deps(db, clock, tmp_path)), clock)
    await chat.command("start", codes["U1"][0])
    await chat.command("checklist")
    await chat.text("01/12/2020")  # item 1.1, a date
    return chat


async def _open(db: Db, clock: FrozenClock, chat: Chat) -> OpenedChat:
    async with transaction(db.sessions) as session:
        opened = await open_chat(
            session, platform="telegram", user_id=chat.user_id, chat_id=chat.user_id,
            display_name=chat.name, username=None, language_hint="vi", now=clock.now(),
        )
        if opened.roles is not None:  # read with it: the answers are known already
            for role in opened.roles:
                assert role.submission_id is not None
                opened_states = await answer_states(session, role.submission_id)
                assert set(opened_states) and opened_states is await answer_states(
                    session, role.submission_id)
        return opened


async def test_one_read_gives_what_the_separate_reads_give(db: Db, clock: FrozenClock,
                                                           tmp_path: Path) -> None:  # fmt: skip
    chat = await _contact_with_an_answer(db, clock, tmp_path)
    opened = await _open(db, clock, chat)
    async with transaction(db.sessions) as session:
        state = await lock_state(session, platform="telegram", chat_id=chat.user_id,
                                 now=clock.now())
        account = await account_for(
            session, platform="telegram", user_id=chat.user_id, chat_id=chat.user_id,
            display_name=chat.name, username=None, language_hint="vi", now=clock.now(),
        )
        roles = await roles_of(session, account.person_id)
        states = await answer_states(session, roles[0].submission_id or 0)
    assert opened.account == account
    assert (opened.state.id, opened.state.state, opened.state.data) == \
        (state.id, state.state, state.data)
    # PostgreSQL reads the roles in the same statement; SQLite when a handler asks.
    assert opened.roles == (roles if db.backend == "postgres" else None)
    assert [s.value for s in states.values()] == ["2020-12-01"]


async def test_a_first_contact_gets_an_account_and_a_state(db: Db, clock: FrozenClock) -> None:
    chat = Chat(Dispatcher.__new__(Dispatcher), clock)  # only its identity is used
    opened = await _open(db, clock, chat)
    assert opened.account.full_name == chat.name and opened.state.state == "idle"
    assert not opened.roles  # a new person has none (None on SQLite: read on demand)
    again = await _open(db, clock, chat)
    assert again.account.person_id == opened.account.person_id
    assert again.state.id == opened.state.id


@POSTGRES_ONLY
async def test_an_event_of_the_chat_in_another_process_is_waited_for(
    db: Db, clock: FrozenClock, tmp_path: Path
) -> None:
    """The other event holds the chat's row: this one must not go on with what it read
    before that event committed (its state and its roles)."""
    chat = await _contact_with_an_answer(db, clock, tmp_path)
    other = await db.engine.connect()
    try:
        await other.begin()
        await other.execute(text(
            "UPDATE conversation_states SET state = 'held', data = '{}' WHERE chat_id = :chat"
        ), {"chat": chat.user_id})  # the row is locked until `other` commits
        await other.execute(text("UPDATE memberships SET revoked_at = now()"))
        waiting = asyncio.create_task(_open(db, clock, chat))
        await _until_waiting_on_a_lock(db)
        assert not waiting.done()
        await other.commit()
        opened = await waiting
    finally:
        await other.close()
    assert opened.state.state == "held"
    async with transaction(db.sessions) as session:  # read after the lock: revoked
        assert opened.roles is None or opened.roles == []
        assert await roles_of(session, opened.account.person_id) == []


async def _until_waiting_on_a_lock(db: Db) -> None:
    query = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
    async with db.engine.connect() as watcher:
        for _ in range(500):  # a bound, not a pause: it normally takes a few turns
            if await watcher.scalar(query):
                return
            await asyncio.sleep(0.01)
    pytest.fail("the second event never waited for the first")
