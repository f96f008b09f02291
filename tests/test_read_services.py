"""The reads the team's chat screens call (campaigns in scope, teams, a unit's answers and
files, names, flags, questions, notices by id), on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select, update

from common.clock import FrozenClock
from storage.db import transaction
from storage.db.models import (
    Answer,
    Assignment,
    Campaign,
    EvidenceFile,
    Item,
    Notice,
    Person,
    Question,
    ReviewFlag,
    Submission,
    Team,
    Unit,
)
from storage.formats.campaign_spec import TeamSpec
from storage.services.answers_read import (
    answers_by_item,
    evidence_counts,
    evidence_file,
    evidence_files,
    submission_assignment_id,
)
from storage.services.assignments import assignment_by_id
from storage.services.campaign_import import import_campaign
from storage.services.campaigns import campaign_by_id, open_campaigns
from storage.services.notices import notice_by_id
from storage.services.person_names import full_names
from storage.services.questions import question_by_id
from storage.services.review import unresolved_flags
from storage.services.teams import campaign_teams, team_id_by_code
from tests import factories
from tests.conftest import Db


@dataclass
class World:
    campaigns: dict[str, int]  # code -> id
    teams: dict[str, int]  # "<campaign>/<team>" -> id
    assignment_id: int  # U1 of KT-A
    submission_id: int
    items: list[int]  # KT-A's item ids in checklist order
    people: dict[str, int]  # name -> id


async def make_world(db: Db, clock: FrozenClock) -> World:
    """KT-A (teams D1, D2), then KT-B (team D1) an hour later, then KT-C, closed."""
    first = factories.campaign("KT-A", units=2)
    specs = [
        replace(first, teams=(*first.teams, TeamSpec("D2", "Đoàn kiểm tra số 2"))),
        factories.campaign("KT-B", units=1),
        factories.campaign("KT-C", units=1),
    ]
    for spec in specs:
        async with transaction(db.sessions) as session:
            await import_campaign(session, spec, now=clock.now())
        clock.advance(timedelta(hours=1))
    async with transaction(db.sessions) as session:
        await session.execute(
            update(Campaign).where(Campaign.code == "KT-C").values(closed_at=clock.now())
        )
        campaigns = dict((await session.execute(select(Campaign.code, Campaign.id))).all())
        teams = {
            f"{code}/{team}": tid
            for code, team, tid in (
                await session.execute(select(Campaign.code, Team.code, Team.id).join(Team))
            )
        }
        assignment_id, submission_id = (
            await session.execute(
                select(Assignment.id, Submission.id)
                .join(Unit)
                .join(Submission)
                .where(Unit.code == "U1", Assignment.campaign_id == campaigns["KT-A"])
            )
        ).one()
        items = list(
            await session.scalars(
                select(Item.id).where(Item.campaign_id == campaigns["KT-A"]).order_by(Item.position)
            )
        )
        lan, minh = (
            Person(full_name="Lan", created_at=clock.now()),
            Person(full_name="Minh", created_at=clock.now()),
        )
        session.add_all([lan, minh])
        await session.flush()
        people = {"Lan": lan.id, "Minh": minh.id}
    return World(campaigns, teams, assignment_id, submission_id, items, people)


async def test_open_campaigns_oldest_first_and_by_team(db: Db, clock: FrozenClock) -> None:
    world = await make_world(db, clock)
    async with db.sessions() as session:
        assert [c.code for c in await open_campaigns(session)] == ["KT-A", "KT-B"]
        of_b = await open_campaigns(session, of_teams={world.teams["KT-B/D1"]})
        assert [c.code for c in of_b] == ["KT-B"]
        both = {world.teams["KT-A/D2"], world.teams["KT-B/D1"], world.teams["KT-C/D1"]}
        assert [c.code for c in await open_campaigns(session, of_teams=both)] == [
            "KT-A",
            "KT-B",
        ]  # KT-C is closed
        assert await open_campaigns(session, of_teams=()) == []
        found = await campaign_by_id(session, world.campaigns["KT-B"])
        assert found is not None and found.code == "KT-B"
        assert await campaign_by_id(session, 0) is None


async def test_teams_by_code_and_a_team_found_by_its_exact_code(db: Db, clock: FrozenClock) -> None:
    world = await make_world(db, clock)
    a = world.campaigns["KT-A"]
    async with db.sessions() as session:
        assert [t.code for t in await campaign_teams(session, a)] == ["D1", "D2"]
        assert await team_id_by_code(session, a, "D2") == world.teams["KT-A/D2"]
        assert await team_id_by_code(session, a, "d2") is None  # as the campaign spells it
        assert await team_id_by_code(session, world.campaigns["KT-B"], "D2") is None


async def test_an_assignment_comes_with_its_unit_and_campaign(db: Db, clock: FrozenClock) -> None:
    world = await make_world(db, clock)
    async with db.sessions() as session:
        assignment = await assignment_by_id(session, world.assignment_id)
        assert assignment is not None
        assert (assignment.unit.code, assignment.campaign.code) == ("U1", "KT-A")
        assert await assignment_by_id(session, 0) is None
        assert await submission_assignment_id(session, world.submission_id) == world.assignment_id
        assert await submission_assignment_id(session, 0) is None


def _file(
    world: World, item: int, name: str, *, now: datetime, removed: bool = False
) -> EvidenceFile:
    return EvidenceFile(
        submission_id=world.submission_id,
        item_id=item,
        file_name=name,
        size=1,
        mime_type="application/pdf",
        sha256=name * 8,
        storage_path=name,
        uploaded_by=world.people["Lan"],
        uploaded_at=now,
        removed_at=now if removed else None,
    )


async def test_a_reports_answers_and_files(db: Db, clock: FrozenClock) -> None:
    world = await make_world(db, clock)
    first, second, third = world.items[:3]
    now = clock.now()
    async with transaction(db.sessions) as session:
        session.add_all(
            [
                Answer(
                    submission_id=world.submission_id,
                    item_id=first,
                    value="2020-12-01",
                    answered_by=world.people["Lan"],
                    answered_at=now,
                ),
                Answer(
                    submission_id=world.submission_id,
                    item_id=second,
                    value=True,
                    answered_by=world.people["Minh"],
                    answered_at=now,
                ),
                _file(world, second, "b1", now=now),
                _file(world, first, "a1", now=now),
                _file(world, first, "a2", now=now),
                _file(world, first, "gone", now=now, removed=True),
            ]
        )
    async with db.sessions() as session:
        answers = await answers_by_item(session, world.submission_id)
        assert {k: (a.value, a.answered_by) for k, a in answers.items()} == {
            first: ("2020-12-01", world.people["Lan"]),
            second: (True, world.people["Minh"]),
        }
        files = await evidence_files(session, world.submission_id)
        assert [f.file_name for f in files] == ["a1", "a2", "b1"]  # by item, then received
        assert await evidence_counts(session, world.submission_id) == {first: 2, second: 1}
        assert third not in await evidence_counts(session, world.submission_id)
        one = await evidence_file(session, files[2].id)
        assert one is not None and one.file_name == "b1"
        assert await evidence_file(session, 0) is None
        assert await answers_by_item(session, 0) == {}


async def test_full_names_of_the_people_asked_for(db: Db, clock: FrozenClock) -> None:
    world = await make_world(db, clock)
    async with db.sessions() as session:
        assert await full_names(session, set(world.people.values()) | {0}) == {
            world.people["Lan"]: "Lan",
            world.people["Minh"]: "Minh",
        }
        assert await full_names(session, set()) == {}


async def test_unresolved_flags_questions_and_notices_by_id(db: Db, clock: FrozenClock) -> None:
    world = await make_world(db, clock)
    now, lan = clock.now(), world.people["Lan"]
    async with transaction(db.sessions) as session:
        flags = [
            ReviewFlag(
                submission_id=world.submission_id,
                item_id=item,
                comment=comment,
                flagged_by=lan,
                flagged_at=now,
                returned_at=returned,
                resolved_at=resolved,
            )
            for item, comment, returned, resolved in (
                (world.items[0], "pending", None, None),
                (world.items[1], "returned", now, None),
                (world.items[2], "resolved", now, now),
            )
        ]
        question = Question(
            submission_id=world.submission_id, text="Cần bản scan?", asked_by=lan, asked_at=now
        )
        notice = Notice(
            campaign_id=world.campaigns["KT-A"],
            audience="all",
            text="Họp",
            send_at=now,
            created_at=now,
        )
        session.add_all([*flags, question, notice])
        await session.flush()
        ids = question.id, notice.id
    async with db.sessions() as session:
        assert [f.comment for f in await unresolved_flags(session, world.submission_id)] == [
            "pending",
            "returned",
        ]
        found = await question_by_id(session, ids[0])
        assert found is not None and found.text == "Cần bản scan?"
        assert await question_by_id(session, 0) is None
        stored = await notice_by_id(session, ids[1])
        assert stored is not None and stored.text == "Họp"
        assert await notice_by_id(session, 0) is None
