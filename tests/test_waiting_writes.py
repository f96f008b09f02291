"""An answer's write waits for the transaction's next statement (storage/prepared.py
`Waiting`): whatever runs next sees it, the chat's state save carries it on PostgreSQL,
a commit without one still keeps it, and a failed event loses it with everything else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import FrozenClock
from storage.db import prepared
from storage.db.engine import transaction
from storage.db.models import Answer, AnswerRevision, ConversationState, Person, Submission
from storage.services.checklist import ChecklistCache, ItemInfo
from storage.services.conversation_state import lock_state, save_state
from storage.services.invites import redeem_invite
from storage.services.people import roles_of
from storage.services.submissions import answer_states, record_answer
from tests import factories
from tests.chat_harness import import_and_codes
from tests.conftest import Db

POSTGRES_ONLY = pytest.mark.parametrize(
    "backend_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@dataclass
class Contact:
    person_id: int
    submission_id: int
    item: ItemInfo


async def _contact(db: Db, clock: FrozenClock) -> Contact:
    """A linked unit contact and the first item of their checklist."""
    codes = await import_and_codes(db, clock, factories.campaign(units=1))
    async with transaction(db.sessions) as session:
        person = Person(full_name="Lan", created_at=clock.now())
        session.add(person)
        await session.flush()
        await redeem_invite(session, codes["U1"][0], person, now=clock.now())
        (role,) = await roles_of(session, person.id)
        checklist = await ChecklistCache().get(session, role.campaign_id)
    assert role.submission_id is not None
    return Contact(person.id, role.submission_id, checklist.items[0])


async def _answer(session: AsyncSession, contact: Contact, value: object,
                  clock: FrozenClock) -> None:  # fmt: skip
    submission = await session.get(Submission, contact.submission_id)
    assert submission is not None
    await record_answer(session, submission, contact.item, value, person_id=contact.person_id,
                        now=clock.now())


async def _stored(db: Db) -> list[object]:
    async with db.sessions() as session:
        return list(await session.scalars(select(Answer.value)))


async def test_the_next_statement_of_any_kind_sees_the_answer(db: Db, clock: FrozenClock) -> None:
    contact = await _contact(db, clock)
    async with transaction(db.sessions) as session:
        await _answer(session, contact, True, clock)
        # an ORM query
        assert list(await session.scalars(select(Answer.value))) == [True]
    async with transaction(db.sessions) as session:
        await _answer(session, contact, False, clock)
        # a Core statement on the session's connection (as storage.services.outbox writes)
        connection = await session.connection()
        assert (await connection.execute(select(Answer.value))).scalars().all() == [False]
    async with transaction(db.sessions) as session:
        await _answer(session, contact, True, clock)
        session.info.pop("cchc.answer_states", None)  # read from the database, on the driver
        states = await answer_states(session, contact.submission_id)
        assert states[contact.item.id].value is True
    async with db.sessions() as session:
        revisions = await session.scalar(select(func.count()).select_from(AnswerRevision))
    assert revisions == 3


async def test_an_answer_with_nothing_after_it_is_committed(db: Db, clock: FrozenClock) -> None:
    contact = await _contact(db, clock)
    async with transaction(db.sessions) as session:
        await _answer(session, contact, True, clock)
    assert await _stored(db) == [True]


async def test_a_failed_event_loses_its_answer_and_the_next_one_does_not_get_it(
    db: Db, clock: FrozenClock
) -> None:
    contact = await _contact(db, clock)
    with pytest.raises(RuntimeError):
        async with transaction(db.sessions) as session:
            await _answer(session, contact, True, clock)
            raise RuntimeError("the event failed before its answer went out")
    async with transaction(db.sessions) as session:  # the same lane, a later event
        session.add(Person(full_name="Hoa", created_at=clock.now()))
    assert await _stored(db) == []
    async with db.sessions() as session:
        assert set(await session.scalars(select(Person.full_name))) == {"Lan", "Hoa"}


@POSTGRES_ONLY
async def test_the_state_save_carries_the_answer_in_one_statement(
    db: Db, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    contact = await _contact(db, clock)
    sent: list[str] = []
    monkeypatch.setattr(prepared, "trace", sent.append)
    async with transaction(db.sessions) as session:
        state = await lock_state(session, platform="telegram", chat_id="42", now=clock.now())
        before = len(sent)
        await _answer(session, contact, True, clock)
        assert len(sent) == before  # not sent yet
        state.state, state.data = "answer", {"item": contact.item.id + 1}
        await save_state(session, state, clock.now() + timedelta(seconds=1))
        (statement,) = sent[before:]
    assert "answers" in statement and "conversation_states" in statement
    assert await _stored(db) == [True]
    async with db.sessions() as session:
        saved = await session.get(ConversationState, state.id)
    assert saved is not None
    assert (saved.state, saved.data) == ("answer", {"item": contact.item.id + 1})
    assert saved.updated_at == clock.now() + timedelta(seconds=1)
