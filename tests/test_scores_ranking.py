"""The ranking by appraised score: ties share a rank and are shown, unfinished appraisals are
provisional, units without an appraised score come last; in the export (opened back with
openpyxl), in /summary and within a team's scope."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from storage.db import transaction
from storage.db.models import AppraisalRound, Assignment, Person, Submission, Team, Unit
from storage.formats.campaign_spec import TeamSpec
from storage.formats.export_xlsx import export_workbook
from storage.services.ranking import campaign_ranking
from tests import factories
from tests.chat_harness import CATALOG, Chat, import_and_codes, make_deps
from tests.conftest import Db

MAX = 5.5  # the factory checklist's maximum


def _campaign():
    """U1, U2, U3 in team D1; U4 in team D2."""
    spec = factories.campaign(units=4)
    teams = (*spec.teams, TeamSpec("D2", "Đoàn kiểm tra số 2", leaders=1))
    return replace(spec, teams=teams, units=(*spec.units[:3], replace(spec.units[3], team="D2")))


async def _appraised(db: Db, clock: FrozenClock, scores: dict[str, float | None]) -> None:
    """Give units an appraised score; U1's round 1 is sent and final, the others' not."""
    async with transaction(db.sessions) as session:
        person = int(await session.scalar(select(Person.id).limit(1)) or 0)
        for code, score in scores.items():
            submission = (
                await session.scalars(
                    select(Submission).join(Assignment).join(Unit).where(Unit.code == code)
                )
            ).one()
            submission.appraised_score = score
            if code == "U1":
                session.add(
                    AppraisalRound(
                        submission_id=submission.id,
                        round1_sent_at=clock.now(),
                        round1_sent_by=person,
                        explain_until=clock.now() + timedelta(days=7),
                        final_at=clock.now(),
                    )
                )


@pytest.fixture
async def world(db: Db, clock: FrozenClock, tmp_path: Path):
    codes = await import_and_codes(db, clock, _campaign())
    # a person for round1_sent_by: the leader joins
    deps = make_deps(db, clock, tmp_path)
    leader = Chat(Dispatcher(deps), clock)
    admin = Chat(Dispatcher(deps), clock)
    deps.admin_ids = {"telegram": frozenset({admin.user_id})}
    await leader.command("start", codes["team_leader:D1"][0])
    await admin.command("start")
    # U1 and U2 tie at 4.5 (81.82%), U3 has 5 (90.91%), U4 (team D2) 2.75 (50%)
    await _appraised(db, clock, {"U1": 4.5, "U2": 4.5, "U3": 5.0, "U4": 2.75})
    async with db.sessions() as session:
        campaign_id = int(await session.scalar(select(Assignment.campaign_id).limit(1)) or 0)
    return {"leader": leader, "admin": admin, "campaign": campaign_id}


async def test_ranking_shares_ranks_on_ties_and_keeps_scope(db, world, clock):
    async with db.sessions() as session:
        d1_id = int(await session.scalar(select(Team.id).where(Team.code == "D1")) or 0)
        ranked = await campaign_ranking(session, world["campaign"], MAX, clock.now())
        d1 = await campaign_ranking(session, world["campaign"], MAX, clock.now(), [d1_id])
    assert [(r.unit_code, r.rank, r.tied, r.percent, r.final) for r in ranked] == [
        ("U3", 1, False, 90.91, False),
        ("U1", 2, True, 81.82, True),
        ("U2", 2, True, 81.82, False),
        ("U4", 4, False, 50.0, False),
    ]
    assert [r.unit_code for r in d1] == ["U3", "U1", "U2"]  # team D1 sees only its units


async def test_export_has_a_ranking_sheet_with_numbers_and_formats(db, world, clock, tmp_path):
    path = tmp_path / "xep-hang.xlsx"
    async with db.sessions() as session:
        await export_workbook(
            session,
            world["campaign"],
            path,
            tr=CATALOG.for_locale("vi"),
            now=clock.now(),
        )
    ws = load_workbook(path)["Xếp hạng"]
    rows = [list(r) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert [r[:3] + r[5:] for r in rows] == [
        [1, None, "U3", 5.0, 5.5, 0.9091, None],
        [2, "đồng hạng", "U1", 4.5, 5.5, 0.8182, "chính thức"],
        [2, "đồng hạng", "U2", 4.5, 5.5, 0.8182, None],
        [4, None, "U4", 2.75, 5.5, 0.5, None],
    ]
    assert ws["A1"].value == "Hạng" and ws["H1"].value == "Tỷ lệ (% tối đa)"
    assert ws["H2"].number_format == "0.00%" and ws["F2"].number_format == "0.00"
    assert isinstance(ws["H2"].value, float) and isinstance(ws["A2"].value, int)
    summary = load_workbook(path)["Tổng hợp"]
    assert summary["J2"].value == 4.5 and summary["J2"].number_format == "0.00"


async def test_summary_shows_the_ranking_with_ties_and_decimal_comma(db, world):
    leader, admin = world["leader"], world["admin"]
    await leader.command("summary")
    text = leader.text_out
    assert "Xếp hạng theo điểm thẩm định" in text
    assert "1. Ủy ban nhân dân Phường 3 – <b>90,91%</b> (5/5,5) · tạm tính" in text
    assert "2. Ủy ban nhân dân Phường 1 – <b>81,82%</b> (4,5/5,5) · đồng hạng" in text
    assert "2. Ủy ban nhân dân Phường 2 – <b>81,82%</b> (4,5/5,5) · đồng hạng · tạm tính" in text
    assert "Phường 4" not in text  # another team's unit
    await admin.command("summary")
    assert "4. Ủy ban nhân dân Phường 4 – <b>50%</b> (2,75/5,5)" in admin.text_out
