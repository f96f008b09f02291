"""`storage.services.chat_open.open_chat`: what every event starts with, and exactly what
the separate reads would give (account, roles, every kind of answer value)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event

from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from storage.db.session import transaction
from storage.services.chat_open import open_chat
from storage.services.people import account_for, roles_of
from storage.services.submissions import answer_states, submission_for
from tests import factories
from tests.chat_harness import Chat, import_and_codes, make_deps
from tests.conftest import Db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"


async def _answered_everything(db: Db, clock: FrozenClock, tmp_path: Path) -> Chat:
    codes = await import_and_codes(db, clock, factories.campaign())
    chat = Chat(Dispatcher(make_deps(db, clock, tmp_path)), clock)
    await chat.command("start", codes["U1"][0])
    await chat.command("checklist")
    await chat.text("31/12/2020")  # a date
    await chat.file("ke-hoach.pdf", PDF)  # with a file
    await chat.press_label("Tiếp tục")
    await chat.press_label("Không")  # yes/no
    await chat.press_label("Giải trình")
    await chat.text("Chưa ban hành")  # a note instead of evidence
    await chat.text("97,5")  # percent
    await chat.text("0")  # number
    await chat.press_label("Đang xây dựng")  # choice
    await chat.press_label("Tiếp tục")
    await chat.press_label("Chữ ký số")  # multi
    await chat.press_label("Một cửa")
    await chat.press_label("Xong")
    await chat.text('Ý kiến "có ngoặc" và \\ gạch')  # text
    return chat


async def test_one_read_gives_what_the_separate_reads_give(
    db: Db, clock: FrozenClock, tmp_path: Path
) -> None:
    chat = await _answered_everything(db, clock, tmp_path)
    profile = {
        "platform": "telegram",
        "user_id": chat.user_id,
        "chat_id": chat.user_id,
        "display_name": chat.name,
        "username": None,
        "language_hint": "vi",
        "now": clock.now(),
    }
    async with transaction(db.sessions) as session:
        opened = await open_chat(session, **profile)
        [role] = opened.roles
        assert role.submission_id is not None
        statements: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            statements.append(statement)

        event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        together = dict(await answer_states(session, role.submission_id))
        submission = await submission_for(session, role.assignment_id or 0, role.submission_id)
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
        assert statements == []  # both came with the open: no query of their own
        assert submission is role.submission
    async with transaction(db.sessions) as session:
        account = await account_for(session, **profile)
        roles = await roles_of(session, account.person_id)
        apart = await answer_states(session, role.submission_id)
    assert opened.account == account
    assert [(r.membership_id, r.submission_id, r.unit_code) for r in opened.roles] == [
        (r.membership_id, r.submission_id, r.unit_code) for r in roles
    ]
    assert len(together) == 7
    assert together == apart


async def test_a_first_contact_gets_an_account_a_state_and_no_roles(
    db: Db, clock: FrozenClock
) -> None:
    async with transaction(db.sessions) as session:
        opened = await open_chat(
            session,
            platform="telegram",
            user_id="42",
            chat_id="42",
            display_name="Lan",
            username=None,
            language_hint="vi",
            now=clock.now(),
        )
    assert opened.roles == [] and opened.state.state == "idle"
    assert opened.account.full_name == "Lan"


async def test_postgres_opens_a_known_chat_with_one_statement_sqlite_with_two(
    db: Db, clock: FrozenClock, tmp_path: Path
) -> None:
    chat = await _answered_everything(db, clock, tmp_path)
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with transaction(db.sessions) as session:
            opened = await open_chat(
                session,
                platform="telegram",
                user_id=chat.user_id,
                chat_id=chat.user_id,
                display_name=chat.name,
                username=None,
                language_hint="vi",
                now=clock.now(),
            )
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    reads = [s for s in statements if not s.startswith("BEGIN")]
    assert len(reads) == (1 if db.backend == "postgres" else 2)
    assert opened.roles and opened.state.person_id == opened.account.person_id
