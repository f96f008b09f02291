"""Items scored by hand in chat: the contact's self-score, the team's appraisal round 1,
the unit's explanations (giải trình) with evidence, round 2 and the final result."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from storage.db.models import (
    Assignment,
    ExplanationFile,
    OutboxMessage,
    SelfScore,
    Submission,
    Unit,
)
from storage.formats.campaign_spec import (
    ItemSpec,
    ItemType,
    ScoringSettings,
    SectionSpec,
)
from tests import factories
from tests.chat_harness import Chat, import_and_codes, make_deps
from tests.conftest import Db
from tests.test_handlers_checklist import PDF

BY_HAND = {"rule": "by_hand"}


def hand_campaign():
    """Two items scored by hand (1 and 2 points) and one scored by its rule (1 point)."""
    items = (
        ItemSpec(
            "2.1", "Tỷ lệ văn bản QPPL được rà soát", ItemType.PERCENT, points=1, scoring=BY_HAND
        ),
        ItemSpec(
            "2.2", "Số tin, bài tuyên truyền CCHC", ItemType.NUMBER, points=2, scoring=BY_HAND
        ),
        ItemSpec(
            "4.2",
            "Không vượt biên chế được giao",
            ItemType.YESNO,
            points=1,
            scoring={"rule": "yes"},
        ),
    )
    return replace(
        factories.campaign(units=2),
        sections=(SectionSpec("2. Cải cách thể chế", items),),
        scoring=ScoringSettings(score_step=0.25, explain_days=5),
    )


@pytest.fixture
async def people(db: Db, clock: FrozenClock, tmp_path: Path):
    codes = await import_and_codes(db, clock, hand_campaign())
    deps = make_deps(db, clock, tmp_path)
    chats = {name: Chat(Dispatcher(deps), clock, name=name) for name in ("lan", "leader", "member")}
    for name, code in (
        ("lan", codes["U1"][0]),
        ("leader", codes["team_leader:D1"][0]),
        ("member", codes["team_member:D1"][0]),
    ):
        await chats[name].command("start", code)
    return chats


async def _u1(db: Db) -> int:
    async with db.sessions() as session:
        found = await session.scalar(select(Assignment.id).join(Unit).where(Unit.code == "U1"))
        return int(found or 0)


async def _outbox(db: Db, template: str) -> list[OutboxMessage]:
    async with db.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.template == template)
                .order_by(OutboxMessage.id)
            )
        )


async def _self_scores(db: Db) -> dict[str, tuple[float, str]]:
    async with db.sessions() as session:
        from storage.db.models import Item

        rows = await session.execute(
            select(Item.code, SelfScore.score, SelfScore.reason).join(
                Item, Item.id == SelfScore.item_id
            )
        )
        return {code: (score, reason) for code, score, reason in rows}


async def _answer_and_score(lan: Chat) -> None:
    """2.1 scored 0,75 typed; 2.2 scored 1,5 by button; 4.2 yes (its rule: 1)."""
    await lan.command("checklist")
    await lan.text("92%")
    assert "Tự chấm điểm mục 2.1" in lan.text_out
    await lan.text("0,75")
    assert "lý do" in lan.text_out
    await lan.text("Còn 1 văn bản chưa kiến nghị")
    assert "Đã ghi tự chấm mục 2.1: <b>0,75/1</b>" in lan.text_out
    assert "Mục 2/3 · 2.2" in lan.text_out  # the checklist goes on
    await lan.text("14")
    await lan.press_label("1,5")
    await lan.text("Có 14 tin, bài trên cổng thông tin")
    await lan.press_label("Có")


async def test_self_score_typed_with_decimal_comma_and_by_button_counts_in_total(people, db):
    lan = people["lan"]
    await _answer_and_score(lan)
    assert await _self_scores(db) == {
        "2.1": (0.75, "Còn 1 văn bản chưa kiến nghị"),
        "2.2": (1.5, "Có 14 tin, bài trên cổng thông tin"),
    }
    assert "Điểm tự đánh giá: 3,25/4" in lan.text_out  # 0.75 + 1.5 + 1, not 1
    await lan.press_label("Nộp báo cáo")
    await lan.press_label("Xác nhận")
    assert "Điểm tự đánh giá: 3,25/4" in lan.text_out
    async with db.sessions() as session:
        stored = await session.scalar(
            select(Submission.self_score).where(Submission.status == "submitted")
        )
    assert stored == 3.25
    await lan.command("status")
    assert "Điểm tự đánh giá: 3,25/4" in lan.text_out


async def test_self_score_refuses_out_of_range_wrong_step_and_words_and_keeps_asking(people, db):
    lan = people["lan"]
    await lan.command("checklist")
    await lan.text("80")
    for typed, says in (
        ("1,5", "vượt quá điểm tối đa 1"),
        ("0,3", "theo bước 0,25"),
        ("-0,25", "không được âm"),
        ("nhiều", "cần một số"),
    ):
        await lan.text(typed)
        assert says in lan.text_out, typed
        assert "Tự chấm điểm mục 2.1" in lan.text_out  # asked again
    assert await _self_scores(db) == {}
    await lan.text("0.5")  # a decimal point is fine too
    await lan.text("   ")
    assert "Lý do cần có nội dung" in lan.text_out
    await lan.text("Ổn")
    assert await _self_scores(db) == {"2.1": (0.5, "Ổn")}
    # the card shows the self-score and offers to change it
    await lan.command("checklist")
    await lan.press_label("Mục trước")
    assert "Tự chấm: <b>0,5/1</b> – Ổn" in lan.text_out
    await lan.press_label("Tự chấm điểm")
    await lan.press_label("1")
    await lan.text("Đủ")
    assert await _self_scores(db) == {"2.1": (1.0, "Đủ")}


async def _to_round1(people, db) -> int:
    """Lan submits; the leader accepts, marks 2.2 down to 0,5 and sends round 1."""
    lan, leader = people["lan"], people["leader"]
    await _answer_and_score(lan)
    await lan.press_label("Nộp báo cáo")
    await lan.press_label("Xác nhận")
    a = await _u1(db)
    await leader.press(f"ru:{a}")
    await leader.press(leader.button("ac:").token)
    await leader.press_label("Xác nhận chấp nhận")
    await leader.press(f"ap:{a}:0")
    await leader.press_label("2.2")
    assert "tự đánh giá: 1,5" in leader.text_out
    assert "Tự chấm: <b>1,5/2</b> – Có 14 tin, bài trên cổng thông tin" in leader.text_out
    await leader.text("0,5")
    await leader.text("Chỉ 5 tin, bài có minh chứng")
    assert "Tổng: 2,25/4" in leader.text_out
    await leader.press(f"ap:{a}:0")
    await leader.press_label("Gửi kết quả thẩm định vòng 1")
    assert "1 mục bị trừ điểm" in leader.text_out
    await leader.press_label("Gửi cho đơn vị")
    assert "Đã gửi kết quả vòng 1" in leader.text_out
    # 5 working days after Wednesday 1/9/2021; 2/9 and 3/9 are National Day holidays
    assert "Hạn giải trình: <b>10/09/2021 23:59</b>" in leader.text_out
    return a


async def test_round1_explain_with_evidence_round2_final(people, db, clock):
    lan, leader, member = people["lan"], people["leader"], people["member"]
    a = await _to_round1(people, db)
    [notice] = await _outbox(db, "scores.round1_notice")
    assert notice.params["_marked_down"] == [["2.2", 1.5, 0.5, "Chỉ 5 tin, bài có minh chứng"]]
    assert notice.dedupe_key.startswith("round1:")
    # the unit opens the notice's button, explains 2.2 with a document, sends it
    await lan.press(notice.params["_buttons"][0][0]["token"])
    assert "Kết quả thẩm định – Ủy ban nhân dân Phường 1" in lan.text_out
    assert "tự chấm 1,5 → thẩm định 0,5" in lan.text_out
    await lan.press_label("Giải trình mục 2.2")
    await lan.text("Đã có đủ 14 tin, bài; gửi kèm danh sách")
    assert "Đã ghi giải trình mục 2.2" in lan.text_out
    await lan.file("danh-sach-tin-bai.pdf", PDF)
    assert "danh-sach-tin-bai.pdf" in lan.text_out
    await lan.press_label("Xong")
    assert "(1 tệp)" in lan.text_out
    # round 2 cannot start before the explanations are sent
    await leader.press(f"r2:{a}")
    assert "Đơn vị còn giải trình đến 10/09/2021 23:59" in leader.text_out
    await lan.press_label("Gửi giải trình cho đoàn")
    assert "Đã gửi giải trình 1 mục" in lan.text_out
    [alert] = await _outbox(db, "scores.explained_alert")
    assert alert.params["codes"] == "2.2"
    async with db.sessions() as session:
        assert len(list(await session.scalars(select(ExplanationFile)))) == 1
    # after sending, no more explanations
    assert not any(c.token.startswith("xi:") for c in lan.buttons())
    # a member may not decide round 2 (leaders and admins appraise)
    await member.press(f"r2:{a}")
    assert "Bạn không có quyền" in member.text_out
    await leader.press(f"r2:{a}")
    await leader.press_label("2.2")
    assert "Đã có đủ 14 tin, bài" in leader.text_out and "(1 tệp)" in leader.text_out
    await leader.text("1,3")
    assert "theo bước 0,25" in leader.text_out
    await leader.text("1,25")
    await leader.text("Danh sách bổ sung chứng minh 12 tin, bài")
    assert "Đã ghi vòng 2 mục 2.2: <b>1,25</b>" in leader.text_out
    assert "Đây là kết quả cuối cùng" in leader.text_out
    [final] = await _outbox(db, "scores.final_notice")
    assert final.params["_numbers"] == {"score": 3.0, "max": 4.0}
    async with db.sessions() as session:
        score = await session.scalar(
            select(Submission.appraised_score).where(Submission.assignment_id == a)
        )
    assert score == 3.0
    await lan.command("status")
    assert "Điểm thẩm định: 3/4" in lan.text_out
    await lan.press_label("Xem kết quả thẩm định")
    assert "Đây là kết quả cuối cùng" in lan.text_out
    assert "Vòng 2: <b>1,25</b> Danh sách bổ sung chứng minh 12 tin, bài" in lan.text_out


async def test_explanation_deadline_passed_keeps_round1_and_is_final(people, db, clock):
    lan, leader = people["lan"], people["leader"]
    a = await _to_round1(people, db)
    clock.advance(timedelta(days=10))  # after 10/09/2021 23:59 local
    [notice] = await _outbox(db, "scores.round1_notice")
    await lan.press(notice.params["_buttons"][0][0]["token"])
    assert "Đây là kết quả cuối cùng" in lan.text_out
    assert not any(c.label.startswith("✍️ Giải trình") for c in lan.buttons())
    await leader.press(f"r2:{a}")
    assert "Đây là kết quả cuối cùng" in leader.text_out
    assert "Không có mục nào được giải trình" in leader.text_out
    async with db.sessions() as session:
        score = await session.scalar(
            select(Submission.appraised_score).where(Submission.assignment_id == a)
        )
    assert score == 2.25  # 2.2 keeps round 1's 0.5


async def test_round1_needs_an_accepted_report_and_a_leader(people, db):
    lan, leader, member = people["lan"], people["leader"], people["member"]
    await _answer_and_score(lan)
    await lan.press_label("Nộp báo cáo")
    await lan.press_label("Xác nhận")
    a = await _u1(db)
    await member.press(f"a1c:{a}")
    assert await _outbox(db, "scores.round1_notice") == []
    await leader.press(f"a1c:{a}")
    assert "Cần chấp nhận báo cáo trước" in leader.text_out
    assert await _outbox(db, "scores.round1_notice") == []


async def test_round1_with_nothing_marked_down_is_final_at_once(people, db):
    lan, leader = people["lan"], people["leader"]
    await _answer_and_score(lan)
    await lan.press_label("Nộp báo cáo")
    await lan.press_label("Xác nhận")
    a = await _u1(db)
    await leader.press(f"ru:{a}")
    await leader.press(leader.button("ac:").token)
    await leader.press_label("Xác nhận chấp nhận")
    await leader.press(f"a1c:{a}")
    assert "đây là kết quả cuối cùng" in leader.text_out
    assert await _outbox(db, "scores.round1_notice") == []
    [final] = await _outbox(db, "scores.final_notice")
    assert final.params["_numbers"] == {"score": 3.25, "max": 4.0}
    # round 1 is fixed: appraising an item again is refused
    await leader.press(f"ap:{a}:0")
    await leader.press_label("2.1")
    await leader.text("0")
    await leader.text("Sai")
    assert "không sửa được nữa" in leader.text_out


async def test_reminder_on_the_morning_of_the_last_day_to_explain(people, db, clock):
    from schedules.scheduler import Jobs, run_explanation_reminders

    await _to_round1(people, db)  # explanations due 10/09/2021 23:59 local
    jobs = Jobs(db.sessions, clock)
    clock.advance(timedelta(days=8, hours=23))  # 10/09 07:00 local: not yet
    assert await run_explanation_reminders(jobs) == 0
    clock.advance(timedelta(hours=1, minutes=30))  # 08:30 on the last day
    assert await run_explanation_reminders(jobs) == 1
    assert await run_explanation_reminders(jobs) == 1  # planned again, written once
    [reminder] = await _outbox(db, "scores.explain_reminder")
    assert reminder.params["codes"] == "2.2" and reminder.params["count"] == 1
    clock.advance(timedelta(days=1))  # past the deadline: no reminder, the round closes
    assert await run_explanation_reminders(jobs) == 1
    assert len(await _outbox(db, "scores.explain_reminder")) == 1
    assert len(await _outbox(db, "scores.final_notice")) == 1


async def test_after_the_deadline_the_result_is_made_final_or_passed_to_the_team(people, db, clock):
    from schedules.scheduler import Jobs, run_explanation_reminders

    lan = people["lan"]
    await _to_round1(people, db)
    jobs = Jobs(db.sessions, clock)
    clock.advance(timedelta(days=10))  # past 10/09/2021 23:59 local, nothing explained
    assert await run_explanation_reminders(jobs) == 1
    [final] = await _outbox(db, "scores.final_notice")
    assert final.params["_numbers"] == {"score": 2.25, "max": 4.0}
    assert await run_explanation_reminders(jobs) == 0  # once
    assert await _outbox(db, "scores.explained_alert") == []
    await lan.command("status")
    await lan.press_label("Xem kết quả thẩm định")
    assert "Đây là kết quả cuối cùng" in lan.text_out


async def test_explanations_written_but_not_sent_reach_the_team_at_the_deadline(people, db, clock):
    from schedules.scheduler import Jobs, run_explanation_reminders

    lan = people["lan"]
    await _to_round1(people, db)
    [notice] = await _outbox(db, "scores.round1_notice")
    await lan.press(notice.params["_buttons"][0][0]["token"])
    await lan.press_label("Giải trình mục 2.2")
    await lan.text("Đủ 14 tin, bài")
    clock.advance(timedelta(days=10))
    assert await run_explanation_reminders(Jobs(db.sessions, clock)) == 1
    [alert] = await _outbox(db, "scores.explained_alert")
    assert alert.params["codes"] == "2.2"
    assert await _outbox(db, "scores.final_notice") == []  # round 2 still to decide


async def test_on_a_channel_without_buttons_the_scores_are_numbered(db, clock, tmp_path):
    codes = await import_and_codes(db, clock, hand_campaign())
    zalo = Chat(Dispatcher(make_deps(db, clock, tmp_path)), clock, platform="zalo")
    await zalo.command("start", codes["U1"][0])
    await zalo.command("checklist")
    await zalo.text("92")
    assert "#1. 1\n#2. 0,75\n#3. 0,5\n#4. 0,25\n#5. 0" in zalo.text_out
    await zalo.text("2")  # a plain number is a typed score: 2 is above the maximum
    assert "vượt quá điểm tối đa 1" in zalo.text_out
    await zalo.text("#2")  # the second choice
    await zalo.text("Còn thiếu một văn bản")
    assert await _self_scores(db) == {"2.1": (0.75, "Còn thiếu một văn bản")}
