"""A unit contact answers every item type, attaches evidence, reviews and submits."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from common.clock import FrozenClock
from common.messages import InboundKind
from handlers.dispatcher import Dispatcher
from storage.db.models import (
    Answer,
    AnswerRevision,
    EvidenceFile,
    OutboxMessage,
    Person,
    Submission,
)
from tests import factories
from tests.chat_harness import Chat, import_and_codes, make_deps
from tests.conftest import Db

PDF = "%PDF-1.4\n% bằng chứng\n".encode()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00jpeg"  # a JPEG's first bytes: what photos start with


@pytest.fixture
async def world(db: Db, clock: FrozenClock, tmp_path: Path):
    codes = await import_and_codes(db, clock, factories.campaign())
    deps = make_deps(db, clock, tmp_path)
    return codes, Dispatcher(deps), deps


async def _joined(world, clock, unit: str = "U1", slot: int = 0, **kw) -> Chat:
    codes, dispatcher, _ = world
    chat = Chat(dispatcher, clock, **kw)
    await chat.command("start", codes[unit][slot])
    return chat


async def _answer_all(chat: Chat) -> None:
    await chat.command("checklist")
    await chat.text("31/12/2020")  # 1.1 date, evidence required
    await chat.file("ke-hoach.pdf", PDF)
    await chat.press_label("Tiếp tục")
    await chat.press_label("Có")  # 1.2 yes/no, evidence required
    await chat.file("anh.jpg", JPEG, "image/jpeg", InboundKind.PHOTO)
    await chat.press_label("Tiếp tục")
    await chat.text("95,5 %")  # 1.3 percent
    await chat.text("0")  # 5.2 number
    await chat.press_label("Đã áp dụng")  # 7.3 choice, evidence optional
    await chat.press_label("Tiếp tục")
    await chat.press_label("Chữ ký số")  # 7.4 multi
    await chat.press_label("Một cửa")
    await chat.press_label("Xong")
    await chat.text("Đề nghị <tăng> kinh phí & nhân lực")  # 9.1 text


async def test_every_item_type_answered_with_evidence_then_submitted(world, db, clock, tmp_path):
    codes, dispatcher, _ = world
    leader = Chat(dispatcher, clock)
    await leader.command("start", codes["team_leader:D1"][0])
    chat = await _joined(world, clock)
    await _answer_all(chat)
    assert "Đề nghị &lt;tăng&gt; kinh phí &amp; nhân lực" in chat.text_out  # escaped echo
    assert "Đã trả lời: 7/7" in chat.text_out
    assert "Điểm tự đánh giá: 5,5/5,5" in chat.text_out  # issue 19: decimal comma
    await chat.press_label("Nộp báo cáo")
    await chat.press_label("Xác nhận")
    assert "Đã nộp báo cáo" in chat.text_out and "01/09/2021 08:00" in chat.text_out
    async with db.sessions() as session:
        submission = (
            await session.scalars(select(Submission).where(Submission.status == "submitted"))
        ).one()
        assert not submission.late and submission.self_score == 5.5
        answers = {a.item_id: a for a in await session.scalars(select(Answer))}
        assert len(answers) == 7
        files = list(await session.scalars(select(EvidenceFile)))
        assert sorted(f.file_name for f in files) == ["anh.jpg", "ke-hoach.pdf"]
        stored = tmp_path / "evidence" / files[0].storage_path
        assert stored.exists() and len(files[0].sha256) == 64
        alert = (await session.scalars(select(OutboxMessage))).one()
        assert alert.template == "alerts.submitted"
        assert alert.params["unit"] == "Ủy ban nhân dân Phường 1"


async def test_submitted_report_is_locked_and_old_buttons_say_so(world, clock):
    chat = await _joined(world, clock)
    await _answer_all(chat)
    await chat.press_label("Nộp báo cáo")
    confirm = chat.button("Xác nhận").token
    await chat.press(confirm)
    await chat.press(confirm)  # pressed twice
    assert "không thể sửa" in chat.text_out or "đã được nộp" in chat.text_out
    first_yes = next(
        c.token for r in chat.history for row in r.choices for c in row if c.token.startswith("v:")
    )
    await chat.press(first_yes)  # a button from an old message, after submission
    assert "thuộc một tin nhắn cũ" in chat.text_out  # issue 19: says so, changes nothing
    await chat.press(first_yes.rpartition("~")[0])  # unstamped (older than the stamps)
    assert "đã được nộp" in chat.text_out
    await chat.text("99")
    assert "Traceback" not in chat.text_out
    await chat.command("checklist")
    assert "đã được nộp" in chat.text_out


async def test_late_submission_is_marked_late(world, db, clock):
    chat = await _joined(world, clock)
    await _answer_all(chat)
    clock.advance(timedelta(days=40))
    await chat.press_label("Nộp báo cáo")
    await chat.press_label("Xác nhận")
    assert "sau hạn" in chat.text_out
    async with db.sessions() as session:
        assert (
            await session.scalars(select(Submission.late).where(Submission.status == "submitted"))
        ).one() is True


@pytest.mark.parametrize(
    ("item_steps", "bad", "message"),
    [
        (0, "31/02/2021", "31/02/2021"),
        (0, "hôm qua", "dd/mm/yyyy"),
        (2, "150", "100"),
        (2, "abc", "phần trăm"),
        (3, "-2", "0"),
        (6, "x" * 2001, "2000"),
    ],
)
async def test_bad_values_get_a_clear_message_and_the_same_question(
    world, db, clock, item_steps, bad, message
):
    chat = await _joined(world, clock)
    await chat.command("checklist")
    for _ in range(item_steps):
        await chat.press(chat.button("s:").token)  # skip to the item
    question = chat.last[-1].text.split("\n")[1]  # "Mục n/7 · code · ..."
    await chat.text(bad)
    assert chat.text_out.startswith("⚠️") and message in chat.text_out
    assert question in chat.text_out
    async with db.sessions() as session:
        assert list(await session.scalars(select(Answer))) == []


async def test_navigation_back_skip_list_and_sections(world, clock):
    chat = await _joined(world, clock)
    await chat.command("checklist")
    card = chat.last
    await chat.press(chat.button("p:").token)
    assert chat.last[0].toast == "Đây là mục đầu tiên." and not chat.last[0].text
    chat.last = card
    await chat.press(chat.button("s:").token)
    assert "Mục 2/7" in chat.text_out and chat.last[0].edit
    await chat.press(chat.button("l:").token)
    assert "Danh sách mục kiểm tra" in chat.text_out and "⬜ <b>1.1</b>" in chat.text_out
    await chat.press(chat.button("ls").token)
    await chat.press_label("5. Cải cách chế độ công vụ")
    assert "Mục 4/7 · 5.2" in chat.text_out
    await chat.press("r")
    assert "Còn 5 mục bắt buộc chưa trả lời: 1.1, 1.2, 1.3, 5.2, 7.3" in chat.text_out


async def test_pressed_answer_and_its_evidence_prompt_share_one_card(world, clock):
    chat = await _joined(world, clock)
    await chat.command("checklist")
    await chat.press(chat.button("s:").token)  # to 1.2, a yes/no item that needs evidence
    await chat.press_label("Có")
    [card] = chat.last  # the pressed card itself: the answer, then what comes next for it
    assert card.edit and card.toast == "Đã lưu"
    assert card.text.startswith("✅ Đã lưu mục 1.2: Có\n\n📎 Mục 1.2 cần")
    assert chat.button("Tiếp tục")
    await chat.press_label("Tiếp tục")  # no file: a warning, then item 3 as a new card
    assert "Mục 3/7" in chat.text_out and not chat.last[-1].edit


async def test_a_pressed_answer_without_evidence_turns_its_card_into_the_next(
    world: tuple[object, Dispatcher, object], clock: FrozenClock
) -> None:
    """One edit, not an edit plus a new message: the saved answer stays on top."""
    chat = await _joined(world, clock)
    await chat.command("checklist")
    for _ in range(5):  # skip to 7.4, a multi item without evidence
        await chat.press(chat.button("s:").token)
    assert "Mục 6/7" in chat.text_out
    await chat.press_label("Chữ ký số")
    await chat.press_label("Xong")
    [card] = chat.last
    assert card.edit and card.toast == "Đã lưu"
    assert card.text.startswith("✅ Đã lưu mục 7.4:") and "Mục 7/7" in card.text
    assert chat.button("Bỏ qua")  # the next item's own buttons


async def test_missing_evidence_blocks_submit_until_explained(world, clock):
    chat = await _joined(world, clock)
    await chat.command("checklist")
    await chat.text("01/12/2020")
    await chat.press_label("Tiếp tục")  # no file
    assert "vẫn chưa có tài liệu" in chat.text_out
    await chat.command("review")
    assert "1 mục thiếu tài liệu kiểm chứng: 1.1" in chat.text_out
    assert not any("Nộp" in c.label for c in chat.buttons())
    assert chat.button("Đi tới mục còn thiếu").token == chat.button("g:").token
    first_card_evidence = next(
        c.token for r in chat.history for row in r.choices for c in row if c.token.startswith("e:")
    )
    await chat.press(first_card_evidence.rpartition("~")[0])  # unstamped
    await chat.press_label("Giải trình")
    await chat.text("Kế hoạch ban hành bằng văn bản giấy, chưa số hóa")
    assert "Đã lưu giải trình" in chat.text_out
    await chat.command("review")
    assert "thiếu tài liệu" not in chat.text_out


async def test_evidence_type_size_and_duplicates(world, db, clock):
    chat = await _joined(world, clock)
    await chat.command("checklist")
    await chat.file("virus.exe", b"MZ")
    assert "Không nhận tệp loại «.exe»" in chat.text_out
    await chat.file("big.pdf", b"%PDF", size=25 * 1024 * 1024)
    assert "Tệp quá lớn (25 MB); tối đa 20 MB" in chat.text_out
    await chat.file("qd.pdf", PDF)
    await chat.file("qd-copy.pdf", PDF)
    assert "đã có trong mục 1.1" in chat.text_out
    async with db.sessions() as session:
        assert len(list(await session.scalars(select(EvidenceFile)))) == 1


async def test_two_contacts_share_one_submission_and_each_answer_records_who(world, db, clock):
    lan = await _joined(world, clock, slot=0, name="Lan")
    minh = await _joined(world, clock, slot=1, name="Minh")
    await lan.command("checklist")
    await lan.text("01/12/2020")
    await minh.command("checklist")
    assert "Mục 2/7" in minh.text_out  # 1.1 is answered already: Minh starts at 1.2
    await minh.press(minh.button("l:").token)
    await minh.press_label("📎 1.1")  # answered, evidence still missing
    assert "Câu trả lời hiện tại: <b>01/12/2020</b>" in minh.text_out  # sees Lan's answer
    await minh.text("02/12/2020")
    async with db.sessions() as session:
        answer = (await session.scalars(select(Answer))).one()
        who = await session.get(Person, answer.answered_by)
        assert who is not None and who.full_name == "Minh" and answer.revision == 2
        revisions = list(await session.scalars(select(AnswerRevision.value)))
        assert revisions == ["2020-12-01", "2020-12-02"]


async def test_a_restart_continues_where_the_chat_was(world, db, clock, tmp_path):
    chat = await _joined(world, clock)
    await chat.command("checklist")
    await chat.press(chat.button("s:").token)
    await chat.press(chat.button("s:").token)  # now on 1.3 (percent)
    chat.dispatcher = Dispatcher(make_deps(db, clock, tmp_path))  # a new process
    await chat.text("88")
    assert "Đã lưu mục 1.3: 88%" in chat.text_out and "Mục 4/7" in chat.text_out


async def test_a_person_in_two_campaigns_picks_the_unit(db, clock, tmp_path):
    a = await import_and_codes(db, clock, factories.campaign("KT-A"))
    b = await import_and_codes(db, clock, factories.campaign("KT-B"))
    chat = Chat(Dispatcher(make_deps(db, clock, tmp_path)), clock)
    await chat.command("start", a["U1"][0])
    await chat.command("start", b["U3"][0])
    await chat.press_label("Chuyển sang đơn vị mới")  # asked first (issue 19)
    await chat.command("checklist")
    assert "Mục 1/7" in chat.text_out  # the unit just joined is the active one
    pick = await _pick_buttons(chat)
    assert len(pick) == 2
    await chat.press(pick[0])
    assert "Mục 1/7" in chat.text_out


async def _pick_buttons(chat: Chat) -> list[str]:
    """Forget the active unit (as after a revoked role) so the bot must ask."""
    dispatcher = chat.dispatcher
    async with dispatcher.deps.sessions() as session, session.begin():
        from storage.db.models import ConversationState

        state = (await session.scalars(select(ConversationState))).one()
        state.data = {}
    await chat.command("checklist")
    assert "nhiều đơn vị" in chat.text_out
    return [c.token for c in chat.buttons() if c.token.startswith("pick:")]


async def test_zalo_gets_numbered_choices(world, clock):
    chat = await _joined(world, clock, platform="zalo")
    assert "1. ▶ Bắt đầu trả lời" in chat.text_out and not chat.buttons()
    await chat.text("1")
    assert "Mục 1/7" in chat.text_out and "#1." in chat.text_out  # typed item: "#n" picks
    await chat.text("31/12/2020")
    assert "Đã lưu mục 1.1" in chat.text_out
    await chat.text("1")  # "Tiếp tục ▶" in the evidence step
    assert "Mục 2/7" in chat.text_out
    await chat.text("1")  # "Có"
    assert "Đã lưu mục 1.2: Có" in chat.text_out


async def test_every_token_fits_in_64_bytes(world, clock):
    chat = await _joined(world, clock)
    await _answer_all(chat)
    await chat.press(chat.button("l:").token)
    await chat.press(chat.button("ls").token)
    tokens = [c.token for r in chat.history for row in r.choices for c in row]
    assert tokens and all(len(t.encode()) <= 64 for t in tokens)


@pytest.mark.parametrize("platform", ["telegram", "zalo"])
async def test_an_over_long_text_is_refused_and_the_question_stays(world, clock, platform):
    """Issue 19: a text over 4096 characters on any channel gets the clear "vượt quá giới
    hạn" answer and records nothing; the same item then takes a normal answer."""
    chat = await _joined(world, clock, platform=platform)
    await chat.command("checklist")
    await chat.text("31/12/2020 " + "x" * 5000)
    assert "vượt quá giới hạn 4096 ký tự" in chat.text_out
    await chat.text("31/12/2020")  # still the first item's question
    assert "tài liệu kiểm chứng" in chat.text_out
