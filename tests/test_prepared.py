"""Hot-path statements run on the driver (storage/prepared.py): same transaction, same
values as through SQLAlchemy, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, event, insert, select, update

from common.clock import FrozenClock
from storage.db import prepared
from storage.db.engine import transaction
from storage.db.models import Answer, ChatAccount, Person, Submission
from storage.db.prepared import Prepared
from storage.services.checklist import ChecklistCache
from storage.services.invites import redeem_invite
from storage.services.people import account_for, person_row, roles_of
from storage.services.submissions import record_answer
from tests import factories
from tests.chat_harness import import_and_codes
from tests.conftest import Db

_PEOPLE = Person.__table__
_PERSON = Prepared(select(Person.id, Person.full_name, Person.is_admin, Person.created_at)
                   .where(Person.id == bindparam("id")))
_SUBMISSION = Prepared(select(Submission.status, Submission.self_score, Submission.late,
                              Submission.updated_at).where(Submission.id == bindparam("id")))
_RENAME = Prepared(update(_PEOPLE).where(_PEOPLE.c.id == bindparam("id"))
                   .values(full_name=bindparam("name")))
# full_name and is_admin left out: their Python-side defaults must be filled in.
_NEW_PERSON = Prepared(insert(_PEOPLE).values(created_at=bindparam("now"))
                       .returning(_PEOPLE.c.id, _PEOPLE.c.full_name, _PEOPLE.c.is_admin))

NOW = datetime(2021, 9, 1, 1, 0, tzinfo=UTC)


async def _person(db: Db, name: str = "Lan") -> int:
    async with transaction(db.sessions) as session:
        person = Person(full_name=name, created_at=NOW)
        session.add(person)
        await session.flush()
        return person.id


async def test_values_come_back_as_the_orm_would_give_them(db: Db) -> None:
    person_id = await _person(db)
    async with transaction(db.sessions) as session:
        row = await _PERSON.first(session, {"id": person_id})
        orm = await session.get(Person, person_id)
    assert orm is not None
    assert row == (person_id, "Lan", False, NOW)
    assert row[3].tzinfo is not None and row[3] == orm.created_at
    assert isinstance(row[2], bool)


async def test_floats_and_strings_of_a_submission(db: Db, clock: FrozenClock) -> None:
    await import_and_codes(db, clock, factories.campaign(units=1))
    async with transaction(db.sessions) as session:
        submission = await session.scalar(select(Submission))
        assert submission is not None
        submission.self_score, submission.late = 12.5, True
    async with transaction(db.sessions) as session:
        row = await _SUBMISSION.first(session, {"id": submission.id})
    assert row is not None
    status, score, late, updated = row
    assert (status, score, late) == ("not_started", 12.5, True)
    assert isinstance(score, float) and updated.tzinfo is not None


async def test_a_rollback_undoes_a_prepared_write_even_as_first_statement(db: Db) -> None:
    person_id = await _person(db)
    with pytest.raises(RuntimeError):
        async with transaction(db.sessions) as session:
            await _RENAME.rows(session, {"id": person_id, "name": "Hoa"})  # opens the transaction
            assert await _PERSON.first(session, {"id": person_id}) == (person_id, "Hoa", False,
                                                                       NOW)
            raise RuntimeError("the event failed")
    async with transaction(db.sessions) as session:
        row = await _PERSON.first(session, {"id": person_id})
    assert row is not None and row[1] == "Lan"


async def test_python_side_defaults_are_filled_in(db: Db) -> None:
    async with transaction(db.sessions) as session:
        row = await _NEW_PERSON.first(session, {"now": NOW})
    assert row is not None
    assert row[1:] == ("", False)


async def test_pending_orm_changes_are_flushed_first(db: Db) -> None:
    async with transaction(db.sessions) as session:
        person = Person(full_name="Mai", created_at=NOW)
        session.add(person)
        rows = await Prepared(select(Person.full_name)).rows(session, {})
    assert rows == [("Mai",)]


async def test_statements_are_traced_when_asked(db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    person_id = await _person(db)
    seen: list[str] = []
    monkeypatch.setattr(prepared, "trace", seen.append)
    async with transaction(db.sessions) as session:
        await _PERSON.first(session, {"id": person_id})
    assert len(seen) == 1 and seen[0].lstrip().upper().startswith("SELECT")


async def test_roles_bring_the_submission_into_the_session_unchanged(
    db: Db, clock: FrozenClock
) -> None:
    codes = await import_and_codes(db, clock, factories.campaign(units=1))
    person_id = await _person(db, "Lan")
    async with transaction(db.sessions) as session:
        person = await session.get(Person, person_id)
        assert person is not None
        await redeem_invite(session, codes["U1"][0], person, now=clock.now())
    async with transaction(db.sessions) as session:
        (role,) = await roles_of(session, person_id)
        submission = await session.get(Submission, role.submission_id)  # no query: loaded
        assert submission is not None and submission in session
        assert not session.dirty and submission.status == "not_started"
        # an answer marks the report in progress, written at once, nothing left to flush
        checklist = await ChecklistCache().get(session, role.campaign_id)
        await record_answer(session, submission, checklist.items[0], True, person_id=person_id,
                            now=clock.now() + timedelta(minutes=1))
        assert not session.dirty and submission.status == "in_progress"
        assert submission.version == 1
        again = await roles_of(session, person_id)  # the same object, not a second one
        assert await session.get(Submission, again[0].submission_id) is submission
        answers = (await session.execute(select(Answer.value, Answer.reopened))).all()
        assert [tuple(a) for a in answers] == [(True, False)]
    async with transaction(db.sessions) as session:
        row = await _SUBMISSION.first(session, {"id": role.submission_id})
    assert row is not None and row[0] == "in_progress"
    assert row[3] == clock.now() + timedelta(minutes=1)



async def test_a_first_contact_is_written_on_the_driver_and_its_person_is_in_the_session(
    db: Db, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []  # on the driver and through SQLAlchemy
    monkeypatch.setattr(prepared, "trace", sent.append)

    def through_sqlalchemy(conn: object, cursor: object, statement: str, *args: object) -> None:
        sent.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", through_sqlalchemy)
    async with transaction(db.sessions) as session:
        user = await account_for(session, platform="telegram", user_id="77", chat_id="77",
                                 display_name="Trần Văn Hùng", username="hung",
                                 language_hint="vi", now=NOW)
        written = len(sent)
        person = await person_row(session, user)  # no query: as if loaded
        assert len(sent) == written and not session.dirty
        assert (person.id, person.full_name, person.is_admin) == (user.person_id,
                                                                  "Trần Văn Hùng", False)
        person.locale = "en"  # and an ORM change to it is flushed as usual
    async with db.sessions() as session:
        account = await session.scalar(select(ChatAccount))
        assert account is not None and account.person.locale == "en"
        assert (account.user_id, account.username, account.language_hint) == ("77", "hung",
                                                                               "vi")
        assert account.created_at == NOW and account.person.created_at == NOW
