"""The conclusion and remediation on the desk console (issue 18): the leader's conclusion
page, its .docx and "Ban hành"; the contact's /khacphuc on the web; the progress on the
board and in the scheduled summaries. Real console, chat sign-in, both backends."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pytest
from aiohttp import FormData
from docx import Document
from sqlalchemy import select, update

from storage.db import transaction
from storage.db.models import (
    Assignment,
    AuditEntry,
    ChatAccount,
    FixStatus,
    Membership,
    OutboxMessage,
    Person,
    Role,
    Shortcoming,
    ShortcomingFile,
    Unit,
)
from storage.formats.conclusion_docx import NoticeSettings
from storage.services.conclusion_notice import issue_conclusion
from storage.services.conclusions import add_shortcoming, conclusion_of, set_strengths
from tests.conftest import Db
from tests.test_console_access import ROLES, _csrf, world  # noqa: F401
from tests.test_handlers_checklist import PDF
from tests.test_summaries import local, make_world, render, rows, run

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
            ("FILES", f"/r/{a}/khacphuc/{task}/files"),
            ("POST", f"/r/{a}/khacphuc/{task}/done"),
        ):
            if method == "GET":
                response = await client.get(path, allow_redirects=False)
            elif method == "FILES":
                upload = FormData()
                upload.add_field("csrf", csrf)
                upload.add_field("files", PDF, filename="bien-ban.pdf")
                response = await client.post(path, data=upload, allow_redirects=False)
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


async def test_leader_downloads_and_issues_once_as_the_chat_does(world, db, clock):  # noqa: F811
    clients, ids, units = world
    leader, a = clients["leader"], units["U1"]
    page = await (await leader.get(f"/u/{a}")).text()
    assert f'href="/u/{a}/conclusion"' in page  # the report page links to it
    empty = await (await leader.get(f"/u/{a}/conclusion")).text()
    assert 'data-conclusion="none"' in empty
    conclusion_id = await _conclude(db, clock, a)
    draft = await (await leader.get(f"/u/{a}/conclusion")).text()
    assert 'data-conclusion="draft"' in draft and "16/09/2021" in draft
    assert "Tồn tại số 2 &lt;i&gt;chưa&lt;/i&gt; khắc phục" in draft  # typed text escaped
    response = await leader.get(f"/u/{a}/conclusion.docx")
    assert response.status == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Content-Type"].endswith("wordprocessingml.document")
    document = Document(io.BytesIO(await response.read()))
    text = "\n".join(p.text for p in document.paragraphs)
    text += "\n".join(c.text for t in document.tables for row in t.rows for c in row.cells)
    assert "Tồn tại số 1 <i>chưa</i> khắc phục" in text and "Cách sửa 2" in text
    assert "16/09/2021" in text
    assert await _outbox(db, "conclusion.issued_notice") == []  # downloading sends nothing

    csrf = await _csrf(leader)
    issued = await leader.post(
        f"/u/{a}/conclusion/issue", data={"csrf": csrf}, allow_redirects=False
    )
    assert issued.status == 303
    assert issued.headers["Location"] == f"/u/{a}/conclusion?msg=issued"
    async with db.sessions() as session:  # what the chat's issue writes: one per contact chat
        expected = {
            f"conclusion:{conclusion_id}:{account}"
            for account in await session.scalars(
                select(ChatAccount.id)
                .join(Membership, Membership.person_id == ChatAccount.person_id)
                .where(Membership.assignment_id == a, Membership.role == Role.UNIT_CONTACT)
            )
        }
    sent = await _outbox(db, "conclusion.issued_notice")
    assert len(expected) == 1 and {r.dedupe_key for r in sent} == expected
    [row] = sent
    assert row.kind == "conclusion" and row.params["count"] == 2
    assert row.params["_document"]["path"].endswith(".docx")
    # A second press (and the chat's own issue button) send nothing more.
    again = await leader.post(
        f"/u/{a}/conclusion/issue", data={"csrf": csrf}, allow_redirects=False
    )
    assert again.headers["Location"].endswith("msg=issued_again")
    assert len(await _outbox(db, "conclusion.issued_notice")) == 1
    shown = await (await leader.get(f"/u/{a}/conclusion?msg=issued_again")).text()
    assert 'data-conclusion="issued"' in shown and "không gửi thêm" in shown
    kept = await leader.get(f"/u/{a}/conclusion.docx")  # now the very document sent
    assert await kept.read() == Path(row.params["_document"]["path"]).read_bytes()
    # Without the CSRF token: refused, nothing issued.
    bad = await leader.post(f"/u/{a}/conclusion/issue", data={"csrf": "x"})
    assert bad.status == 403

    # The board shows the unit's progress, from one grouped query.
    board = await (await leader.get(f"/c/{ids['KT-A']}")).text()
    assert re.search(r'data-fix-unit="U1">[^<]*: 0/2 tồn tại đã khắc phục', board)
    assert 'data-fix-unit="U2"' not in board


async def test_contact_reports_a_fix_with_evidence_and_the_leader_is_told(
    world,  # noqa: F811
    db,
    clock,
    tmp_path,
):
    clients, _, units = world
    contact, a = clients["contact"], units["U1"]
    await _conclude(db, clock, a)
    await _issue(db, clock, a, tmp_path)
    first, _ = await _tasks(db)
    report = await (await contact.get(f"/r/{a}")).text()
    assert f'href="/r/{a}/khacphuc"' in report
    page = await (await contact.get(f"/r/{a}/khacphuc")).text()
    assert "0/2 tồn tại đã khắc phục" in page and "16/09/2021" in page
    csrf = await _csrf(contact)
    base = f"/r/{a}/khacphuc/{first.id}"
    # Marking done before saying what was done: the chat's refusal, nothing sent.
    early = await contact.post(f"{base}/done", data={"csrf": csrf})
    assert early.status == 400 and "Hãy báo cáo những việc đã làm" in await early.text()
    empty = await contact.post(f"{base}/report", data={"csrf": csrf, "report": "  "})
    assert empty.status == 400 and "từ 1 đến 2000 ký tự" in await empty.text()
    too_long = "Đã làm " + "x" * 2000
    refused = await contact.post(f"{base}/report", data={"csrf": csrf, "report": too_long})
    assert refused.status == 400 and too_long in await refused.text()  # shown again, not lost
    saved = await contact.post(
        f"{base}/report", data={"csrf": csrf, "report": "Đã cập nhật <danh mục>"}
    )
    assert saved.status == 200 and "Đã lưu báo cáo khắc phục tồn tại 1" in await saved.text()
    form = FormData()
    form.add_field("csrf", csrf)
    form.add_field("files", PDF, filename="bien-ban.pdf", content_type="application/pdf")
    form.add_field("files", b"MZ\x90\x00", filename="cong-cu.exe")
    files = await contact.post(f"{base}/files", data=form)
    html = await files.text()
    assert files.status == 200, html
    assert html.count('data-outcome="ok"') == 1 and html.count('data-outcome="refused"') == 1
    async with db.sessions() as session:
        [kept] = (await session.scalars(select(ShortcomingFile))).all()
    assert kept.shortcoming_id == first.id and kept.mime_type == "application/pdf"
    assert (tmp_path / "ev" / kept.storage_path).is_file()
    assert "khac-phuc" in kept.storage_path
    done = await contact.post(f"{base}/done", data={"csrf": csrf})
    text = await done.text()
    assert done.status == 200 and "Đã báo cáo tồn tại 1 là đã khắc phục" in text
    assert 'data-task="1" data-status="reported"' in text
    [alert] = await _outbox(db, "remediation.reported_notice")  # the leader, as from chat
    async with db.sessions() as session:
        leader_account = await session.scalar(
            select(ChatAccount.id)
            .join(Person, Person.id == ChatAccount.person_id)
            .where(Person.full_name == "Trưởng Đoàn")
        )
    assert alert.chat_account_id == leader_account
    assert alert.dedupe_key == f"fixrep:{first.id}:1:{leader_account}"
    assert alert.params["report"] == "Đã cập nhật <danh mục>" and alert.params["files"] == 1
    # Pressed again (a second tab): the chat's refusal, no second alert.
    again = await contact.post(f"{base}/done", data={"csrf": csrf})
    assert again.status == 400 and "đã báo cáo hoặc đã được chấp nhận" in await again.text()
    assert len(await _outbox(db, "remediation.reported_notice")) == 1


async def test_scheduled_summary_has_the_remediation_line(db: Db, clock) -> None:
    summary_world = await make_world(db, clock)
    async with db.sessions() as session:
        assignment = await session.scalar(select(Assignment.id).join(Unit).where(Unit.code == "U1"))
    assert assignment is not None
    async with transaction(db.sessions) as session:
        leader = await session.scalar(select(Person.id).limit(1))
        found = await session.get(Assignment, assignment)
        assert found is not None and leader is not None
        for n in (1, 2, 3):
            await add_shortcoming(
                session,
                found,
                text=f"T{n}",
                fix="F",
                due_on=date(2021, 9, 30),
                person_id=leader,
                now=clock.now(),
            )
        conclusion = await conclusion_of(session, assignment)
        assert conclusion is not None
        conclusion.issued_at = clock.now()
        conclusion.shortcomings[0].status = FixStatus.FIXED
    clock.set(local(2, 8, 0))
    assert await run(summary_world) == 4
    team1 = next(
        r
        for r in await rows(summary_world)
        if r.chat_account_id == summary_world.accounts["Leader1"]
    )
    team2 = next(
        r
        for r in await rows(summary_world)
        if r.chat_account_id == summary_world.accounts["Leader2"]
    )
    assert "🛠 Tồn tại đã khắc phục:\n• Ủy ban nhân dân Phường 1: 1/3" in render(team1)
    assert "🛠 Tồn tại đã khắc phục: —" in render(team2)  # a team only sees its own units
    # A fix accepted is a change: the next summary is sent though nothing else moved.
    async with transaction(db.sessions) as session:
        await session.execute(update(Shortcoming).values(status=FixStatus.FIXED))
    clock.set(local(3, 8, 0))
    assert await run(summary_world) == 1  # Leader1 only: team 2 and the admins' view are unchanged
    latest = [
        r
        for r in await rows(summary_world)
        if r.chat_account_id == summary_world.accounts["Leader1"]
    ]
    assert "Phường 1: 3/3" in render(latest[-1])
