"""The demo's four units past submission (bot/demo_stages.py): each in its stage in the
database, and the demo's team leader sees the stages in /summary and in the chat."""

from __future__ import annotations

import json
from pathlib import Path

from docx import Document
from sqlalchemy import select

from bot.demo import DemoOptions, demo_settings, running_demo
from bot.demo_seed import TZ
from bot.demo_stages import APPRAISED, CONCLUDED, EXPLAINING, REMEDIATING, TIMELINE
from bot.settings import Settings
from common.localtime import fmt_date
from storage.db.models import (
    Assignment,
    FixStatus,
    OutboxMessage,
    OutboxStatus,
    Submission,
    SubmissionStatus,
    Unit,
)
from storage.services.appraisal_rounds import unit_appraisal
from storage.services.checklist import read_checklist
from storage.services.conclusions import conclusion_of
from storage.services.remediation import files_of, tasks_of

STAGE_TEMPLATES = (
    "review.accepted_notice",
    "scores.round1_notice",
    "scores.final_notice",
    "scores.explained_alert",
    "conclusion.issued_notice",
    "remediation.reported_notice",
)


def test_the_timeline_runs_forward() -> None:
    moments = [at for at, _, _ in TIMELINE]
    assert moments == sorted(moments)


async def test_the_demo_seeds_one_unit_in_each_stage(tmp_path: Path) -> None:
    settings = demo_settings(Settings(_env_file=None), tmp_path / "demo")
    async with running_demo(settings, DemoOptions(port=0)) as demo:
        now = demo.clock.now()
        async with demo.app.sessions() as session:
            checklist = await read_checklist(session, demo.campaign.campaign_id)
            rows = {
                code: (assignment, submission)
                for code, assignment, submission in (
                    await session.execute(
                        select(Unit.code, Assignment, Submission)
                        .join(Assignment, Assignment.unit_id == Unit.id)
                        .join(Submission, Submission.assignment_id == Assignment.id)
                        .where(Assignment.campaign_id == demo.campaign.campaign_id)
                    )
                ).all()
            }
            views = {
                code: await unit_appraisal(session, rows[code][1], checklist, now)
                for code in (APPRAISED, EXPLAINING, CONCLUDED, REMEDIATING)
            }
            for code in (APPRAISED, CONCLUDED, REMEDIATING):
                view = views[code]
                assert rows[code][1].status == SubmissionStatus.ACCEPTED
                assert view.final and view.round is not None and view.round.final_at
                assert view.marked_down and len(view.explained) == 1
                assert rows[code][1].appraised_score == view.score
            for at, code, _ in TIMELINE:  # each step after the unit's own submission
                submitted_at = rows[code][1].submitted_at
                assert submitted_at is not None and submitted_at < at, code
            explaining = views[EXPLAINING]
            assert explaining.round is not None and explaining.round.final_at is None
            assert not explaining.closed and explaining.round.explain_until > now
            assert fmt_date(explaining.round.explain_until.astimezone(TZ).date()) == "05/10/2021"
            assert len(explaining.marked_down) == 2 and len(explaining.explained) == 1
            assert explaining.round.explanations_sent_at is None

            for code in (APPRAISED, EXPLAINING):
                assert await conclusion_of(session, rows[code][0].id) is None
            concluded = await conclusion_of(session, rows[CONCLUDED][0].id)
            assert concluded is not None and concluded.issued_at is not None
            assert concluded.strengths and len(concluded.shortcomings) == 3
            for s in concluded.shortcomings:
                assert (s.due_on - concluded.issued_at.date()).days >= 15
                assert s.status == FixStatus.OPEN
            document = Document(str(concluded.document_path))
            text = "\n".join(p.text for p in document.paragraphs) + "\n".join(
                cell.text for table in document.tables for row in table.rows for cell in row.cells
            )
            assert "Cổng dịch vụ công" in text and "Sở Du lịch" in text

            tasks = await tasks_of(session, rows[REMEDIATING][0].id)
            assert [t.status for t in tasks] == [FixStatus.REPORTED, FixStatus.OPEN]
            assert tasks[0].report
            (kept,) = await files_of(session, tasks[0].id)
            stored = settings.evidence_dir / kept.storage_path
            assert stored.read_bytes().startswith(b"%PDF-")
            # Every notice of the stages went out at its moment (the round-1 summaries, the
            # final results, the conclusion documents, the leader's alerts).
            statuses = set(
                (
                    await session.execute(
                        select(OutboxMessage.template, OutboxMessage.status).where(
                            OutboxMessage.template.in_(STAGE_TEMPLATES)
                        )
                    )
                ).all()
            )
            assert statuses == {(t, OutboxStatus.SENT) for t in STAGE_TEMPLATES}
            # The other submitted units still wait for the team.
            for code in ("STC", "TTTP", "VPUB", "SKHCN"):
                assert rows[code][1].status == SubmissionStatus.SUBMITTED

        leader = "demo-leader"
        before = len(demo.channel.history(leader))
        said = json.dumps([m.as_json() for m in demo.channel.history(leader)], ensure_ascii=False)
        # What the units did reached the leader's chat at its moment.
        assert "<b>Bưu điện Thành phố</b> báo cáo đã khắc phục tồn tại 1" in said
        for name in ("Bưu điện Thành phố", "Sở Du lịch", "Sở Thông tin và Truyền thông"):
            assert f"<b>{name}</b> đã gửi giải trình 1 mục" in said
        assert "<b>Sở Tư pháp</b> đã gửi giải trình" not in said  # still explaining
        await demo.server.inject(leader, "/summary")
        summary = "\n".join(
            json.dumps(m.as_json(), ensure_ascii=False)
            for m in demo.channel.history(leader)[before:]
        )
        assert "Sở Du lịch: 0/3 tồn tại đã khắc phục" in summary
        assert "Bưu điện Thành phố: 0/2 tồn tại đã khắc phục" in summary
        ranking = {
            line.split("–")[0].split(". ", 1)[-1].strip(): line
            for line in summary.replace("\\n", "\n").splitlines()
            if "%</b>" in line
        }
        assert "tạm tính" in ranking["Sở Tư pháp"], ranking
        for name in ("Sở Thông tin và Truyền thông", "Sở Du lịch", "Bưu điện Thành phố"):
            assert "tạm tính" not in ranking[name], ranking
