"""Carry-over to the next year: `follow_up:` names an earlier campaign, whose shortcomings
the unit sees again, and `answer_from: remediation_rate` prefills an item, scored by its
rule (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from bot.cli import cli
from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from storage.db import transaction
from storage.db.models import (
    Assignment,
    Campaign,
    CampaignFollowUp,
    FixStatus,
    Person,
    Shortcoming,
    Submission,
    Unit,
)
from storage.formats.campaign_file import load_campaign_file
from storage.formats.conclusion_docx import NoticeSettings
from storage.services.campaign_import import UnknownFollowUp, import_campaign
from storage.services.checklist import read_checklist
from storage.services.conclusion_notice import issue_conclusion
from storage.services.conclusions import add_shortcoming, assignment_by_codes, conclusion_of
from storage.services.review import item_scores
from tests.chat_harness import Chat, import_and_codes, make_deps
from tests.conftest import EXAMPLE_CAMPAIGN, Db

NOW = datetime(2021, 10, 5, 3, 0, tzinfo=UTC)


def _next_year(tmp_path: Path, *, follow_up: str = "KT2021-D1", source: str = "remediation_rate"):
    text = EXAMPLE_CAMPAIGN.read_text(encoding="utf-8")
    text = text.replace("code: KT2021-D1", f"code: KT2022-D1\nfollow_up: {follow_up}", 1)
    marker = "đã được khắc phục\n        type: percent\n"
    assert marker in text
    text = text.replace(marker, f"{marker}        answer_from: {source}\n", 1)
    path = tmp_path / "kt2022.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_file_takes_both_keys(tmp_path: Path) -> None:
    spec, problems = load_campaign_file(_next_year(tmp_path))
    assert problems == [] and spec is not None
    assert spec.follow_up == "KT2021-D1"
    [item] = [i for i in spec.items() if i.answer_from]
    assert (item.code, item.answer_from) == ("1.5", "remediation_rate")


def test_a_wrong_source_or_type_is_a_problem(tmp_path: Path) -> None:
    _, problems = load_campaign_file(_next_year(tmp_path, source="ti_le"))
    assert [p.code for p in problems] == ["bad_answer_from"]
    text = _next_year(tmp_path).read_text(encoding="utf-8")
    text = text.replace("        answer_from: remediation_rate\n", "", 1)
    yesno = "        type: yesno\n"
    text = text.replace(yesno, f"{yesno}        answer_from: remediation_rate\n", 1)
    path = tmp_path / "yesno.yaml"
    path.write_text(text, encoding="utf-8")
    _, problems = load_campaign_file(path)
    assert [(p.code, p.params["key"]) for p in problems] == [("not_for_type", "answer_from")]


def test_an_unknown_earlier_campaign_is_refused_at_import(backend_url: str, tmp_path: Path):
    env = {"DATABASE_URL": backend_url, "CCHC_LANG": "vi"}
    result = CliRunner().invoke(
        cli, ["campaign", "import", str(_next_year(tmp_path, follow_up="KT2020-D9"))], env=env
    )
    assert result.exit_code == 1
    assert "không có đợt kiểm tra mã KT2020-D9" in result.output
    listed = CliRunner().invoke(cli, ["campaign", "list", "--format", "json"], env=env)
    assert "KT2022-D1" not in listed.output  # nothing written


async def test_it_cannot_follow_itself(db: Db, tmp_path: Path) -> None:
    spec, _ = load_campaign_file(_next_year(tmp_path, follow_up="KT2022-D1"))
    assert spec is not None
    with pytest.raises(UnknownFollowUp):
        async with transaction(db.sessions) as session:
            await import_campaign(session, spec, now=NOW)


async def _earlier_conclusion(db: Db, tmp_path: Path) -> None:
    """KT2021-D1: five shortcomings for Sở Nội vụ, four of them fixed (80%)."""
    spec, _ = load_campaign_file(EXAMPLE_CAMPAIGN)
    assert spec is not None
    async with transaction(db.sessions) as session:
        await import_campaign(session, spec, now=NOW)
        leader = Person(full_name="Trần Minh", created_at=NOW)
        session.add(leader)
        await session.flush()
        campaign_id = int(await session.scalar(select(Campaign.id)) or 0)
        assignment = await assignment_by_codes(session, campaign_id, "SNV")
        assert assignment is not None
        for n in range(1, 6):
            await add_shortcoming(
                session,
                assignment,
                text=f"Tồn tại số {n} năm 2021",
                fix="Khắc phục",
                due_on=date(2021, 10, 20),
                person_id=leader.id,
                now=NOW,
            )
        conclusion = await conclusion_of(session, assignment.id)
        assert conclusion is not None
        await issue_conclusion(
            session,
            assignment,
            conclusion,
            NoticeSettings(),
            tmp_path,
            person_id=leader.id,
            now=NOW,
        )
        await session.execute(
            update(Shortcoming)
            .where(Shortcoming.position <= 4)
            .values(status=FixStatus.FIXED.value)
        )


async def test_the_rate_is_prefilled_and_scored_and_the_old_list_shown(
    db: Db, clock: FrozenClock, tmp_path: Path
) -> None:
    await _earlier_conclusion(db, tmp_path)
    spec, _ = load_campaign_file(_next_year(tmp_path))
    assert spec is not None
    codes = await import_and_codes(db, clock, spec)
    async with db.sessions() as session:
        [link] = list(await session.scalars(select(CampaignFollowUp)))
        assert link.answer_from == {"1.5": "remediation_rate"}
    contact = Chat(Dispatcher(make_deps(db, clock, tmp_path)), clock)
    await contact.command("start", codes["SNV"][0])
    await contact.command("khacphuc")
    assert "Từ đợt trước (Kiểm tra, khảo sát công tác CCHC năm 2021" in contact.text_out
    assert "4/5 tồn tại đã khắc phục" in contact.text_out
    assert "Tồn tại số 5 năm 2021" in contact.text_out and "chưa khắc phục" in contact.text_out
    await contact.command("status")
    assert "Từ đợt trước (Kiểm tra, khảo sát công tác CCHC năm 2021" in contact.text_out
    await contact.command("checklist")
    async with db.sessions() as session:
        campaign_id = int(
            await session.scalar(select(Campaign.id).where(Campaign.code == "KT2022-D1")) or 0
        )
        submission = await session.scalar(
            select(Submission)
            .join(Assignment, Assignment.id == Submission.assignment_id)
            .join(Unit, Unit.id == Assignment.unit_id)
            .where(Assignment.campaign_id == campaign_id, Unit.code == "SNV")
        )
        assert submission is not None
        checklist = await read_checklist(session, campaign_id)
        [item] = [i for i in checklist.items if i.code == "1.5"]
        scores = {s.item_id: s for s in await item_scores(session, submission, checklist)}
    assert scores[item.id].self_score == 0.5  # 80% by its rule {100: 1, 80: 0.5}
    leader = Chat(Dispatcher(make_deps(db, clock, tmp_path)), clock, name="Trưởng đoàn")
    await leader.command("start", codes["team_leader:D1"][0])
    await leader.press(f"kl:{submission.assignment_id}")  # the team sees them too
    assert "Từ đợt trước" in leader.text_out and "4/5 tồn tại" in leader.text_out
    other = Chat(Dispatcher(make_deps(db, clock, tmp_path)), clock)
    await other.command("start", codes["STC"][0])  # no earlier conclusion: nothing shown
    await other.command("khacphuc")
    assert "Từ đợt trước" not in other.text_out
