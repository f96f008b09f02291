"""The team's work on a unit's report from the desk console (bot/console/report_routes.py):
return with a comment per item, accept, appraise, write to the unit, answer its questions;
the answer history and evidence previews; the board's team filter and chart; the exports.

Each action must tell the unit in chat exactly as the chat command does: the same outbox
row (template, parameters, recipients). Two units of team D1 with a contact each (U1 is
worked from the web, U2 from chat), U3 in team D2. Real dispatcher, real sign-in by /web,
real database on both backends, real files opened back.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.console.app import Console
from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from storage.db import transaction
from storage.db.models import (
    Assignment,
    AuditEntry,
    Campaign,
    OutboxMessage,
    Person,
    ReviewFlag,
    Submission,
    Unit,
)
from tests.chat_harness import CATALOG, Chat, import_and_codes, make_deps
from tests.conftest import Db
from tests.test_console_access import BASE, LINK, two_teams
from tests.test_handlers_checklist import _answer_all

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
COMMENT = "Tỷ lệ 95,5% chưa có <b>báo cáo</b> chứng minh"


@pytest.fixture
async def world(db: Db, clock: FrozenClock, tmp_path: Path):
    codes = await import_and_codes(db, clock, two_teams("KT-A"))
    deps = make_deps(db, clock, tmp_path, console_url=BASE)
    dispatcher = Dispatcher(deps)
    names = {
        "lan": "Đầu Mối Một",
        "binh": "Đầu Mối Hai",
        "member": "Thành Viên",
        "leader": "Trưởng Đoàn",
        "leader2": "Trưởng Đoàn Hai",
    }
    chats = {key: Chat(dispatcher, clock, name=name) for key, name in names.items()}
    joins = {
        "lan": codes["U1"][0],
        "binh": codes["U2"][0],
        "member": codes["team_member:D1"][0],
        "leader": codes["team_leader:D1"][0],
        "leader2": codes["team_leader:D2"][0],
    }
    for key, code in joins.items():
        await chats[key].command("start", code)
    chats["admin"] = Chat(dispatcher, clock, name="Quản Trị")
    await chats["admin"].command("start")
    async with transaction(db.sessions) as session:
        admin = await session.scalar(select(Person).where(Person.full_name == "Quản Trị"))
        assert admin is not None
        admin.is_admin = True
        campaign_id = await session.scalar(select(Campaign.id))
        units = {
            code: id_
            for id_, code in await session.execute(
                select(Assignment.id, Unit.code).join(Unit, Unit.id == Assignment.unit_id)
            )
        }
    console = Console(db.sessions, CATALOG, clock, evidence=deps.evidence)
    web: dict[str, TestClient] = {}
    for key in ("member", "leader", "leader2", "admin", "lan"):
        client = TestClient(TestServer(console.app()))
        await client.start_server()
        await chats[key].command("web")
        token = LINK.search(chats[key].text_out)
        assert token is not None
        assert (await client.post(f"/login/{token.group(1)}", allow_redirects=False)).status == 303
        web[key] = client
    yield chats, web, campaign_id, units
    for client in web.values():
        await client.close()


async def _submit(chat: Chat) -> None:
    await _answer_all(chat)
    await chat.press_label("Nộp báo cáo")
    await chat.press_label("Xác nhận")
    assert "Đã nộp báo cáo" in chat.text_out


async def _post(client: TestClient, path: str, **form: str):
    """A form sent as the page sends it: with the CSRF token of the page it came from."""
    page = await (await client.get(path.rsplit("/", 1)[0])).text()
    token = CSRF.search(page)
    assert token is not None
    response = await client.post(path, data={"csrf": token.group(1), **form}, allow_redirects=False)
    assert response.status == 303, await response.text()
    location = response.headers["Location"]
    return location, await (await client.get(location)).text()


async def _item_id(db: Db, code: str) -> int:
    from storage.db.models import Item

    async with db.sessions() as session:
        return int(await session.scalar(select(Item.id).where(Item.code == code)) or 0)


async def _outbox(db: Db, template: str) -> list[OutboxMessage]:
    async with db.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.template == template)
                .order_by(OutboxMessage.id)
            )
        )


def _without_unit(message: OutboxMessage) -> dict[str, object]:
    return {k: v for k, v in message.params.items() if k not in ("unit", "_buttons")}


async def test_a_return_from_the_web_tells_the_unit_as_the_chat_return_does(world, db, clock):
    chats, web, _, units = world
    await _submit(chats["lan"])
    await _submit(chats["binh"])
    member = chats["member"]
    # U2 from chat, as a member does it there.
    await member.press(f"rf:{units['U2']}:0")
    await member.press_label("1.3")
    await member.text(COMMENT)
    await member.press(member.button("rt:").token)
    await member.press_label("Xác nhận trả lại")
    assert "Đã trả lại báo cáo" in member.text_out
    # U1 from the web, by the same member.
    page = f"/u/{units['U1']}"
    item = await _item_id(db, "1.3")
    where, html = await _post(
        web["member"], f"{page}/flag", item=str(item), comment=COMMENT, anchor=f"i{item}"
    )
    assert where == f"{page}?msg=flagged#i{item}"  # back at the item
    assert "Đã lưu nhận xét" in html
    assert "Tỷ lệ 95,5% chưa có &lt;b&gt;báo cáo&lt;/b&gt; chứng minh" in html  # escaped
    assert "Trả lại để bổ sung (1 mục)" in html
    version = re.search(r'name="version" value="(\d+)"', html)
    assert version is not None
    _, html = await _post(web["member"], f"{page}/return", version=version.group(1))
    assert "Đã trả lại báo cáo" in html
    assert "Trả lại để sửa" in html  # the status on the page
    chat_notice, web_notice = await _outbox(db, "review.returned_notice")
    assert web_notice.kind == chat_notice.kind == "review"
    assert _without_unit(web_notice) == _without_unit(chat_notice)
    assert f"1.3: {COMMENT}" in web_notice.params["items"]
    assert web_notice.params["unit"] == "Ủy ban nhân dân Phường 1"
    assert web_notice.params["_buttons"][0][0]["label"] == "reminders.continue"
    async with db.sessions() as session:
        lan = await session.scalar(select(Person.id).where(Person.full_name == "Đầu Mối Một"))
    assert web_notice.person_id == lan
    # The unit sees it in chat as from a chat return: the item reopened, with the comment.
    await chats["lan"].command("status")
    assert "Đoàn yêu cầu bổ sung" in chats["lan"].text_out and "1.3" in chats["lan"].text_out
    # Returning again: a clear message, never an error page.
    _, html = await _post(web["member"], f"{page}/return", version=version.group(1))
    assert "không ở trạng thái «đã nộp»" in html
    _, html = await _post(web["member"], f"{page}/flag", item=str(item), comment="x")
    assert "không ở trạng thái «đã nộp»" in html


async def test_return_needs_a_comment_and_a_fresh_page(world, db):
    chats, web, _, units = world
    await _submit(chats["lan"])
    page = f"/u/{units['U1']}"
    html = await (await web["member"].get(page)).text()
    version = re.search(r'name="version" value="(\d+)"', html)
    assert version is not None
    _, html = await _post(web["member"], f"{page}/return", version=version.group(1))
    assert "Cần ghi nhận xét cho ít nhất một mục" in html
    item = await _item_id(db, "1.1")
    _, html = await _post(web["member"], f"{page}/flag", item=str(item), comment="   ")
    assert "Nội dung cần có" in html
    _, html = await _post(web["member"], f"{page}/flag", item="99999", comment="x")
    assert "Không tìm thấy mục này" in html
    await _post(web["member"], f"{page}/flag", item=str(item), comment="Thiếu dấu")
    _, html = await _post(web["member"], f"{page}/return", version="0")  # an old page
    assert "Báo cáo vừa có thay đổi" in html
    _, html = await _post(web["member"], f"{page}/flag", item=str(item), clear="1")
    assert "Đã bỏ yêu cầu bổ sung" in html
    async with db.sessions() as session:
        assert (await session.scalars(select(ReviewFlag))).all() == []
        status = await session.scalar(
            select(Submission.status).where(Submission.assignment_id == units["U1"])
        )
    assert status == "submitted"
    assert await _outbox(db, "review.returned_notice") == []


async def test_without_the_csrf_token_nothing_happens(world, db):
    chats, web, _, units = world
    await _submit(chats["lan"])
    item = await _item_id(db, "1.1")
    for name, form in (
        ("flag", {"item": str(item), "comment": "x"}),
        ("accept", {}),
        ("note", {"text": "x"}),
    ):
        for csrf in ({}, {"csrf": "forged"}):
            response = await web["leader"].post(
                f"/u/{units['U1']}/{name}", data={**form, **csrf}, allow_redirects=False
            )
            assert response.status == 403, name
    cross_site = await web["leader"].post(
        f"/u/{units['U1']}/accept", data={}, headers={"Origin": "https://evil.example"}
    )
    assert cross_site.status == 403
    async with db.sessions() as session:
        assert (await session.scalars(select(ReviewFlag))).all() == []
        status = await session.scalar(
            select(Submission.status).where(Submission.assignment_id == units["U1"])
        )
    assert status == "submitted"
    assert await _outbox(db, "desk_report.note_to_unit") == []


async def test_accept_and_appraise_are_for_leaders_as_in_chat(world, db, clock):
    chats, web, _, units = world
    await _submit(chats["lan"])
    page = f"/u/{units['U1']}"
    member_page = await (await web["member"].get(page)).text()
    assert 'data-action="return"' in member_page and 'data-action="accept"' not in member_page
    assert "/appraise" not in member_page
    token = CSRF.search(member_page)
    assert token is not None
    refused = await web["member"].post(f"{page}/accept", data={"csrf": token.group(1)})
    assert refused.status == 404
    html = await (await web["leader"].get(page)).text()
    version = re.search(r'name="version" value="(\d+)"', html)
    assert version is not None and 'data-action="accept"' in html
    _, html = await _post(web["leader"], f"{page}/accept", version=version.group(1))
    assert "Đã chấp nhận báo cáo" in html and "Đã chấp nhận" in html
    [notice] = await _outbox(db, "review.accepted_notice")
    assert notice.params["score"] == 5.5 and notice.params["max"] == 5.5  # written per reader
    assert notice.params["time"] == "01/09/2021 08:00"
    _, html = await _post(web["leader"], f"{page}/accept", version=version.group(1))
    assert "không ở trạng thái «đã nộp»" in html  # already accepted: said, not a traceback
    item = await _item_id(db, "1.3")
    _, html = await _post(web["leader"], f"{page}/appraise", item=str(item), score="1")
    assert "cần ghi lý do" in html
    _, html = await _post(web["leader"], f"{page}/appraise", item=str(item), score="9")
    assert "Điểm không hợp lệ" in html
    _, html = await _post(
        web["leader"], f"{page}/appraise", item=str(item), score="1,0", reason="Tỷ lệ thấp hơn"
    )
    assert "Đã lưu điểm thẩm định" in html and "Điểm: 4,5/5,5" in html  # decimal comma
    await chats["lan"].command("status")
    assert "Tỷ lệ thấp hơn" in chats["lan"].text_out
    async with transaction(db.sessions) as session:
        score = await session.scalar(
            select(Submission.appraised_score).where(Submission.assignment_id == units["U1"])
        )
        denied = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "access.denied"))
        ).all()
    assert score == 4.5
    assert [d.details["action"] for d in denied] == ["report.accept"]


async def test_the_questions_thread_with_reply_and_a_note_without_returning(world, db):
    chats, web, _, units = world
    lan = chats["lan"]
    await lan.command("hoi")
    await lan.text("Mục 1.1 có cần bản scan có dấu đỏ không?")
    page = f"/u/{units['U1']}"
    html = await (await web["leader"].get(page)).text()
    question = re.search(r'data-question="(\d+)"', html)
    assert question is not None and "Mục 1.1 có cần bản scan" in html
    _, html = await _post(
        web["leader"], f"{page}/reply", question=question.group(1), text="Có, cần bản scan."
    )
    assert "Đã gửi câu trả lời" in html and "Có, cần bản scan." in html
    [answer] = await _outbox(db, "questions.to_unit")
    assert answer.params == {
        "question": "Mục 1.1 có cần bản scan có dấu đỏ không?",
        "answer": "Có, cần bản scan.",
        "name": "Trưởng Đoàn",
        "campaign": "KT-A",
    }
    # Another unit's question id on this unit's page is no question of this report.
    _, html = await _post(web["leader"], f"{page}/reply", question="999999", text="x")
    assert "Không tìm thấy câu hỏi này" in html
    _, html = await _post(web["member"], f"{page}/note", text="Đề nghị gửi thêm <b>bản scan</b>")
    assert "Đã gửi cho các đầu mối" in html
    [note] = await _outbox(db, "desk_report.note_to_unit")
    assert note.params["text"] == "Đề nghị gửi thêm <b>bản scan</b>"  # escaped when sent
    assert note.params["name"] == "Thành Viên"
    async with db.sessions() as session:
        status = await session.scalar(
            select(Submission.status).where(Submission.assignment_id == units["U1"])
        )
    assert status == "not_started"  # a note changes nothing of the report
    await lan.command("hoi")
    assert "Đề nghị gửi thêm" in lan.text_out and "Có, cần bản scan." in lan.text_out
    # The team's own note is no question of the unit's to answer.
    posts = re.findall(r'data-question="(\d+)"', html)
    assert len(posts) == 3 and html.count('/reply"') == 1
    _, html = await _post(web["leader"], f"{page}/reply", question=posts[-1], text="x")
    assert "Không tìm thấy câu hỏi này" in html
    # The contact sees the thread on the web, with no form to act with.
    own = await (await web["lan"].get(page)).text()
    assert "Có, cần bản scan." in own and "/reply" not in own and "/note" not in own


async def test_history_and_evidence_previews(world, db, clock):
    chats, web, campaign_id, units = world
    lan = chats["lan"]
    await _answer_all(lan)
    clock.advance(timedelta(hours=1))  # within the web session's idle time
    async with transaction(db.sessions) as session:
        from storage.services.checklist import ChecklistCache
        from storage.services.submissions import record_answer, submission_for

        submission = await submission_for(session, units["U1"])
        checklist = await ChecklistCache().get(session, campaign_id)
        person = await session.scalar(select(Person.id).where(Person.full_name == "Thành Viên"))
        item = next(i for i in checklist.items if i.code == "1.3")
        await record_answer(session, submission, item, 97, person_id=person or 0, now=clock.now())
    html = await (await web["leader"].get(f"/u/{units['U1']}")).text()
    card = re.search(r'data-item="1.3"[^>]*>(.*?)</article>', html, re.S)
    assert card is not None
    assert "97%" in card.group(1) and "Thành Viên, 01/09/2021 09:00" in card.group(1)
    assert "Lịch sử sửa đổi (1 giá trị trước)" in card.group(1)
    assert "95,5%" in card.group(1) and "Đầu Mối Một, 01/09/2021 08:00" in card.group(1)
    image = re.search(r'<img src="/f/(\d+)" alt="anh.jpg"', html)
    pdf = re.search(r'<iframe src="/f/(\d+)" title="ke-hoach.pdf"', html)
    assert image is not None and pdf is not None
    shown = await web["leader"].get(f"/f/{pdf.group(1)}")
    assert shown.headers["Content-Disposition"].startswith("inline;")
    assert "frame-ancestors 'self'" in shown.headers["Content-Security-Policy"]
    policy = (await web["leader"].get(f"/u/{units['U1']}")).headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy  # the pages themselves are never framed
    assert (await web["leader2"].get(f"/f/{image.group(1)}")).status == 404


async def test_board_filter_by_team_and_chart(world):
    chats, web, campaign_id, _ = world
    await _submit(chats["lan"])
    admin = await (await web["admin"].get(f"/c/{campaign_id}")).text()
    assert "Tất cả các đoàn" in admin  # two teams: a filter
    assert "D1: 1/2 đã nộp" in admin and "D2: 0/1 đã nộp" in admin
    assert 'aria-label="Đã nộp đúng hạn: 1; Chưa bắt đầu: 1"' in admin
    teams = dict(
        (code, id_) for id_, code in re.findall(r'<option value="(\d+)"[^>]*>(D\d) –', admin)
    )
    only_d2 = await (await web["admin"].get(f"/c/{campaign_id}?team={teams['D2']}")).text()
    assert set(re.findall(r'data-unit="(U\d)"', only_d2)) == {"U3"}
    assert "D1: " not in only_d2 and f"export.xlsx?team={teams['D2']}" in only_d2
    # A member asking for another team's units by the filter gets their own, nothing more.
    member = await (await web["member"].get(f"/c/{campaign_id}?team={teams['D2']}")).text()
    assert set(re.findall(r'data-unit="(U\d)"', member)) == {"U1", "U2"}
    assert "Tất cả các đoàn" not in member and "D2: " not in member
    english = await (await web["member"].get(f"/c/{campaign_id}?lang=en")).text()
    assert "D1: 1/2 submitted" in english


async def test_exports_are_streamed_files_of_what_the_person_may_see(world, db, tmp_path):
    chats, web, campaign_id, _ = world
    await _submit(chats["lan"])
    leader = await web["leader"].get(f"/c/{campaign_id}/export.xlsx")
    assert leader.status == 200
    disposition = leader.headers["Content-Disposition"]
    assert re.fullmatch(
        r'attachment; filename="KT-A-\d{8}-\d{4}\.xlsx"; filename\*=.*', disposition
    )
    assert leader.headers["X-Content-Type-Options"] == "nosniff"
    workbook = openpyxl.load_workbook(io.BytesIO(await leader.read()), read_only=True)
    first = workbook.worksheets[0]
    cells = {str(c.value) for row in first.iter_rows() for c in row if c.value is not None}
    assert "U1" in cells and "U2" in cells and "U3" not in cells
    admin = await web["admin"].get(f"/c/{campaign_id}/export.xlsx")
    cells = {
        str(c.value)
        for row in openpyxl.load_workbook(io.BytesIO(await admin.read())).worksheets[0].iter_rows()
        for c in row
        if c.value is not None
    }
    assert {"U1", "U2", "U3"} <= cells
    board = await (await web["admin"].get(f"/c/{campaign_id}")).text()
    d2 = re.search(r'<option value="(\d+)"[^>]*>D2 –', board)
    assert d2 is not None
    narrowed = await web["admin"].get(f"/c/{campaign_id}/export.xlsx?team={d2.group(1)}")
    sheet = openpyxl.load_workbook(io.BytesIO(await narrowed.read())).worksheets[0]
    cells = {str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None}
    assert "U3" in cells and "U1" not in cells  # the board's team filter, as on the page
    archive = await web["leader"].get(f"/c/{campaign_id}/evidence.zip")
    assert archive.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(await archive.read())) as packed:
        names = packed.namelist()
        pdf = next(n for n in names if n.endswith("ke-hoach.pdf"))
        assert packed.read(pdf).startswith(b"%PDF-1.4")
    assert any(n.startswith("U1 - ") for n in names)
    other = await web["leader2"].get(f"/c/{campaign_id}/evidence.zip")
    with zipfile.ZipFile(io.BytesIO(await other.read())) as packed:
        assert not any(n.endswith(".pdf") for n in packed.namelist())  # team D2: no U1 files
    # Nothing is left behind on the disk once the download ends.
    exports = tmp_path / "evidence" / ".exports"
    assert not exports.exists() or not any(exports.iterdir())


def test_every_message_a_redirect_may_name_is_in_both_languages():
    from bot.console.report_routes import MESSAGES

    for key in MESSAGES:
        for locale in ("vi", "en"):
            text = CATALOG.t(locale, f"desk_report.msg.{key}")
            assert text != f"desk_report.msg.{key}" and text.strip(), (locale, key)


async def test_the_report_in_english_and_an_unknown_message_key(world):
    chats, web, _, units = world
    await _submit(chats["lan"])
    english = await (await web["leader"].get(f"/u/{units['U1']}?lang=en&msg=accepted")).text()
    assert "Return for correction (0 items)" in english and "Accept the report" in english
    assert "The report was accepted" in english  # the key names a known message
    odd = await web["leader"].get(f"/u/{units['U1']}?msg=<script>")
    assert (
        odd.status == 200
        and "<script>" not in await odd.text()
        and 'id="flash"' not in (await odd.text())
    )
