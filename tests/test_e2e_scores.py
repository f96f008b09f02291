"""End to end through the real aiogram adapter and a fake Bot API: a unit scores items by
hand, the leader marks one down in round 1, the unit explains it with a document, the
leader re-appraises it in round 2, and the unit gets the final result. SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select

from bot.settings import Settings
from common.clock import FrozenClock
from storage.db.models import Explanation, SelfScore, Submission
from tests.chat_harness import import_and_codes
from tests.conftest import Db
from tests.fake_telegram import FakeTelegram
from tests.test_e2e_telegram import PDF, Person, fake, running_bot
from tests.test_handlers_scores import hand_campaign

__all__ = ["fake"]  # the fixture, used by name


async def test_scored_by_hand_marked_down_explained_reappraised_final(
    db: Db, clock: FrozenClock, fake: FakeTelegram, tmp_path: Path
) -> None:
    codes = await import_and_codes(db, clock, hand_campaign())
    settings = Settings(
        bot_token=SecretStr(fake.token),
        telegram_api_url=fake.base_url,
        database_url=db.url,
        evidence_dir=tmp_path / "evidence",
        _env_file=None,
    )
    lan = Person(fake, fake.user(511, first_name="Lan", last_name="Nguyễn"))
    leader = Person(fake, fake.user(911, first_name="Trưởng", last_name="Đoàn"))

    async with running_bot(settings, clock):
        await fake.wait_polling()
        await leader.command("start", codes["team_leader:D1"][0], "Trưởng đoàn")
        await lan.command("start", codes["U1"][0], "Ủy ban nhân dân Phường 1")
        # the unit answers and scores the two items scored by hand
        await lan.press("Bắt đầu", "Mục 1/3")
        await lan.text("92", "Tự chấm điểm mục 2.1")
        await lan.text("1,25", "vượt quá điểm tối đa 1")
        await lan.text("0,75", "lý do")
        await lan.text("Còn 1 văn bản <chưa> rà soát", "Mục 2/3")
        await lan.text("14", "Tự chấm điểm mục 2.2")
        await lan.press("1,5", "lý do")
        await lan.text("14 tin, bài trên cổng thông tin", "Mục 3/3")
        await lan.press("Có", "Điểm tự đánh giá: 3,25/4")
        await lan.press("Nộp báo cáo", "Nộp báo cáo của")
        await lan.press("Xác nhận", "Đã nộp báo cáo")
        # the leader accepts, marks 2.2 down and sends round 1
        await leader.expect("đã nộp báo cáo", 0)
        await leader.press("Xem đơn vị", "Ủy ban nhân dân Phường 1")
        await leader.press("Chấp nhận báo cáo", "Chấp nhận")
        await leader.press("Xác nhận chấp nhận", "Đã chấp nhận")
        await leader.press("Thẩm định điểm", "Thẩm định điểm")
        await leader.press("2.2", "tự đánh giá: 1,5")
        await leader.text("0,5", "Nhập lý do")
        await leader.text("Chỉ 5 tin, bài có minh chứng", "Tổng: 2,25/4")
        await leader.press("Thẩm định điểm", "Tổng hiện tại: 2,25/4")
        await leader.press("Gửi kết quả thẩm định vòng 1", "1 mục bị trừ điểm")
        await leader.press("Gửi cho đơn vị", "Đã gửi kết quả vòng 1")
        # the unit gets the summary of what was marked down and explains it
        notice = await lan.expect("Kết quả thẩm định vòng 1", 0)
        assert "<b>2.2</b>: 1,5 → 0,5 – Chỉ 5 tin, bài có minh chứng" in notice.text
        await lan.press("Giải trình", "Kết quả thẩm định – Ủy ban nhân dân Phường 1")
        await lan.press("Giải trình mục 2.2", "Gửi nội dung giải trình")
        await lan.text("Đủ 14 tin, bài; danh sách kèm theo", "Đã ghi giải trình mục 2.2")
        await lan.document(PDF, "danh-sach-tin-bai.pdf", "kèm giải trình mục 2.2")
        await lan.press("Xong", "(1 tệp)")
        await lan.press("Gửi giải trình cho đoàn", "Đã gửi giải trình 1 mục")
        # round 2: the leader raises 2.2 to 1,25; the result is final
        await leader.expect("đã gửi giải trình 1 mục", 0)
        await leader.press("Thẩm định vòng 2", "Thẩm định vòng 2")
        await leader.press("2.2", "Đủ 14 tin, bài")
        await leader.text("1,25", "lý do thay đổi")
        await leader.text("Danh sách chứng minh 12 tin, bài", "Đây là kết quả cuối cùng")
        final = await lan.expect("Kết quả thẩm định cuối cùng", 0)
        assert "3/4" in final.text

    async with db.sessions() as session:
        assert sorted(await session.scalars(select(SelfScore.score))) == [0.75, 1.5]
        [explanation] = list(await session.scalars(select(Explanation)))
        assert explanation.round2_score == 1.25
        assert (
            await session.scalar(
                select(Submission.appraised_score).where(Submission.status == "accepted")
            )
            == 3.0
        )
