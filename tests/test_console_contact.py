"""The unit contact's checklist on the desk console: every item type saved or refused with
the chat's own words, evidence uploads checked as in chat, review and submit with the team
and the chat told, and access (another unit's report, a leader on the contact's routes).

Two teams (D1: U1, U2; D2: U3). Real dispatcher and sign-in by /web, real database on both
backends, real files on disk.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.console.app import Console
from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from storage.db import transaction
from storage.db.models import (
    Answer,
    Assignment,
    AuditEntry,
    ChatAccount,
    EvidenceFile,
    Item,
    OutboxMessage,
    Submission,
    Unit,
)
from storage.rules.answers import AnswerError, render_error
from storage.services.evidence import EvidenceStore
from tests.chat_harness import CATALOG, Chat, import_and_codes, make_deps
from tests.conftest import Db
from tests.test_console_access import BASE, LINK, two_teams

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
LIMIT = 4096  # the console's size limit in these tests: small, so "too big" is cheap
VI = CATALOG.for_locale("vi")


@dataclass
class World:
    db: Db
    clock: FrozenClock
    console: Console
    chats: dict[str, Chat]
    clients: dict[str, TestClient]
    csrf: dict[str, str]
    units: dict[str, int]  # unit code -> assignment id
    items: dict[str, int]  # item code -> id
    evidence_dir: Path

    def item_url(self, unit: str, code: str, tail: str = "") -> str:
        return f"/r/{self.units[unit]}/i/{self.items[code]}{tail}"


async def sign_in(chat: Chat, client: TestClient) -> str:
    """/web in chat, the link used; the session's CSRF token (from the home page)."""
    await chat.command("web")
    match = LINK.search(chat.text_out)
    assert match
    assert (await client.post(f"/login/{match.group(1)}", allow_redirects=False)).status == 303
    home = await (await client.get("/")).text()
    found = re.search(r'name="csrf" value="([^"]+)"', home)
    assert found
    return found.group(1)


@pytest.fixture
async def world(db: Db, clock: FrozenClock, tmp_path: Path):
    codes = await import_and_codes(db, clock, two_teams("KT-A"))
    dispatcher = Dispatcher(make_deps(db, clock, tmp_path, console_url=BASE))
    chats = {
        "contact": Chat(dispatcher, clock, name="Đầu Mối Một"),
        "other_contact": Chat(dispatcher, clock, name="Đầu Mối Ba"),
        "leader": Chat(dispatcher, clock, name="Trưởng Đoàn"),
    }
    for role, code in {
        "contact": codes["U1"][0],
        "other_contact": codes["U3"][0],
        "leader": codes["team_leader:D1"][0],
    }.items():
        await chats[role].command("start", code)
    evidence_dir = tmp_path / "ev"
    console = Console(
        db.sessions,
        CATALOG,
        clock,
        evidence=EvidenceStore(evidence_dir),
        max_evidence_bytes=LIMIT,
    )
    clients, csrf = {}, {}
    for role in (*chats, "anonymous"):
        client = TestClient(TestServer(console.app()))
        await client.start_server()
        clients[role] = client
        if role in chats:
            csrf[role] = await sign_in(chats[role], client)
    async with db.sessions() as session:
        units = {
            code: id_
            for id_, code in await session.execute(
                select(Assignment.id, Unit.code).join(Unit, Unit.id == Assignment.unit_id)
            )
        }
        items = {code: id_ for id_, code in await session.execute(select(Item.id, Item.code))}
    yield World(db, clock, console, chats, clients, csrf, units, items, evidence_dir)
    for client in clients.values():
        await client.close()


async def answer_of(db: Db, unit_assignment: int, item_id: int) -> Answer | None:
    async with db.sessions() as session:
        return await session.scalar(
            select(Answer)
            .join(Submission, Submission.id == Answer.submission_id)
            .where(Submission.assignment_id == unit_assignment, Answer.item_id == item_id)
        )


async def files_of(db: Db, unit_assignment: int) -> list[EvidenceFile]:
    async with db.sessions() as session:
        return list(
            await session.scalars(
                select(EvidenceFile)
                .join(Submission, Submission.id == EvidenceFile.submission_id)
                .where(Submission.assignment_id == unit_assignment)
                .order_by(EvidenceFile.id)
            )
        )


async def denials(db: Db) -> list[dict[str, Any]]:
    async with db.sessions() as session:
        return [
            {"subject": e.subject, **(e.details or {})}
            for e in await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "access.denied")
            )
        ]


async def post_answer(world: World, code: str, values: list[str], *, unit: str = "U1") -> Any:
    form = [("csrf", world.csrf["contact"]), *[("value", v) for v in values]]
    return await world.clients["contact"].post(
        world.item_url(unit, code), data=form, allow_redirects=False
    )


# -- every item type -----------------------------------------------------------------------

VALID = [
    ("1.1", ["31/12/2020"], "2020-12-31", "31/12/2020"),
    ("1.2", ["1"], True, "Có"),
    ("1.2", ["2"], False, "Không"),
    ("1.3", ["96,5"], 96.5, "96,5%"),
    ("5.2", ["1.234"], 1234, "1.234"),
    ("7.3", ["2"], "Đang xây dựng", "Đang xây dựng"),
    ("7.4", ["1", "3"], ["Một cửa điện tử", "Chữ ký số"], "Một cửa điện tử; Chữ ký số"),
    ("7.4", [], [], None),  # nothing ticked: "none of them", as "0" in chat
    ("9.1", ["Đề nghị <b>bổ sung</b> biên chế"], "Đề nghị <b>bổ sung</b> biên chế", None),
]


@pytest.mark.parametrize(("code", "values", "stored", "shown"), VALID)
async def test_every_item_type_is_saved_with_the_chats_rules(world, code, values, stored, shown):
    response = await post_answer(world, code, values)
    assert response.status == 303
    location = response.headers["Location"]
    assert location.endswith(f"#item-{world.items[code]}")
    answer = await answer_of(world.db, world.units["U1"], world.items[code])
    assert answer is not None and answer.value == stored
    page = await (await world.clients["contact"].get(location)).text()
    assert "Đã lưu mục " + code in html.unescape(page)
    if shown:
        assert f"Câu trả lời hiện tại: {shown}" in html.unescape(page)
    assert "<b>bổ sung</b>" not in page  # what a person typed is escaped


INVALID = [
    ("1.1", ["31/02/2021"], AnswerError("impossible_date", {"value": "31/02/2021"})),
    ("1.1", ["hôm qua"], AnswerError("not_a_date")),
    ("1.2", [], AnswerError("empty")),
    ("1.2", ["7"], AnswerError("not_yes_no")),
    ("1.3", ["150"], AnswerError("percent_range")),
    ("5.2", ["-1"], AnswerError("below_min", {"min": 0})),
    ("5.2", ["nhiều"], AnswerError("not_a_number")),
    ("7.3", ["9"], AnswerError("not_an_option", {"count": 3})),
    ("7.4", ["1", "9"], AnswerError("not_options", {"count": 3})),
    ("9.1", ["x" * 2001], AnswerError("text_too_long", {"max": 2000, "length": 2001})),
]


@pytest.mark.parametrize(("code", "values", "error"), INVALID)
async def test_a_bad_value_is_refused_with_the_chats_message_and_nothing_is_lost(
    world, code, values, error
):
    response = await post_answer(world, code, values)
    assert response.status == 422
    page = html.unescape(await response.text())
    assert "⚠️ " + render_error(error, VI) in page
    assert await answer_of(world.db, world.units["U1"], world.items[code]) is None
    if values and code != "1.2":
        assert values[-1] in page or values[0] in page  # kept in the form to correct


async def test_the_error_speaks_english_when_the_page_does(world):
    client = world.clients["contact"]
    await client.get(f"/r/{world.units['U1']}?lang=en")
    response = await post_answer(world, "1.3", ["150"])
    assert response.status == 422
    page = html.unescape(await response.text())
    assert render_error(AnswerError("percent_range"), CATALOG.for_locale("en")) in page


async def test_a_bad_csrf_token_is_refused(world):
    response = await world.clients["contact"].post(
        world.item_url("U1", "1.3"), data={"csrf": "forged", "value": "90"}
    )
    assert response.status == 403
    assert await answer_of(world.db, world.units["U1"], world.items["1.3"]) is None


# -- uploads -------------------------------------------------------------------------------


def upload_form(csrf: str | None, *files: tuple[str, bytes]) -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)  # UTF-8 names as browsers send them
    if csrf:
        form.add_field("csrf", csrf)
    for name, data in files:
        form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return form


async def upload(world: World, *files: tuple[str, bytes], json: bool = True) -> Any:
    headers = {"Accept": "application/json"} if json else {}
    return await world.clients["contact"].post(
        world.item_url("U1", "1.1", "/files"),
        data=upload_form(world.csrf["contact"], *files),
        headers=headers,
    )


async def test_several_files_are_kept_like_the_chats_with_sha256(world):
    response = await upload(world, ("Kế hoạch 2021.pdf", PDF), ("ảnh.png", PNG))
    assert response.status == 200
    outcomes = (await response.json())["files"]
    assert [o["ok"] for o in outcomes] == [True, True]
    assert outcomes[0]["text"].startswith("Đã nhận «Kế hoạch 2021.pdf»")
    kept = await files_of(world.db, world.units["U1"])
    assert [f.file_name for f in kept] == ["Kế hoạch 2021.pdf", "ảnh.png"]
    assert [f.mime_type for f in kept] == ["application/pdf", "image/png"]
    for row, data in zip(kept, (PDF, PNG), strict=True):
        assert row.sha256 == hashlib.sha256(data).hexdigest() and row.size == len(data)
        on_disk = world.evidence_dir / row.storage_path
        assert on_disk.read_bytes() == data
        assert on_disk.parent.name == "1.1" and on_disk.parent.parent.name == "U1"
    again = await (await upload(world, ("copy.pdf", PDF))).json()
    assert again["files"][0]["ok"] is False and "đã có trong mục này" in again["files"][0]["text"]
    assert len(await files_of(world.db, world.units["U1"])) == 2
    assert list((world.evidence_dir / ".incoming").iterdir()) == []  # nothing left behind


REFUSED = [
    (("trống.pdf", b""), VI("evidence.empty", name="trống.pdf")),
    (("giả.pdf", PNG), VI("evidence.mismatch", name="giả.pdf", ext="pdf")),
    (("to.pdf", PDF + b"x" * LIMIT), VI("evidence.too_big", size="4,1 KB", max="4 KB")),
    (("virus.exe", b"MZ\x90\x00"), VI("evidence.bad_type", ext="exe")),
]


@pytest.mark.parametrize(("file", "reason"), REFUSED)
async def test_a_refused_file_says_why_and_nothing_is_stored(world, file, reason):
    response = await upload(world, file, json=False)  # the plain form: the page comes back
    assert response.status == 200
    page = html.unescape(await response.text())
    assert reason in page
    assert await files_of(world.db, world.units["U1"]) == []
    stored = [p for p in world.evidence_dir.rglob("*") if p.is_file()]
    assert stored == []


async def test_an_upload_that_is_no_multipart_form_is_a_bad_request(world):
    response = await world.clients["contact"].post(
        world.item_url("U1", "1.1", "/files"), data={"csrf": world.csrf["contact"]}
    )
    assert response.status == 400
    assert await files_of(world.db, world.units["U1"]) == []


async def test_an_upload_without_the_csrf_token_is_refused(world):
    response = await world.clients["contact"].post(
        world.item_url("U1", "1.1", "/files"), data=upload_form(None, ("a.pdf", PDF))
    )
    assert response.status == 403
    assert await files_of(world.db, world.units["U1"]) == []


# -- access --------------------------------------------------------------------------------


async def test_a_contact_editing_the_url_to_another_unit_gets_404_and_an_audit_entry(world):
    client, u3 = world.clients["contact"], world.units["U3"]
    page = await client.get(f"/r/{u3}")
    assert page.status == 404 and "Phường" not in await page.text()
    answer = await post_answer(world, "1.3", ["90"], unit="U3")
    assert answer.status == 404
    files = await client.post(
        world.item_url("U3", "1.1", "/files"),
        data=upload_form(world.csrf["contact"], ("a.pdf", PDF)),
    )
    assert files.status == 404
    assert await answer_of(world.db, u3, world.items["1.3"]) is None
    assert await files_of(world.db, u3) == []
    assert not world.evidence_dir.exists() or not any(world.evidence_dir.rglob("*.pdf"))
    seen = await denials(world.db)
    assert {(d["subject"], d["action"], d["via"]) for d in seen} == {
        (f"assignment:{u3}", "contact_report", "web"),
        (f"assignment:{u3}", "contact_answer", "web"),
        (f"assignment:{u3}", "contact_upload", "web"),
    }


async def test_a_leader_cannot_use_the_contacts_routes_for_a_unit_of_the_team(world):
    client, u1 = world.clients["leader"], world.units["U1"]
    assert (await client.get(f"/r/{u1}")).status == 404
    submit = await client.post(
        f"/r/{u1}/submit", data={"csrf": world.csrf["leader"], "version": "0"}
    )
    assert submit.status == 404
    async with world.db.sessions() as session:
        status = await session.scalar(
            select(Submission.status).where(Submission.assignment_id == u1)
        )
    assert status == "not_started"
    assert {d["action"] for d in await denials(world.db)} == {"contact_report", "contact_submit"}
    # The team's read-only view of the unit stays theirs.
    assert (await client.get(f"/u/{u1}")).status == 200


async def test_signed_out_visitors_are_sent_to_sign_in(world):
    client = world.clients["anonymous"]
    response = await client.get(f"/r/{world.units['U1']}", allow_redirects=False)
    assert response.status == 303
    response = await client.post(
        world.item_url("U1", "1.3"), data={"value": "90"}, allow_redirects=False
    )
    assert response.status == 303


async def test_the_home_page_links_the_contact_to_their_report(world):
    home = await (await world.clients["contact"].get("/")).text()
    assert f'href="/r/{world.units["U1"]}"' in home
    assert f'href="/r/{world.units["U3"]}"' not in home


# -- review and submit ---------------------------------------------------------------------


async def fill_required(world: World) -> None:
    for code, values in {
        "1.1": ["31/12/2020"],
        "1.2": ["1"],
        "1.3": ["96,5"],
        "5.2": ["0"],
        "7.3": ["1"],
    }.items():
        assert (await post_answer(world, code, values)).status == 303
    assert (await upload(world, ("Kế hoạch.pdf", PDF))).status == 200
    note = await world.clients["contact"].post(
        world.item_url("U1", "1.2", "/note"),
        data={"csrf": world.csrf["contact"], "note": "Văn bản <giấy>, chưa số hóa"},
        allow_redirects=False,
    )
    assert note.status == 303


async def test_review_then_submit_tells_the_team_and_the_chat(world):
    client, u1 = world.clients["contact"], world.units["U1"]
    review = html.unescape(await (await client.get(f"/r/{u1}/review")).text())
    assert "Báo cáo chưa đủ để nộp" in review and "Nộp báo cáo" not in review
    assert "Còn 5 mục bắt buộc chưa trả lời:" in review  # each a link to its item
    assert f'href="/r/{u1}#item-{world.items["1.1"]}">1.1</a>' in review
    await fill_required(world)
    review = await (await client.get(f"/r/{u1}/review")).text()
    version = re.search(r'name="version" value="(\d+)"', review)
    assert version and "Báo cáo đã đủ để nộp" in html.unescape(review)
    stale = await client.post(
        f"/r/{u1}/submit", data={"csrf": world.csrf["contact"], "version": "1"}
    )
    assert stale.status == 409 and "vừa có thay đổi" in html.unescape(await stale.text())
    done = await client.post(
        f"/r/{u1}/submit", data={"csrf": world.csrf["contact"], "version": version.group(1)}
    )
    page = html.unescape(await done.text())
    assert done.status == 200 and "Đã nộp báo cáo lúc" in page
    async with world.db.sessions() as session:
        submission = await session.scalar(select(Submission).where(Submission.assignment_id == u1))
        assert submission is not None and submission.status == "submitted"
        rows = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    templates = {r.template for r in rows}
    assert "alerts.submitted" in templates  # the team's alert, as from chat
    told = [r for r in rows if r.template == "contact.submitted_web"]
    assert len(told) == 1 and told[0].params["unit"] == "Ủy ban nhân dân Phường 1"
    # Locked now: the forms are gone and a late answer is refused.
    report = await (await client.get(f"/r/{u1}")).text()
    assert 'class="answer"' not in report
    late = await post_answer(world, "9.1", ["thêm"])
    assert late.status == 422 and "không sửa được nữa" in html.unescape(await late.text())


async def test_a_returned_report_reopens_only_the_items_the_team_asked_about(world):
    from storage.services.checklist import read_checklist
    from storage.services.review import flag_item, return_report

    await fill_required(world)
    client, u1 = world.clients["contact"], world.units["U1"]
    review = await (await client.get(f"/r/{u1}/review")).text()
    version = re.search(r'name="version" value="(\d+)"', review)
    assert version
    await client.post(
        f"/r/{u1}/submit", data={"csrf": world.csrf["contact"], "version": version.group(1)}
    )
    async with transaction(world.db.sessions) as session:
        submission = await session.scalar(select(Submission).where(Submission.assignment_id == u1))
        assert submission is not None and submission.status == "submitted"
        leader = await session.scalar(
            select(ChatAccount.person_id).where(
                ChatAccount.user_id == world.chats["leader"].user_id
            )
        )
        assert leader is not None
        await flag_item(
            session,
            submission,
            world.items["1.3"],
            "Số liệu <96,5%> chưa khớp báo cáo",
            person_id=leader,
            now=world.clock.now(),
        )
        assignment = await session.get(Assignment, u1)
        assert assignment is not None
        checklist = await read_checklist(session, assignment.campaign_id)
        await return_report(session, submission, checklist, person_id=leader, now=world.clock.now())
    page = await (await client.get(f"/r/{u1}")).text()
    assert "Số liệu &lt;96,5%&gt; chưa khớp báo cáo" in page  # the team's comment, escaped
    forms = re.findall(r'action="/r/\d+/i/(\d+)"', page)
    assert forms == [str(world.items["1.3"])]  # only the reopened item has a form
    refused = await post_answer(world, "1.1", ["01/01/2021"])
    assert refused.status == 422
    assert "không nằm trong các mục được yêu cầu sửa" in html.unescape(await refused.text())
    assert (await post_answer(world, "1.3", ["91"])).status == 303
    answer = await answer_of(world.db, u1, world.items["1.3"])
    assert answer is not None and answer.value == 91
