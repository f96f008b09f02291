"""The demo's units past submission: four of the submitted units taken further, through the
services the chat uses, so a visitor sees each stage of the campaign's end (issue 18).

  remediating  BDTP   final appraisal, conclusion issued 27/09 (2 shortcomings); the unit
                      reported one fix with a PDF on 28/09 (waiting for the team), one open
  concluded    SDL    final appraisal, conclusion issued 28/09 (3 shortcomings, all open)
  appraised    STTTT  round 1 marked two items down, the unit explained one, round 2 final
  explaining   STP    round 1 marked two items down on 28/09; the unit has explained one and
                      may still explain until 05/10 (not sent yet)

The steps run in time order with the clock set to each one; `after_step` delivers what it
queued (the leader's alerts, the unit's notices) at that moment, as for the submissions.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.demo_seed import TZ, WEB, DemoCampaign, sample_pdf
from storage.db import transaction
from storage.db.models import Assignment, ChatAccount, Submission, Unit
from storage.formats.conclusion_docx import NoticeSettings
from storage.services.appraisal_rounds import (
    decide_item,
    explain_item,
    send_explanations,
    send_round1,
    unit_appraisal,
)
from storage.services.checklist import Checklist, read_checklist
from storage.services.conclusion_notice import issue_conclusion
from storage.services.conclusions import (
    add_shortcoming,
    conclusion_of,
    default_due,
    set_strengths,
)
from storage.services.evidence import EvidenceStore
from storage.services.remediation import add_file, mark_done, save_report, task_by_id, tasks_of
from storage.services.review import accept_report, appraise_item, item_scores
from storage.services.submissions import submission_for

REMEDIATING, CONCLUDED, APPRAISED, EXPLAINING = "BDTP", "SDL", "STTTT", "STP"

# Items the team marks down when the unit scored them, in this order, with its reason.
MARKS = (
    ("3.1", "Chưa công khai đầy đủ thủ tục hành chính trên Cổng dịch vụ công của Thành phố."),
    ("1.3", "Còn 2 nhiệm vụ trong kế hoạch CCHC chưa hoàn thành, chưa có báo cáo lý do."),
    ("3.4", "Tỷ lệ số hóa báo cáo chưa khớp số liệu trên Hệ thống thông tin giải quyết TTHC."),
    ("1.7", "Chỉ có tài liệu kiểm chứng cho một phần các hình thức tuyên truyền đã kê khai."),
    ("3.2", "Số hồ sơ trễ hạn trên hệ thống cao hơn số liệu trong báo cáo."),
)
MARKED_PER_UNIT = 2
EVIDENCE_NOTE = " Kèm theo tài liệu kiểm chứng; đề nghị Đoàn xem xét lại điểm."
EXPLANATIONS = {  # the unit's explanation (giải trình) of an item marked down
    "3.1": "Đơn vị đã công khai đầy đủ trên Cổng dịch vụ công từ ngày 15/9/2021.",
    "1.3": "Hai nhiệm vụ còn lại đã hoàn thành trong tháng 9, có báo cáo kết quả kèm theo.",
    "3.4": "Số liệu báo cáo tính cả hồ sơ số hóa tại Bộ phận một cửa chưa đồng bộ lên hệ thống.",
    "1.7": "Đơn vị bổ sung ảnh chụp, đường dẫn bài viết của các hình thức tuyên truyền còn lại.",
    "3.2": "Một số hồ sơ trễ hạn do lỗi đồng bộ của hệ thống, đã có xác nhận của đơn vị vận hành.",
}
ROUND2_REASON = "Chấp nhận một phần giải trình: việc công khai được bổ sung sau kỳ đánh giá."
STRENGTHS = (
    "Đơn vị quan tâm chỉ đạo công tác cải cách hành chính; ban hành kế hoạch CCHC năm 2021 "
    "kịp thời; tỷ lệ hồ sơ thủ tục hành chính giải quyết đúng hạn cao; bộ phận một cửa bố "
    "trí khoa học, cán bộ tiếp nhận hồ sơ tận tình, đúng quy định."
)
SHORTCOMINGS = (
    (
        "Chưa công khai đầy đủ thủ tục hành chính trên Cổng dịch vụ công.",
        "Rà soát, công khai đầy đủ, đúng hạn các thủ tục hành chính thuộc thẩm quyền giải "
        "quyết trên Cổng dịch vụ công và tại Bộ phận một cửa.",
    ),
    (
        "Một số hồ sơ trễ hạn chưa có văn bản xin lỗi người dân, doanh nghiệp.",
        "Thực hiện văn bản xin lỗi đối với 100% hồ sơ trễ hạn; báo cáo kết quả về Đoàn.",
    ),
    (
        "Tỷ lệ số hóa hồ sơ, kết quả giải quyết thủ tục hành chính còn thấp.",
        "Xây dựng lộ trình số hóa, bảo đảm đạt tối thiểu 80% hồ sơ trong quý IV/2021.",
    ),
)
FIX_REPORT = (
    "Đã rà soát và công khai bổ sung 12 thủ tục hành chính trên Cổng dịch vụ công và tại Bộ "
    "phận một cửa (Quyết định số 215/QĐ-BĐTP ngày 27/9/2021)."
)
FIX_FILE = "bdtp-khac-phuc-cong-khai-tthc.pdf"


def _at(day: int, hour: int, minute: int) -> datetime:
    return datetime(2021, 9, day, hour, minute, tzinfo=TZ)


Step = Callable[[], Awaitable[None]]


@dataclass
class _Unit:
    """One unit's rows inside the step's transaction, and who acts."""

    session: AsyncSession
    checklist: Checklist
    assignment: Assignment
    submission: Submission
    contact_id: int  # the unit's seeded contact
    leader_id: int
    now: datetime


async def seed_stages(
    sessions: async_sessionmaker[AsyncSession],
    evidence: EvidenceStore,
    demo: DemoCampaign,
    notice: NoticeSettings,
    *,
    leader_id: int,
    set_clock: Callable[[datetime], None],
    after_step: Step,
) -> None:
    """Run TIMELINE, one transaction per step (as one chat event each), the leader acting
    for the team and each unit's seeded contact for the unit."""
    stepper = _Stepper(evidence, notice)
    for at, unit, step in TIMELINE:
        set_clock(at)
        async with transaction(sessions) as session:
            await step(stepper, await _unit(session, demo, unit, leader_id, at))
        await after_step()


async def _unit(
    session: AsyncSession, demo: DemoCampaign, code: str, leader_id: int, now: datetime
) -> _Unit:
    assignment = await session.scalar(
        select(Assignment)
        .join(Unit)
        .where(Assignment.campaign_id == demo.campaign_id, Unit.code == code)
    )
    assert assignment is not None, code
    contact_id = await session.scalar(
        select(ChatAccount.person_id).where(
            ChatAccount.platform == WEB, ChatAccount.user_id == f"seed-{code}-1"
        )
    )
    assert contact_id is not None, f"{code} has no seeded contact"
    return _Unit(
        session,
        await read_checklist(session, demo.campaign_id),
        assignment,
        await submission_for(session, assignment.id),
        contact_id,
        leader_id,
        now,
    )


@dataclass
class _Stepper:
    evidence: EvidenceStore
    notice: NoticeSettings

    async def accept(self, u: _Unit) -> None:
        await accept_report(u.session, u.submission, u.checklist, person_id=u.leader_id, now=u.now)

    async def round1(self, u: _Unit) -> None:
        """Mark down the first items of MARKS the unit scored, to half (in whole steps)."""
        step = u.checklist.scoring.score_step
        own = {
            s.item_id: s.self_score for s in await item_scores(u.session, u.submission, u.checklist)
        }
        by_code = {item.code: item for item in u.checklist.items}
        marked = [(by_code[c], why) for c, why in MARKS if own.get(by_code[c].id, 0) > 0]
        for item, reason in marked[:MARKED_PER_UNIT]:
            value = math.floor(own[item.id] / 2 / step) * step
            await appraise_item(
                u.session,
                u.submission,
                u.checklist,
                item.id,
                value,
                reason,
                person_id=u.leader_id,
                now=u.now,
            )
        view = await send_round1(
            u.session, u.submission, u.checklist, person_id=u.leader_id, now=u.now
        )
        assert view.marked_down, u.assignment.unit.code

    async def explain(self, u: _Unit) -> None:
        """The unit explains the first item marked down (and has not sent it yet)."""
        view = await unit_appraisal(u.session, u.submission, u.checklist, u.now)
        item = view.marked_down[0].item
        await explain_item(
            u.session,
            u.submission,
            view,
            item.id,
            EXPLANATIONS[item.code] + EVIDENCE_NOTE,
            person_id=u.contact_id,
            now=u.now,
        )

    async def explain_and_send(self, u: _Unit) -> None:
        await self.explain(u)
        view = await unit_appraisal(u.session, u.submission, u.checklist, u.now)
        await send_explanations(u.session, u.submission, view, person_id=u.contact_id, now=u.now)

    async def decide(self, u: _Unit) -> None:
        """Round 2: each explained item gets one step back (its points at most)."""
        view = await unit_appraisal(u.session, u.submission, u.checklist, u.now)
        step = u.checklist.scoring.score_step
        for disputed in view.disputed:
            value = min(disputed.item.points, disputed.score + step)
            view = await decide_item(
                u.session,
                u.submission,
                u.checklist,
                disputed.item.id,
                value,
                ROUND2_REASON,
                person_id=u.leader_id,
                now=u.now,
            )
        assert view.final, u.assignment.unit.code

    async def conclude_two(self, u: _Unit) -> None:
        await self._conclude(u, 2)

    async def conclude_three(self, u: _Unit) -> None:
        await self._conclude(u, 3)

    async def _conclude(self, u: _Unit, count: int) -> None:
        """Strengths, `count` shortcomings due 15 days later, issued with its document."""
        a, by = u.assignment, u.leader_id
        await set_strengths(u.session, a, STRENGTHS, person_id=by, now=u.now)
        due = default_due(u.now, a.campaign.timezone)
        for text, fix in SHORTCOMINGS[:count]:
            await add_shortcoming(
                u.session, a, text=text, fix=fix, due_on=due, person_id=by, now=u.now
            )
        conclusion = await conclusion_of(u.session, a.id)
        assert conclusion is not None
        await issue_conclusion(
            u.session, a, conclusion, self.notice, self.evidence.root, person_id=by, now=u.now
        )

    async def report_fix(self, u: _Unit) -> None:
        """The unit reports its first fix with a PDF and marks it done; the rest stay open."""
        first = (await tasks_of(u.session, u.assignment.id))[0]
        await save_report(u.session, first, FIX_REPORT, person_id=u.contact_id, now=u.now)
        temp = self.evidence.incoming_path()
        temp.write_bytes(sample_pdf("BDTP - khac phuc ton tai 1 - cong khai TTHC"))
        stored = self.evidence.keep(
            temp,
            folder=(u.assignment.campaign.code, u.assignment.unit.code, "khac-phuc", "1"),
            file_name=FIX_FILE,
        )
        await add_file(
            u.session,
            first,
            stored,
            mime_type="application/pdf",
            person_id=u.contact_id,
            now=u.now,
        )
        task = await task_by_id(u.session, first.id)
        assert task is not None
        await mark_done(u.session, task, person_id=u.contact_id, now=u.now)


# (moment, unit, step): in time order; every unit was submitted before its first step.
TIMELINE: tuple[tuple[datetime, str, Callable[[_Stepper, _Unit], Awaitable[None]]], ...] = (
    (_at(23, 9, 30), REMEDIATING, _Stepper.accept),
    (_at(23, 10, 0), REMEDIATING, _Stepper.round1),
    (_at(24, 9, 15), CONCLUDED, _Stepper.accept),
    (_at(24, 9, 45), CONCLUDED, _Stepper.round1),
    (_at(24, 10, 30), REMEDIATING, _Stepper.explain_and_send),
    (_at(24, 15, 30), REMEDIATING, _Stepper.decide),
    (_at(27, 9, 0), APPRAISED, _Stepper.accept),
    (_at(27, 9, 30), APPRAISED, _Stepper.round1),
    (_at(27, 10, 0), REMEDIATING, _Stepper.conclude_two),
    (_at(27, 14, 0), CONCLUDED, _Stepper.explain_and_send),
    (_at(27, 14, 30), EXPLAINING, _Stepper.accept),
    (_at(28, 8, 45), APPRAISED, _Stepper.explain_and_send),
    (_at(28, 9, 30), CONCLUDED, _Stepper.decide),
    (_at(28, 10, 0), EXPLAINING, _Stepper.round1),
    (_at(28, 14, 30), CONCLUDED, _Stepper.conclude_three),
    (_at(28, 15, 0), REMEDIATING, _Stepper.report_fix),
    (_at(28, 16, 0), APPRAISED, _Stepper.decide),
    (_at(28, 16, 30), EXPLAINING, _Stepper.explain),
)
