"""Every console route for every role: the board shows a team its own units only; another
team's campaign, or a contact asking for a board, gets 404 and an audit-log entry.

Two teams (D1: U1, U2; D2: U3) and a second campaign nobody of team D1 belongs to.
Real dispatcher and chat sign-in (/web), real database on both backends.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.console.app import Console
from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from storage.db import transaction
from storage.db.models import Assignment, AuditEntry, Campaign, Person, Submission, Unit
from storage.formats.campaign_spec import TeamSpec
from storage.services.evidence import EvidenceStore
from tests import factories
from tests.chat_harness import CATALOG, Chat, import_and_codes, make_deps
from tests.conftest import Db

BASE = "http://console.test"
LINK = re.compile(re.escape(BASE) + r"/login/([A-Za-z0-9_-]+)")
ROLES = ("contact", "member", "leader", "other_team", "admin", "anonymous")


def two_teams(code: str) -> factories.CampaignSpec:
    spec = factories.campaign(code)
    units = (*spec.units[:2], replace(spec.units[2], team="D2", name="UBND <i>Phường</i> 3"))
    teams = (*spec.teams, TeamSpec("D2", "Đoàn kiểm tra số 2", leaders=1, members=0))
    return replace(spec, teams=teams, units=units)


@pytest.fixture
async def world(db: Db, clock: FrozenClock, tmp_path: Path):
    codes = await import_and_codes(db, clock, two_teams("KT-A"))
    await import_and_codes(db, clock, two_teams("KT-B"))
    dispatcher = Dispatcher(make_deps(db, clock, tmp_path, console_url=BASE))
    chats = {
        "contact": Chat(dispatcher, clock, name="Đầu Mối"),
        "member": Chat(dispatcher, clock, name="Thành Viên"),
        "leader": Chat(dispatcher, clock, name="Trưởng Đoàn"),
        "other_team": Chat(dispatcher, clock, name="Trưởng Đoàn Hai"),
        "admin": Chat(dispatcher, clock, name="Quản Trị"),
    }
    joins = {
        "contact": codes["U1"][0],
        "member": codes["team_member:D1"][0],
        "leader": codes["team_leader:D1"][0],
        "other_team": codes["team_leader:D2"][0],
    }
    for role, code in joins.items():
        await chats[role].command("start", code)
    await chats["admin"].command("start")
    async with transaction(db.sessions) as session:
        admin = await session.scalar(select(Person).where(Person.full_name == "Quản Trị"))
        assert admin is not None
        admin.is_admin = True
        ids = {c.code: c.id for c in await session.scalars(select(Campaign))}
        units = {
            code: id_
            for id_, code in await session.execute(
                select(Assignment.id, Unit.code)
                .join(Unit, Unit.id == Assignment.unit_id)
                .where(Assignment.campaign_id == ids["KT-A"])
            )
        }
    console = Console(db.sessions, CATALOG, clock, evidence=EvidenceStore(tmp_path / "ev"))
    clients = {}
    for role in ROLES:
        client = TestClient(TestServer(console.app()))
        await client.start_server()
        if role in chats:
            await chats[role].command("web")
            token = LINK.search(chats[role].text_out).group(1)
            assert (await client.post(f"/login/{token}", allow_redirects=False)).status == 303
        clients[role] = client
    yield clients, ids, units
    for client in clients.values():
        await client.close()


# What each role gets from each board: the units shown, or the refusal's status.
EXPECTED = {
    "contact": {"KT-A": 404, "KT-B": 404},
    "member": {"KT-A": {"U1", "U2"}, "KT-B": 404},
    "leader": {"KT-A": {"U1", "U2"}, "KT-B": 404},
    "other_team": {"KT-A": {"U3"}, "KT-B": 404},
    "admin": {"KT-A": {"U1", "U2", "U3"}, "KT-B": {"U1", "U2", "U3"}},
    "anonymous": {"KT-A": 303, "KT-B": 303},
}


# A unit's report (campaign KT-A): 200 or the refusal's status.
UNIT_PAGES = {
    "contact": {"U1": 200, "U3": 404},
    "member": {"U1": 200, "U3": 404},
    "leader": {"U1": 200, "U3": 404},
    "other_team": {"U1": 404, "U3": 200},
    "admin": {"U1": 200, "U3": 200},
    "anonymous": {"U1": 303, "U3": 303},
}


@pytest.mark.parametrize("role", ROLES)
async def test_every_route_for_every_role(world, db, role):
    clients, ids, units = world
    client = clients[role]
    home = await client.get("/")
    assert home.status == (401 if role == "anonymous" else 200)
    for code, expected in EXPECTED[role].items():
        response = await client.get(f"/c/{ids[code]}", allow_redirects=False)
        html = await response.text()
        if isinstance(expected, int):
            assert response.status == expected, (role, code)
            assert "U1" not in html and "Phường 1" not in html
        else:
            assert response.status == 200, (role, code)
            assert set(re.findall(r'data-unit="(U\d)"', html)) == expected
            if "U3" in expected:  # the unit's name as typed in the file, escaped
                assert "UBND &lt;i&gt;Phường&lt;/i&gt; 3" in html
    for unit, expected_status in UNIT_PAGES[role].items():
        response = await client.get(f"/u/{units[unit]}", allow_redirects=False)
        html = await response.text()
        assert response.status == expected_status, (role, unit)
        if expected_status == 200:
            assert len(re.findall(r'data-item="', html)) == 7
            assert "Chưa bắt đầu" in html
        else:
            assert 'data-item="' not in html
    unknown = await client.get("/c/999999", allow_redirects=False)
    assert unknown.status == (303 if role == "anonymous" else 404)
    assert (await client.get("/static/../app.py")).status == 404
    assert (await client.get("/nothing-here")).status == 404
    async with transaction(db.sessions) as session:
        denied = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "access.denied"))
        ).all()
    refusals = (
        sum(1 for e in EXPECTED[role].values() if e == 404)
        + sum(1 for e in UNIT_PAGES[role].values() if e == 404)
        + (role != "anonymous")
    )
    assert len(denied) == refusals
    assert all(d.details["via"] == "web" for d in denied)


async def test_board_counts_filters_and_english(world, clock):
    clients, ids, _ = world
    client = clients["admin"]
    html = await (await client.get(f"/c/{ids['KT-A']}")).text()
    assert "0/3 đã nộp" in html
    assert "Chưa bắt đầu: 3" in html
    assert "30/09/2021" in html  # the deadline, dd/mm/yyyy in the campaign's timezone
    filtered = await (await client.get(f"/c/{ids['KT-A']}?status=accepted")).text()
    assert "data-unit=" not in filtered
    searched = await (await client.get(f"/c/{ids['KT-A']}?q=phường 2&sort=deadline")).text()
    assert set(re.findall(r'data-unit="(U\d)"', searched)) == {"U2"}
    bad = await client.get(f"/c/{ids['KT-A']}?status=<x>&sort=nope&page=abc")
    assert bad.status == 200  # nonsense in the query is no filter, never an error
    english = await (await client.get(f"/c/{ids['KT-A']}?lang=en")).text()
    assert "0/3 submitted" in english


async def test_unit_report_shows_who_answered_and_when(world, db, clock):
    from storage.services.checklist import ChecklistCache
    from storage.services.submissions import record_answer, submission_for

    clients, ids, units = world
    async with transaction(db.sessions) as session:
        contact = await session.scalar(select(Person).where(Person.full_name == "Đầu Mối"))
        assert contact is not None
        submission = await submission_for(session, units["U1"])
        checklist = await ChecklistCache().get(session, ids["KT-A"])
        await record_answer(
            session,
            submission,
            checklist.items[0],
            "2020-12-15",
            person_id=contact.id,
            now=clock.now(),
        )
    html = await (await clients["leader"].get(f"/u/{units['U1']}")).text()
    row = re.search(r'<article class="item" data-item="1.1"[^>]*>(.*?)</article>', html, re.S)
    assert row
    assert "15/12/2020" in row.group(1)
    assert "Đầu Mối" in row.group(1)
    assert "01/09/2021 08:00" in row.group(1)  # the clock's 01:00 UTC, in the campaign's zone
    board = await (await clients["leader"].get(f"/c/{ids['KT-A']}")).text()
    assert "Đang làm" in board and "1/7" in board


async def _evidence(db, clock, tmp_path, assignment_id, item_id, person_id, name, mime, body):
    from storage.db.models import EvidenceFile
    from storage.services.submissions import submission_for

    relative = f"a{assignment_id}/{name}"
    (tmp_path / "ev" / f"a{assignment_id}").mkdir(parents=True, exist_ok=True)
    (tmp_path / "ev" / relative).write_bytes(body)
    async with transaction(db.sessions) as session:
        submission = await submission_for(session, assignment_id)
        row = EvidenceFile(
            submission_id=submission.id,
            item_id=item_id,
            file_name=name,
            size=len(body),
            mime_type=mime,
            sha256="0" * 64,
            storage_path=relative,
            uploaded_by=person_id,
            uploaded_at=clock.now(),
        )
        session.add(row)
        await session.flush()
        return row.id


async def test_evidence_inline_only_for_images_and_pdf_and_only_in_scope(
    world, db, clock, tmp_path
):
    from storage.db.models import Item

    clients, ids, units = world
    async with transaction(db.sessions) as session:
        item = await session.scalar(
            select(Item.id).where(Item.campaign_id == ids["KT-A"], Item.code == "1.1")
        )
        person = await session.scalar(select(Person.id).where(Person.full_name == "Đầu Mối"))
    pdf = b"%PDF-1.4\n%%EOF\n"
    page = b"<html><script>alert(1)</script></html>"
    ours = await _evidence(
        db, clock, tmp_path, units["U1"], item, person, "Kế hoạch.pdf", "application/pdf", pdf
    )
    html_file = await _evidence(
        db, clock, tmp_path, units["U1"], item, person, "x.html", "text/html", page
    )
    theirs = await _evidence(
        db, clock, tmp_path, units["U3"], item, person, "b.pdf", "application/pdf", pdf
    )
    leader = clients["leader"]
    report = await (await leader.get(f"/u/{units['U1']}")).text()
    assert f'data-file="{ours}"' in report and "Kế hoạch.pdf" in report
    shown = await leader.get(f"/f/{ours}")
    assert shown.status == 200 and await shown.read() == pdf
    assert shown.headers["Content-Type"] == "application/pdf"
    assert shown.headers["Content-Disposition"].startswith("inline;")
    assert "K%E1%BA%BF" in shown.headers["Content-Disposition"]
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    saved = await leader.get(f"/f/{html_file}")
    assert saved.headers["Content-Type"] == "application/octet-stream"
    assert saved.headers["Content-Disposition"].startswith("attachment;")
    assert (await leader.get(f"/f/{theirs}")).status == 404  # another team's unit
    assert (await leader.get("/f/987654")).status == 404
    assert (await clients["anonymous"].get(f"/f/{ours}", allow_redirects=False)).status == 303
    assert (await clients["other_team"].get(f"/f/{theirs}")).status == 200
    async with transaction(db.sessions) as session:
        denied = set(
            (
                await session.scalars(
                    select(AuditEntry.subject).where(AuditEntry.action == "access.denied")
                )
            ).all()
        )
    assert {f"evidence:{theirs}", "evidence:987654"} <= denied


# The report's actions (bot/console/report_routes.py) on KT-A's U1 (team D1) and U3 (D2):
# who may try each one. Allowed gets the redirect back to the report (303, with a message:
# nothing is submitted, so returning or accepting says so); refused gets 404 and an audit
# entry; anonymous is sent to sign in.
ACTION_NEEDS = {
    "flag": "reviews",
    "return": "reviews",
    "accept": "leads",
    "appraise": "leads",
    "note": "reviews",
    "reply": "reviews",
}
REVIEWS = {"member": {"U1"}, "leader": {"U1"}, "other_team": {"U3"}, "admin": {"U1", "U3"}}
LEADS = {"leader": {"U1"}, "other_team": {"U3"}, "admin": {"U1", "U3"}}
# The exports of each campaign: 200 or the refusal's status.
EXPORTS = {
    "contact": {"KT-A": 404, "KT-B": 404},
    "member": {"KT-A": 200, "KT-B": 404},
    "leader": {"KT-A": 200, "KT-B": 404},
    "other_team": {"KT-A": 200, "KT-B": 404},
    "admin": {"KT-A": 200, "KT-B": 200},
    "anonymous": {"KT-A": 303, "KT-B": 303},
}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def _csrf(client: TestClient) -> str:
    found = CSRF.search(await (await client.get("/")).text())
    return found.group(1) if found else ""


@pytest.mark.parametrize("role", ROLES)
async def test_every_report_action_and_export_for_every_role(world, db, role):
    clients, ids, units = world
    client = clients[role]
    csrf = await _csrf(client)
    refused = 0
    for name, need in ACTION_NEEDS.items():
        allowed = (REVIEWS if need == "reviews" else LEADS).get(role, set())
        for unit in ("U1", "U3"):
            form = {"csrf": csrf, "item": "1", "comment": "x", "text": "x", "score": "0"}
            response = await client.post(
                f"/u/{units[unit]}/{name}", data=form, allow_redirects=False
            )
            if role == "anonymous":
                assert response.status == 303 and response.headers["Location"] == "/"
            elif unit in allowed:
                assert response.status == 303, (role, name, unit)
                assert response.headers["Location"].startswith(f"/u/{units[unit]}?msg=")
            else:
                assert response.status == 404, (role, name, unit)
                assert "data-item" not in await response.text()
                refused += 1
    for code, expected in EXPORTS[role].items():
        for path in ("export.xlsx", "evidence.zip"):
            response = await client.get(f"/c/{ids[code]}/{path}", allow_redirects=False)
            assert response.status == expected, (role, code, path)
            if expected == 200:
                assert response.headers["Content-Disposition"].startswith("attachment;")
                assert (await response.read())[:2] == b"PK"
            refused += expected == 404
    async with transaction(db.sessions) as session:
        denied = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "access.denied"))
        ).all()
    assert len(denied) == refused
    assert all(d.details["via"] == "web" for d in denied)
    if role == "member":  # a member of team 1 editing the URL to team 2's unit
        assert {d.subject for d in denied} >= {f"assignment:{units['U3']}"}
        assert "report.accept" in {d.details["action"] for d in denied}


async def test_board_ranks_units_by_appraised_score_within_scope(world, db):
    clients, ids, units = world
    async with transaction(db.sessions) as session:
        for code, score in (("U1", 4.5), ("U2", 4.5), ("U3", 5.0)):
            submission = await session.scalar(
                select(Submission).where(Submission.assignment_id == units[code])
            )
            assert submission is not None
            submission.appraised_score = score
    html = await (await clients["admin"].get(f"/c/{ids['KT-A']}")).text()
    assert re.findall(r'data-rank-unit="(U\d)"', html) == ["U3", "U1", "U2"]
    assert "2 (đồng hạng)" in html and "81,82%" in html and "4,5/5,5" in html
    leader = await (await clients["leader"].get(f"/c/{ids['KT-A']}")).text()
    assert re.findall(r'data-rank-unit="(U\d)"', leader) == ["U1", "U2"]  # not team D2's U3
    assert "1 (đồng hạng)" in leader
