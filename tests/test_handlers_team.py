"""Leaders, members and admins in chat: summary with chart, drill-down, return and
resubmit, accept and appraise, questions, and who may do what."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.outbox_render import make_renderer
from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from storage.db.models import ChatAccount, OutboxMessage, Submission
from storage.formats.campaign_spec import TeamSpec
from tests import factories
from tests.chat_harness import CATALOG, Chat, import_and_codes, make_deps
from tests.conftest import Db
from tests.test_handlers_checklist import JPEG, PDF, _answer_all


def _two_teams():
    spec = factories.campaign(units=3)
    teams = (*spec.teams, TeamSpec("D2", "Đoàn kiểm tra số 2", leaders=1, members=0))
    return replace(spec, teams=teams, units=(*spec.units[:2], replace(spec.units[2], team="D2")))


@pytest.fixture
async def people(db: Db, clock: FrozenClock, tmp_path: Path):
    codes = await import_and_codes(db, clock, _two_teams())
    deps = make_deps(db, clock, tmp_path)
    chats = {
        name: Chat(Dispatcher(deps), clock, name=name)
        for name in ("lan", "binh", "leader", "member", "leader2", "admin", "stranger")
    }
    deps.admin_ids = {"telegram": frozenset({chats["admin"].user_id})}
    for name, code in (
        ("lan", codes["U1"][0]),
        ("binh", codes["U3"][0]),
        ("leader", codes["team_leader:D1"][0]),
        ("member", codes["team_member:D1"][0]),
        ("leader2", codes["team_leader:D2"][0]),
    ):
        await chats[name].command("start", code)
    return chats


async def _submitted(lan: Chat) -> None:
    await _answer_all(lan)
    await lan.press_label("Nộp báo cáo")
    await lan.press_label("Xác nhận")
    assert "Đã nộp báo cáo" in lan.text_out


async def _u1(db: Db) -> int:
    async with db.sessions() as session:
        from storage.db.models import Assignment, Unit

        return int(
            await session.scalar(select(Assignment.id).join(Unit).where(Unit.code == "U1")) or 0
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


def _rendered(row: OutboxMessage, locale: str) -> str:
    account = ChatAccount(platform="telegram", user_id="x", chat_id="x", language_hint=locale)
    return make_renderer(CATALOG)(row, account, None).text


async def test_summary_has_counts_names_and_a_real_png_chart(people, db):
    await _submitted(people["lan"])
    leader = people["leader"]
    await leader.command("summary")
    photo = next(r.photo for r in leader.last if r.photo)
    assert photo is not None and photo.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Đã nộp 1/2 (đã chấp nhận 0, chờ xem xét 1)" in leader.text_out
    assert any(c.label.startswith("📥 ") for c in leader.buttons())
    # Issue 19: the unit buttons carry short names, not codes, laid out evenly.
    [keyboard] = [
        r.choices
        for r in leader.last
        if any(c.token.startswith("ru:") for row in r.choices for c in row)
    ]
    assert [[c.label for c in row] for row in keyboard] == [
        ["📥 UBND Phường 1", "⏳ UBND Phường 2"]
    ]
    assert "Ủy ban nhân dân Phường 2" in leader.text_out  # not submitted yet
    assert "Ủy ban nhân dân Phường 3" not in leader.text_out  # team D2: not this leader's
    # What the burn-up draws: U1 started and submitted with all 7 answered; U2 untouched.
    from storage.db.models import Assignment, Team
    from storage.services.progress_history import unit_progress

    async with db.sessions() as session:
        team = (await session.scalars(select(Team).where(Team.code == "D1"))).one()
        campaign_id = await session.scalar(
            select(Assignment.campaign_id).where(Assignment.team_id == team.id).limit(1)
        )
        found = await unit_progress(session, campaign_id or 0, [team.id])
    done = sorted(found, key=lambda u: u.answered, reverse=True)
    assert [u.answered for u in done] == [7, 0]
    assert done[0].started_at is not None and done[0].submitted_at is not None
    assert done[0].started_at.tzinfo is not None and done[0].started_at <= done[0].submitted_at
    assert (done[1].started_at, done[1].submitted_at) == (None, None)
    admin = people["admin"]
    await admin.command("summary")
    assert "Đoàn kiểm tra số 2" in admin.text_out and "Đã nộp 1/2" in admin.text_out


async def test_return_resubmit_accept_appraise(people, db, clock):
    lan, leader, member = people["lan"], people["leader"], people["member"]
    await _submitted(lan)
    assignment = await _u1(db)
    await member.press(f"ru:{assignment}")
    assert "đã nộp" in member.text_out and not any(
        c.token.startswith("ac:") for c in member.buttons()
    )  # members cannot accept
    await member.press(f"rf:{assignment}:0")
    await member.press_label("1.3")
    await member.text("Tỷ lệ 95,5% chưa có báo cáo chứng minh")
    await member.press(member.button("rt:").token)
    await member.press_label("Xác nhận trả lại")
    assert "Đã trả lại báo cáo" in member.text_out
    clock.advance(timedelta(hours=2))  # the unit corrects later
    [notice] = await _outbox(db, "review.returned_notice")
    assert "1.3: Tỷ lệ 95,5% chưa có báo cáo chứng minh" in notice.params["items"]
    await lan.command("status")
    assert "Đoàn yêu cầu bổ sung" in lan.text_out and "1.3" in lan.text_out
    await lan.command("checklist")
    assert "Mục 3/7 · 1.3" in lan.text_out  # only the reopened item
    # Issue 19: the reopened card says what the team asked.
    assert "Đoàn kiểm tra đề nghị bổ sung:" in lan.text_out
    assert "Tỷ lệ 95,5% chưa có báo cáo chứng minh" in lan.text_out
    # ...and the item (evidence "none") takes the document the comment asks for.
    await lan.press_label("tài liệu")
    await lan.file("bao-cao-ty-le.pdf", PDF)
    assert "Đã nhận «bao-cao-ty-le.pdf»" in lan.text_out
    first_yes = next(
        c.token for r in lan.history for row in r.choices for c in row if c.token.startswith("v:")
    )
    await lan.press(first_yes.rpartition("~")[0])  # an old card's button, unstamped
    assert "không nằm trong các mục đoàn yêu cầu bổ sung" in lan.text_out
    await lan.command("checklist")
    await lan.text("97")
    await lan.press_label("Nộp báo cáo")
    await lan.press_label("Xác nhận")
    [alert] = await _outbox(db, "edges.resubmitted")
    # Issue 19: what changed, per item, in the reader's number format.
    assert "1.3: 95,5% → 97%" in _rendered(alert, "vi")
    assert "1.3: 95.5% → 97%" in _rendered(alert, "en")
    await leader.press(f"ru:{assignment}")
    await leader.press(leader.button("ac:").token)
    await leader.press_label("Xác nhận chấp nhận")
    assert "Điểm thẩm định: 5,5/5,5" in leader.text_out
    [accepted] = await _outbox(db, "review.accepted_notice")  # floats, written per reader
    assert "Điểm thẩm định: 5,5/5,5" in _rendered(accepted, "vi")
    assert "Appraised score: 5.5/5.5" in _rendered(accepted, "en")
    # Issue 19: the summary tells the accepted report apart from submitted ones.
    await leader.command("summary")
    assert "Đã nộp 1/2 (đã chấp nhận 1, chờ xem xét 0)" in leader.text_out
    assert any(c.label.startswith("✅ ") for c in leader.buttons())
    await leader.press(f"ap:{assignment}:0")
    await leader.press_label("1.3")
    await leader.text("1")
    assert "Nhập lý do" in leader.text_out
    await leader.text("Tỷ lệ thực tế thấp hơn")
    assert "Tổng: 4,5/5,5" in leader.text_out
    await lan.command("status")
    assert "Điểm thẩm định: 4,5/5,5" in lan.text_out and "Tỷ lệ thực tế thấp hơn" in lan.text_out
    async with db.sessions() as session:
        submission = (
            await session.scalars(select(Submission).where(Submission.status == "accepted"))
        ).one()
        assert submission.appraised_score == 4.5


async def test_questions_go_to_the_team_and_answers_to_every_contact(people, db):
    lan, leader = people["lan"], people["leader"]
    await lan.command("hoi")
    await lan.text("Mục 1.1 có cần bản scan có dấu đỏ không?")
    assert "Đã gửi câu hỏi" in lan.text_out
    to_team = await _outbox(db, "questions.to_team")
    assert len(to_team) == 2  # the leader and the member of D1, not D2's leader
    token = to_team[0].params["_buttons"][0][0]["token"]
    await people["leader2"].press(token)
    assert "không có quyền" in people["leader2"].text_out
    await leader.press(token)
    await leader.text("Có, cần bản scan có dấu.")
    [answer] = await _outbox(db, "questions.to_unit")
    assert answer.params["answer"] == "Có, cần bản scan có dấu."
    await lan.command("hoi")
    assert "Mục 1.1 có cần bản scan" in lan.text_out and "Có, cần bản scan có dấu." in lan.text_out


async def test_evidence_is_sent_back_as_a_document(people, db):
    lan, leader = people["lan"], people["leader"]
    await _submitted(lan)
    await leader.press(f"ue:{await _u1(db)}")
    await leader.press(leader.button("ef:").token)
    document = next(r.document for r in leader.last if r.document)
    assert document is not None and document.path.read_bytes() in (PDF, JPEG)


ACTIONS = ["ru:{a}", "ua:{a}:0", "ue:{a}", "uq:{a}", "rf:{a}:0", "rt:{a}", "ac:{a}", "ap:{a}:0"]
REVIEWERS = {"leader", "member", "admin"}
LEADERS = {"leader", "admin"}


@pytest.mark.parametrize("who", ["lan", "binh", "leader", "member", "leader2", "admin", "stranger"])
async def test_authorisation_matrix(people, db, who):
    await _submitted(people["lan"])
    assignment = await _u1(db)
    chat = people[who]
    for action in ACTIONS:
        await chat.press(action.format(a=assignment))
        refused = "không có quyền" in chat.text_out
        allowed = who in (LEADERS if action.startswith(("ac:", "ap:")) else REVIEWERS)
        if action.startswith("uq:") and who == "lan":
            allowed = True  # a contact sees their own unit's questions
        assert refused == (not allowed), (who, action, chat.text_out)
        if refused:  # nothing about the unit leaks into the refusal
            assert "Phường 1" not in chat.text_out and "5.5" not in chat.text_out
    await chat.command("summary")
    assert ("không có quyền" in chat.text_out) == (who not in REVIEWERS | {"leader2"})


async def test_broadcast_by_admin_and_leader_with_preview_schedule_and_report(people, db, clock):
    await _submitted(people["lan"])
    admin, leader = people["admin"], people["leader"]
    await admin.command("broadcast")
    await admin.text("Đề nghị các đơn vị chưa nộp hoàn thành trước 17:00 ngày 30/9.")
    await admin.file("huong-dan.pdf", PDF)
    assert "Đã đính kèm «huong-dan.pdf»" in admin.text_out
    await admin.press_label("chưa nộp")
    assert "<b>1</b> người" in admin.text_out  # U3's contact (U2 has none linked)
    await admin.press_label("Gửi ngay")
    assert "1 người" in admin.text_out
    rows = await _outbox(db, "notices.notice")
    assert len(rows) == 1 and rows[0].params.get("_document")
    await admin.press(admin.button("bcr:").token)
    assert "đang chờ 1" in admin.text_out
    # A leader: only their own team, and a forged audience is refused.
    await leader.command("broadcast")
    await leader.text("Đoàn sẽ làm việc trực tuyến.")
    labels = [c.label for c in leader.buttons()]
    assert labels == ["Các đơn vị của Đoàn kiểm tra số 1"]
    await leader.press("bca:all")
    assert "không có quyền" in leader.text_out
    await leader.press(labels and leader.history[-2].choices[0][0].token)
    await leader.press_label("Hẹn giờ")
    await leader.text("31/02/2021 08:00")
    assert "dd/mm/yyyy HH:MM" in leader.text_out
    await leader.text("02/09/2021 08:00")
    await leader.press_label("Xác nhận")
    assert "02/09/2021 08:00" in leader.text_out
    assert len(await _outbox(db, "notices.notice")) == 1  # not yet: it is scheduled


async def test_a_notice_sent_now_is_queued_for_each_recipient_at_once(people, db):
    admin = people["admin"]
    await admin.command("broadcast")
    await admin.text("Họp giao ban sáng thứ Hai.")
    await admin.press_label("Tất cả đơn vị")
    assert "<b>2</b> người" in admin.text_out  # U1's and U3's contacts (U2 has none linked)
    await admin.press_label("Gửi ngay")
    assert "hàng gửi tới 2 người" in admin.text_out
    rows = await _outbox(db, "notices.notice")
    assert len(rows) == 2 and all(r.notice_id == rows[0].notice_id for r in rows)


async def test_members_and_contacts_cannot_broadcast(people):
    for who in ("member", "lan", "stranger"):
        await people[who].command("broadcast")
        assert "không có quyền" in people[who].text_out


async def test_export_in_chat_admin_all_leader_own_team(people, db):
    from openpyxl import load_workbook

    await _submitted(people["lan"])
    for who, expected in (("admin", {"U1", "U2", "U3"}), ("leader", {"U1", "U2"})):
        chat = people[who]
        await chat.command("export")
        document = next(r.document for r in chat.last if r.document)
        assert document is not None and document.file_name.endswith(".xlsx")
        sheet = load_workbook(document.path, read_only=True).worksheets[0]
        cells = {str(c) for row in sheet.iter_rows(values_only=True) for c in row if c}
        assert {code for code in ("U1", "U2", "U3") if code in cells} == expected, who
    await people["lan"].command("export")
    assert "không có quyền" in people["lan"].text_out


async def test_the_export_file_is_named_by_the_campaigns_local_time(people, clock):
    """Issue 19: the name carried the server's wall clock, not the campaign's time."""
    from datetime import UTC, datetime

    clock.set(datetime(2021, 9, 20, 18, 30, tzinfo=UTC))  # 21/09/2021 01:30 in Hồ Chí Minh
    await people["admin"].command("export")
    document = next(r.document for r in people["admin"].last if r.document)
    assert document is not None and document.file_name.endswith("-20210921-0130.xlsx")
