"""The conclusion and remediation on the desk console (issue 18): the leader's conclusion
page, its .docx and "Ban hành"; the contact's /khacphuc on the web; the progress on the
board and in the scheduled summaries. Real console, chat sign-in, both backends."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from storage.db import transaction
from storage.db.models import (
    Assignment,
    AuditEntry,
    OutboxMessage,
    Person,
    Shortcoming,
)
from storage.formats.conclusion_docx import NoticeSettings
from storage.services.conclusion_notice import issue_conclusion
from storage.services.conclusions import add_shortcoming, conclusion_of, set_strengths
from tests.conftest import Db
from tests.test_console_access import ROLES, _csrf, world  # noqa: F401

# Who may open the leader's pages of U1 and U3 (campaign KT-A): as the report's actions.
LEADS = {"leader": {"U1"}, "other_team": {"U3"}, "admin": {"U1", "U3"}}
CONTACTS = {"contact": {"U1"}}


async def _conclude(db: Db, clock, assignment_id: int, *, shortcomings: int = 2) -> int:
    """A draft conclusion written with the chat's services: strengths and shortcomings."""
    async with transaction(db.sessions) as session:
        assignment = await session.get(Assignment, assignment_id)
        assert assignment is not None
        leader = await session.scalar(select(Person).where(Person.full_name == "Trưởng Đoàn"))
        assert leader is not None
        await set_strengths(
            session, assignment, "Công khai <b>đầy đủ</b>", person_id=leader.id, now=clock.now()
        )
        for n in range(1, shortcomings + 1):
            await add_shortcoming(
                session,
                assignment,
                text=f"Tồn tại số {n} <i>chưa</i> khắc phục",
                fix=f"Cách sửa {n}",
                due_on=date(2021, 9, 16),
                person_id=leader.id,
                now=clock.now(),
            )
        conclusion = await conclusion_of(session, assignment_id)
        assert conclusion is not None
        return conclusion.id


async def _issue(db: Db, clock, assignment_id: int, tmp_path) -> None:
    """Issued as the chat issues it (the same service, the console's evidence folder)."""
    async with transaction(db.sessions) as session:
        assignment = await session.get(Assignment, assignment_id)
        conclusion = await conclusion_of(session, assignment_id)
        assert assignment is not None and conclusion is not None
        await issue_conclusion(
            session,
            assignment,
            conclusion,
            NoticeSettings(),
            tmp_path / "ev",
            person_id=None,
            now=clock.now(),
        )


async def _outbox(db: Db, template: str) -> list[OutboxMessage]:
    async with db.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.template == template)
                .order_by(OutboxMessage.id)
            )
        )


async def _denied(db: Db) -> list[AuditEntry]:
    async with db.sessions() as session:
        return list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "access.denied"))
        )


async def _tasks(db: Db) -> list[Shortcoming]:
    async with db.sessions() as session:
        return list(await session.scalars(select(Shortcoming).order_by(Shortcoming.id)))


@pytest.mark.parametrize("role", ROLES)
async def test_every_conclusion_route_for_every_role(world, db, clock, tmp_path, role):  # noqa: F811
    clients, _, units = world
    for unit in ("U1", "U3"):
        await _conclude(db, clock, units[unit])
    await _issue(db, clock, units["U1"], tmp_path)  # U1's tasks exist; U3's is a draft
    client = clients[role]
    csrf = await _csrf(client)
    refused = 0
    for unit in ("U1", "U3"):
        a = units[unit]
        allowed = unit in LEADS.get(role, set())
        for method, path in (
            ("GET", f"/u/{a}/conclusion"),
            ("GET", f"/u/{a}/conclusion.docx"),
            ("POST", f"/u/{a}/conclusion/issue"),
        ):
            if method == "GET":
                response = await client.get(path, allow_redirects=False)
            else:
                response = await client.post(path, data={"csrf": csrf}, allow_redirects=False)
            body = await response.read()
            if role == "anonymous":
                assert response.status == 303, path
            elif allowed:
                assert response.status == (303 if method == "POST" else 200), (role, path)
            else:
                assert response.status == 404, (role, path)
                assert "Cách sửa" not in body.decode(errors="replace")
                refused += 1
    task = (await _tasks(db))[0].id  # U1's first: the unit in the URL is checked first
    for unit in ("U1", "U3"):
        a = units[unit]
        allowed = unit in CONTACTS.get(role, set())
        for method, path in (
            ("GET", f"/r/{a}/khacphuc"),
            ("POST", f"/r/{a}/khacphuc/{task}/report"),
            ("POST", f"/r/{a}/khacphuc/{task}/done"),
        ):
            if method == "GET":
                response = await client.get(path, allow_redirects=False)
            else:
                form = {"csrf": csrf, "report": "Đã làm"}
                response = await client.post(path, data=form, allow_redirects=False)
            if role == "anonymous":
                assert response.status == 303, path
            elif allowed:
                assert response.status == 200, (role, path)
                assert "Tồn tại số 1 &lt;i&gt;chưa&lt;/i&gt;" in await response.text()
            else:
                assert response.status == 404, (role, path)
                refused += 1
    denied = await _denied(db)
    assert len(denied) == refused
    assert all(d.details["via"] == "web" for d in denied)
