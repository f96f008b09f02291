"""The leader records and issues a conclusion in chat; the contact reports fixes with
/khacphuc; the leader accepts or reopens them (issue 18, second half)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select

from storage.db.models import Campaign, FixStatus, OutboxMessage, Shortcoming, ShortcomingFile
from storage.formats.export_xlsx import begin_snapshot, export_workbook
from tests.chat_harness import CATALOG, Chat
from tests.conftest import Db
from tests.test_handlers_checklist import PDF
from tests.test_handlers_team import _outbox, _submitted, _u1, people  # noqa: F401


async def _shortcomings(db: Db) -> list[Shortcoming]:
    async with db.sessions() as session:
        return list(await session.scalars(select(Shortcoming).order_by(Shortcoming.position)))


async def record_conclusion(leader: Chat, assignment: int) -> None:
    """Strengths, one shortcoming with the default due date, one with a typed date."""
    await leader.press(f"ru:{assignment}")
    await leader.press_label("Kết luận")
    assert "Chưa có nội dung" in leader.text_out
    await leader.press_label("Ghi ưu điểm")
    await leader.text("Ban hành kế hoạch CCHC đúng hạn\nCông khai thủ tục hành chính đầy đủ")
    assert "Đã lưu" in leader.text_out and "đúng hạn" in leader.text_out
    await leader.press_label("Thêm tồn tại")
    assert "Bước 1/3" in leader.text_out
    await leader.text("Chưa cập nhật <b>danh mục</b> thủ tục hành chính")
    assert "Bước 2/3" in leader.text_out
    await leader.text("Rà soát, cập nhật danh mục thủ tục hành chính")
    assert "Bước 3/3" in leader.text_out and "16/09/2021" in leader.text_out
    await leader.press_label("Hạn 16/09/2021")
    assert "&lt;b&gt;danh mục&lt;/b&gt;" in leader.text_out  # what was typed is escaped
    await leader.press_label("Thêm tồn tại")
    await leader.text("Tỷ lệ hồ sơ trực tuyến thấp")
    await leader.text("Đẩy mạnh tiếp nhận hồ sơ trực tuyến")
    await leader.text("31/02/2021")  # no such day: asked again, nothing lost
    assert "Không đọc được ngày" in leader.text_out
    await leader.text("01/10/2021")
    assert "Hạn: 01/10/2021" in leader.text_out


async def test_leader_records_and_issues_a_conclusion(people, db, clock, tmp_path: Path):  # noqa: F811
    lan, leader, member = people["lan"], people["leader"], people["member"]
    await _submitted(lan)
    assignment = await _u1(db)
    await member.press(f"kl:{assignment}")  # members do not conclude
    assert "không có quyền" in member.text_out.lower() or "denied" in member.text_out.lower()
    await record_conclusion(leader, assignment)
    await leader.press_label("Thêm tồn tại")
    await leader.text("Ghi nhầm")
    await leader.text("Bỏ")
    await leader.press_label("Hạn 16/09/2021")
    assert "<b>3.</b> Ghi nhầm" in leader.text_out
    await leader.press_label("Bỏ tồn tại 3")
    assert "Ghi nhầm" not in leader.text_out
    await leader.press_label("Ban hành")
    assert "2 tồn tại" in leader.text_out
    await leader.press_label("Xác nhận ban hành")
    assert "Đã ban hành" in leader.text_out
    document = next(r.document for r in leader.last if r.document)
    assert document is not None and document.file_name.endswith(".docx")
    text = "\n".join(p.text for p in Document(str(document.path)).paragraphs)
    assert "Chưa cập nhật <b>danh mục</b> thủ tục hành chính" in text
    [notice] = await _outbox(db, "conclusion.issued_notice")
    assert notice.params["_document"]["path"] == str(document.path)
    assert notice.params["count"] == 2
    # Issuing again sends nothing more, and the issued conclusion is frozen.
    await leader.press(f"klc:{assignment}")
    assert "đã được ban hành trước đó" in leader.text_out
    assert len(await _outbox(db, "conclusion.issued_notice")) == 1
    await leader.press(f"kla:{assignment}")
    await leader.text("Một tồn tại nữa")
    await leader.text("Sửa")
    await leader.press(f"kld:{assignment}")
    assert "đã ban hành, không sửa được" in leader.text_out
    assert len(await _shortcomings(db)) == 2


async def test_contact_reports_a_fix_and_the_leader_reopens_then_accepts(people, db, clock):  # noqa: F811
    lan, leader, binh = people["lan"], people["leader"], people["binh"]
    await _submitted(lan)
    assignment = await _u1(db)
    await lan.command("khacphuc")
    assert "chưa có việc cần khắc phục" in lan.text_out
    await record_conclusion(leader, assignment)
    await leader.press(f"klc:{assignment}")
    await lan.command("khacphuc")
    assert "0/2 tồn tại đã khắc phục" in lan.text_out
    first, _second = await _shortcomings(db)
    await binh.press(f"kt:{first.id}")  # another unit's contact: not theirs
    assert "danh mục" not in binh.text_out
    await lan.press(f"kt:{first.id}")
    assert "Yêu cầu khắc phục:" in lan.text_out and "16/09/2021" in lan.text_out
    await lan.press(f"kdn:{first.id}")  # nothing reported yet
    assert "Hãy báo cáo những việc đã làm" in lan.text_out
    await lan.press_label("Báo cáo kết quả")
    await lan.text("Đã ban hành Quyết định cập nhật danh mục TTHC")
    assert "Gửi tài liệu kiểm chứng" in lan.text_out
    await lan.file("quyet-dinh.pdf", PDF)
    assert "Đã nhận «quyet-dinh.pdf»" in lan.text_out
    await lan.file("virus.exe", b"MZ")
    assert "quyet-dinh" not in lan.text_out  # refused, said why
    await lan.press_label("Đánh dấu đã khắc phục")
    assert "1/2" not in lan.text_out and "đã báo cáo" in lan.text_out
    [reported] = await _outbox(db, "remediation.reported_notice")
    assert reported.params["number"] == 1 and reported.params["files"] == 1
    # The leader looks, gets the evidence back and reopens with a comment.
    await leader.press(f"kv:{first.id}")
    assert "Đã ban hành Quyết định" in leader.text_out
    await leader.press_label("quyet-dinh.pdf")
    assert next(r.document for r in leader.last if r.document).path.read_bytes() == PDF
    await leader.press(f"kv:{first.id}")
    await leader.press_label("Yêu cầu làm lại")
    await leader.text("Quyết định chưa kèm danh mục")
    assert "khắc phục lại tồn tại 1" in leader.text_out
    [reopened] = await _outbox(db, "remediation.reopened_notice")
    assert reopened.params["comment"] == "Quyết định chưa kèm danh mục"
    await lan.press(f"kt:{first.id}")
    assert "Quyết định chưa kèm danh mục" in lan.text_out
    await lan.press_label("Báo cáo kết quả")
    await lan.text("Đã bổ sung danh mục kèm Quyết định")
    await lan.press_label("Đánh dấu đã khắc phục")
    assert len(await _outbox(db, "remediation.reported_notice")) == 2
    await leader.press(f"kv:{first.id}")
    await leader.press_label("Chấp nhận")
    assert "Đã chấp nhận" in leader.text_out
    await leader.press(f"kva:{first.id}")  # pressed twice: said, nothing changes
    assert "đã được xem xét" in leader.text_out
    await lan.command("khacphuc")
    assert "1/2 tồn tại đã khắc phục" in lan.text_out
    await lan.command("status")
    assert "Khắc phục sau kiểm tra: 1/2 tồn tại đã khắc phục" in lan.text_out
    fixed, still = await _shortcomings(db)
    assert fixed.status == FixStatus.FIXED and still.status == FixStatus.OPEN
    assert still.due_on == date(2021, 10, 1)
    async with db.sessions() as session:
        assert len(list(await session.scalars(select(ShortcomingFile)))) == 1
    await leader.command("summary")
    assert "🛠 Ủy ban nhân dân Phường 1: 1/2 tồn tại đã khắc phục" in leader.text_out
    clock.set(datetime(2021, 9, 20, 3, 0, tzinfo=UTC))  # past the first due date, 16/09
    await leader.command("summary")
    assert "(1 quá hạn)" not in leader.text_out  # the one fixed is not late, 01/10 not yet
    clock.set(datetime(2021, 10, 5, 3, 0, tzinfo=UTC))
    await leader.command("summary")
    assert "1/2 tồn tại đã khắc phục (1 quá hạn)" in leader.text_out


@pytest.mark.parametrize("who", ["member", "leader2", "lan"])
async def test_only_the_units_leader_reviews_a_fix(people, db, who):  # noqa: F811
    lan, leader = people["lan"], people["leader"]
    await _submitted(lan)
    assignment = await _u1(db)
    await record_conclusion(leader, assignment)
    await leader.press(f"klc:{assignment}")
    first, _ = await _shortcomings(db)
    await lan.press(f"kr:{first.id}")
    await lan.text("Đã làm")
    await lan.press(f"kdn:{first.id}")
    other = people[who]
    await other.press(f"kva:{first.id}")
    [row] = (await _shortcomings(db))[:1]
    assert row.status == FixStatus.REPORTED
    async with db.sessions() as session:
        sent = list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.template == "remediation.accepted_notice")
            )
        )
    assert sent == []


async def test_the_export_has_the_remediation_sheet(people, db, clock, tmp_path: Path):  # noqa: F811
    lan, leader = people["lan"], people["leader"]
    await _submitted(lan)
    assignment = await _u1(db)
    await record_conclusion(leader, assignment)
    await leader.press(f"klc:{assignment}")
    first, _second = await _shortcomings(db)
    await lan.press(f"kr:{first.id}")
    await lan.text("Đã cập nhật danh mục")
    await lan.press(f"kdn:{first.id}")
    clock.advance(timedelta(hours=3))
    await leader.press(f"kva:{first.id}")
    async with db.sessions() as session:
        await begin_snapshot(session)
        campaign_id = int(await session.scalar(select(Campaign.id)) or 0)
        await export_workbook(
            session, campaign_id, tmp_path / "kq.xlsx", tr=CATALOG.for_locale("vi")
        )
    ws = load_workbook(tmp_path / "kq.xlsx")["Khắc phục"]
    header = [c.value for c in ws[1]]
    assert header[:4] == ["Mã đơn vị", "Tên đơn vị", "Đoàn", "Tồn tại số"]
    rows = [list(r) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert len(rows) == 2
    one, two = rows
    assert one[0] == "U1" and one[3] == 1 and one[7] == "đã khắc phục"
    assert one[6] == datetime(2021, 9, 16)  # a date cell
    assert ws.cell(row=2, column=7).number_format == "dd/mm/yyyy"
    assert isinstance(one[9], datetime)  # reviewed at, local time
    assert two[6] == datetime(2021, 10, 1) and two[7] == "chưa khắc phục"
    assert one[10:] == [1, 2, 50.0] and two[10:] == [1, 2, 50.0]  # numbers, not text


async def test_a_contact_without_buttons_reports_by_numbers(people, db, clock, tmp_path):  # noqa: F811
    """Zalo: choices come as a numbered list; in a typing step "1" is text, "#1" a choice."""
    lan, leader = people["lan"], people["leader"]
    await _submitted(lan)
    assignment = await _u1(db)
    await record_conclusion(leader, assignment)
    await leader.press(f"klc:{assignment}")
    zalo = Chat(lan.dispatcher, clock, name="Lan Zalo", platform="zalo")
    async with db.sessions() as session:
        from storage.services.invites import list_invites

        campaign_id = int(await session.scalar(select(Campaign.id)) or 0)
        rows = await list_invites(session, campaign_id, now=clock.now())
    code = next(r.code for r in rows if r.unit_code == "U1" and r.used_by is None)
    await zalo.command("start", code)
    await zalo.command("khacphuc")
    assert "1. " in zalo.text_out and "0/2" in zalo.text_out
    await zalo.text("1")  # the first task, by its number
    assert "Yêu cầu khắc phục:" in zalo.text_out
    await zalo.text("1")  # "Báo cáo kết quả khắc phục", the card's first choice
    assert "những việc đã làm" in zalo.text_out
    await zalo.text("1")  # typed as the report itself, not taken as a choice
    assert "Gửi tài liệu kiểm chứng" in zalo.text_out
    first, _ = await _shortcomings(db)
    assert first.report == "1"
    await zalo.text("#1")  # now a choice: mark as fixed
    assert "Đã báo cáo tồn tại 1" in zalo.text_out
