"""Summaries for team leaders and admins: when they are due, what they say, who gets which,
on SQLite and PostgreSQL with an injected clock."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from bot.outbox_render import make_renderer
from common.clock import FrozenClock
from schedules.summaries import MAX_NAMES, send_due_summaries, team_params
from storage.db import transaction
from storage.db.models import (
    Assignment,
    Campaign,
    ChatAccount,
    Membership,
    OutboxMessage,
    Person,
    Role,
    Submission,
    SubmissionStatus,
    Team,
    Unit,
)
from storage.formats.campaign_spec import CampaignSpec, TeamSpec
from storage.services.campaign_import import import_campaign
from storage.services.team_status import TeamSummary, fingerprint_of, team_summaries
from tests import factories
from tests.chat_harness import CATALOG
from tests.conftest import Db

NO_ADMINS: dict[str, frozenset[str]] = {}


def local(day: int, hour: int, minute: int = 0, month: int = 9) -> datetime:
    """A time in Asia/Ho_Chi_Minh (UTC+7, no DST), as aware UTC."""
    return datetime(2021, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=7)


def spec(*, when_unchanged: bool = False, summary_at: str | None = "mon-fri 08:00") -> CampaignSpec:
    """Two teams: D1 has U1, U2 (U2's deadline is 28/09 17:00), D2 has U3, U4."""
    base = factories.campaign(units=4)
    units = tuple(replace(u, team="D2") if u.code in ("U3", "U4") else u for u in base.units)
    return replace(
        base,
        units=units,
        teams=(TeamSpec("D1", "Đoàn kiểm tra số 1"), TeamSpec("D2", "Đoàn kiểm tra số 2")),
        policy=replace(base.policy, summary_at=summary_at, summary_when_unchanged=when_unchanged),
    )


@dataclass
class World:
    db: Db
    clock: FrozenClock
    campaign_id: int
    accounts: dict[str, int]  # name -> chat account id
    admin_ids: dict[str, frozenset[str]]


async def _link(
    db: Db,
    clock: FrozenClock,
    campaign_id: int,
    name: str,
    *,
    role: Role,
    unit: str | None = None,
    team: str | None = None,
    is_admin: bool = False,
) -> int:
    """A person with a Telegram account, in a role (memberships inserted directly)."""
    async with transaction(db.sessions) as session:
        person = Person(full_name=name, is_admin=is_admin, created_at=clock.now())
        account = ChatAccount(
            person=person,
            platform="telegram",
            user_id=f"u-{name}",
            chat_id=f"u-{name}",
            language_hint="vi",
            created_at=clock.now(),
        )
        session.add(account)
        await session.flush()
        assignment_id = team_id = None
        if unit is not None:
            assignment_id = await session.scalar(
                select(Assignment.id)
                .join(Unit)
                .where(Unit.code == unit, Assignment.campaign_id == campaign_id)
            )
        if team is not None:
            team_id = await session.scalar(
                select(Team.id).where(Team.code == team, Team.campaign_id == campaign_id)
            )
        if role != Role.ADMIN:
            session.add(
                Membership(
                    person_id=person.id,
                    campaign_id=campaign_id,
                    role=role,
                    assignment_id=assignment_id,
                    team_id=team_id,
                    created_at=clock.now(),
                )
            )
        return account.id


async def make_world(
    db: Db,
    clock: FrozenClock,
    *,
    when_unchanged: bool = False,
    summary_at: str | None = "mon-fri 08:00",
) -> World:
    campaign = spec(when_unchanged=when_unchanged, summary_at=summary_at)
    async with transaction(db.sessions) as session:
        result = await import_campaign(session, campaign, now=clock.now())
    cid = result.campaign_id
    people = {
        "Lan": {"role": Role.UNIT_CONTACT, "unit": "U1"},
        "Minh": {"role": Role.UNIT_CONTACT, "unit": "U2"},
        "Hoa": {"role": Role.UNIT_CONTACT, "unit": "U3"},
        "Leader1": {"role": Role.TEAM_LEADER, "team": "D1"},
        "Member1": {"role": Role.TEAM_MEMBER, "team": "D1"},
        "Leader2": {"role": Role.TEAM_LEADER, "team": "D2"},
        "Admin": {"role": Role.ADMIN, "is_admin": True},
        "Settings": {"role": Role.ADMIN},  # an admin only by ADMIN_TELEGRAM_IDS
    }
    accounts = {name: await _link(db, clock, cid, name, **kw) for name, kw in people.items()}
    return World(db, clock, cid, accounts, {"telegram": frozenset({"u-Settings"})})


async def run(world: World) -> int:
    async with transaction(world.db.sessions) as session:
        return await send_due_summaries(
            session, now=world.clock.now(), admin_user_ids=world.admin_ids
        )


async def rows(world: World) -> list[OutboxMessage]:
    async with world.db.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "summary")
                .order_by(OutboxMessage.id)
            )
        )


async def set_status(world: World, unit: str, status: SubmissionStatus) -> None:
    async with transaction(world.db.sessions) as session:
        assignment_id = await session.scalar(
            select(Assignment.id).join(Unit).where(Unit.code == unit)
        )
        await session.execute(
            update(Submission)
            .where(Submission.assignment_id == assignment_id)
            .values(status=status)
        )


def recipients(found: list[OutboxMessage], world: World) -> list[str]:
    names = {v: k for k, v in world.accounts.items()}
    return sorted(names[r.chat_account_id] for r in found)


def render(row: OutboxMessage) -> str:
    account = ChatAccount(platform="telegram", user_id="x", chat_id="x", language_hint="vi")
    return make_renderer(CATALOG)(row, account, None).text


# -- when -----------------------------------------------------------------------------------


async def test_due_at_summary_at_local_time_and_not_before(db: Db, clock: FrozenClock) -> None:
    world = await make_world(db, clock)  # created Wed 01/09 08:00 local: that one is past
    assert await run(world) == 0
    clock.set(local(2, 7, 59))
    assert await run(world) == 0
    clock.set(local(2, 8, 0))
    assert await run(world) == 4  # Leader1, Leader2, two admins
    assert recipients(await rows(world), world) == ["Admin", "Leader1", "Leader2", "Settings"]
    clock.set(local(2, 8, 5))
    assert await run(world) == 0  # that occurrence is done


async def test_missed_days_give_one_summary_for_the_latest_occurrence(
    db: Db, clock: FrozenClock
) -> None:
    world = await make_world(db, clock, when_unchanged=True)
    clock.set(local(2, 8, 0))
    await run(world)
    clock.set(local(6, 9, 30))  # down over Fri 03/09 08:00 and Mon 06/09 08:00
    assert await run(world) == 4
    latest = [r for r in await rows(world) if r.created_at == clock.now()]
    assert len(latest) == 4
    assert all(local(6, 8).isoformat() in r.dedupe_key for r in latest)
    assert await run(world) == 0


async def test_not_resent_when_nothing_changed(db: Db, clock: FrozenClock) -> None:
    world = await make_world(db, clock)
    clock.set(local(2, 8, 0))
    assert await run(world) == 4
    clock.set(local(3, 8, 0))
    assert await run(world) == 0  # nothing changed since Thursday
    await set_status(world, "U3", SubmissionStatus.SUBMITTED)  # team D2 moves
    clock.set(local(6, 8, 0))
    assert await run(world) == 3
    monday = [r for r in await rows(world) if r.created_at == clock.now()]
    assert recipients(monday, world) == ["Admin", "Leader2", "Settings"]


async def test_sent_every_time_when_the_campaign_asks(db: Db, clock: FrozenClock) -> None:
    world = await make_world(db, clock, when_unchanged=True)
    for day in (2, 3, 6):
        clock.set(local(day, 8, 0))
        assert await run(world) == 4


async def test_a_leader_who_joins_later_gets_the_current_state_once(
    db: Db, clock: FrozenClock
) -> None:
    world = await make_world(db, clock)
    clock.set(local(2, 8, 0))
    await run(world)
    world.accounts["Leader1b"] = await _link(
        db, clock, world.campaign_id, "Leader1b", role=Role.TEAM_LEADER, team="D1"
    )
    clock.set(local(3, 8, 0))
    assert await run(world) == 1
    assert recipients([r for r in await rows(world) if r.created_at == clock.now()], world) == [
        "Leader1b"
    ]


async def test_no_summary_without_summary_at(db: Db, clock: FrozenClock) -> None:
    world = await make_world(db, clock, summary_at=None)
    clock.set(local(2, 8, 0))
    assert await run(world) == 0


async def test_no_summary_for_a_closed_campaign(db: Db, clock: FrozenClock) -> None:
    world = await make_world(db, clock)
    async with transaction(db.sessions) as session:
        await session.execute(update(Campaign).values(closed_at=clock.now()))
    clock.set(local(2, 8, 0))
    assert await run(world) == 0


# -- what and to whom ----------------------------------------------------------------------


async def _content_world(db: Db, clock: FrozenClock) -> World:
    world = await make_world(db, clock)
    await set_status(world, "U3", SubmissionStatus.SUBMITTED)
    await set_status(world, "U1", SubmissionStatus.IN_PROGRESS)
    async with transaction(db.sessions) as session:  # Minh (U2) blocked the bot
        await session.execute(
            update(ChatAccount)
            .where(ChatAccount.id == world.accounts["Minh"])
            .values(unreachable_at=clock.now(), unreachable_reason="blocked")
        )
    clock.set(local(29, 8, 0))  # U2's deadline (28/09 17:00) has passed; the others' not
    assert await run(world) == 4
    return world


async def test_team_summaries_count_each_team_with_the_names(db: Db, clock: FrozenClock) -> None:
    world = await _content_world(db, clock)
    async with db.sessions() as session:
        campaign = await session.get(Campaign, world.campaign_id)
        assert campaign is not None
        d1, d2 = await team_summaries(session, campaign, clock.now())
        again = await team_summaries(session, campaign, clock.now())
        earlier = await team_summaries(session, campaign, local(28, 8, 0))
    unit = "Ủy ban nhân dân Phường {}".format
    assert (d1.code, d1.total, d1.submitted, d1.in_progress, d1.not_started, d1.returned) == (
        "D1",
        2,
        0,
        1,
        1,
        0,
    )
    assert d1.not_submitted == (unit(1), unit(2)) and d1.overdue == (unit(2),)
    assert d1.unreachable == (f"Minh ({unit(2)})",) and d1.no_contact == ()
    assert (d2.code, d2.total, d2.submitted, d2.not_submitted) == ("D2", 2, 1, (unit(4),))
    assert d2.overdue == () and d2.no_contact == (unit(4),)
    # The same state, the same fingerprint; U2 not yet overdue the day before is another.
    assert earlier[1].fingerprint() == d2.fingerprint()
    assert earlier[0].fingerprint() != d1.fingerprint() and earlier[0].overdue == ()
    assert fingerprint_of([d1, d2]) == fingerprint_of(again)
    assert fingerprint_of([d1, d2]) != fingerprint_of(earlier)


async def test_leaders_see_their_team_only(db: Db, clock: FrozenClock) -> None:
    world = await _content_world(db, clock)
    by_name = {
        k: [r for r in await rows(world) if r.chat_account_id == v]
        for k, v in world.accounts.items()
    }
    (d1,), (d2,) = by_name["Leader1"], by_name["Leader2"]
    assert d1.template == d2.template == "summaries.team"
    text1, text2 = render(d1), render(d2)
    assert "Đoàn kiểm tra số 1" in text1 and "0/2" in text1
    assert "Phường 1" in text1 and "Phường 2" in text1
    assert "Phường 3" not in text1 and "Phường 4" not in text1
    assert "Quá hạn (1):\n• Ủy ban nhân dân Phường 2" in text1
    assert "(1):\n• Minh (Ủy ban nhân dân Phường 2)" in text1  # unreachable contact
    assert "Chưa có đầu mối liên kết (0): —" in text1
    assert "Đang làm: 1 · ⭕ Chưa bắt đầu: 1" in text1
    assert "Đoàn kiểm tra số 2" in text2 and "1/2" in text2
    assert "Phường 1" not in text2 and "Phường 2" not in text2
    assert "Chưa có đầu mối liên kết (1):\n• Ủy ban nhân dân Phường 4" in text2
    assert "Chưa nộp (1):\n• Ủy ban nhân dân Phường 4" in text2
    assert by_name["Member1"] == [] and by_name["Lan"] == []


async def test_admins_get_one_message_with_every_team(db: Db, clock: FrozenClock) -> None:
    world = await _content_world(db, clock)
    admin_rows = [r for r in await rows(world) if r.template == "summaries.admin"]
    assert recipients(admin_rows, world) == ["Admin", "Settings"]
    text = render(admin_rows[0])
    assert "1/4" in text
    assert "▪ Đoàn kiểm tra số 1 (D1): 0/2" in text and "▪ Đoàn kiểm tra số 2 (D2): 1/2" in text
    assert "⏰ Ủy ban nhân dân Phường 2" in text
    assert "📵 Minh (Ủy ban nhân dân Phường 2)" in text
    assert "👤 Ủy ban nhân dân Phường 4" in text
    english = make_renderer(CATALOG)(
        admin_rows[0],
        ChatAccount(platform="telegram", user_id="x", chat_id="x", language_hint="en"),
        None,
    ).text
    assert "Campaign summary" in english and "Key:" in english


async def test_an_admin_who_leads_a_team_gets_only_the_admin_summary(
    db: Db, clock: FrozenClock
) -> None:
    world = await make_world(db, clock)
    world.admin_ids = {"telegram": frozenset({"u-Settings", "u-Leader2"})}
    clock.set(local(2, 8, 0))
    assert await run(world) == 4
    by_template = {r.chat_account_id: r.template for r in await rows(world)}
    assert by_template[world.accounts["Leader2"]] == "summaries.admin"


def test_long_lists_are_capped() -> None:
    names = tuple(f"Phường {n}" for n in range(MAX_NAMES + 5))
    summary = TeamSummary(1, "D1", "Đoàn 1", len(names), 0, 0, len(names), 0, names, (), (), ())
    listing = team_params(summary)["not_submitted"]
    assert listing.count("\n• ") == MAX_NAMES + 1
    assert listing.endswith("\n• (+5)")
    assert team_params(summary)["overdue"] == " —"


async def test_accepted_reports_are_told_apart_from_submitted_ones(
    db: Db, clock: FrozenClock
) -> None:
    # Issue 19: "Đã nộp 2/2" alone hid that the team had accepted one and not the other.
    world = await make_world(db, clock)
    await set_status(world, "U1", SubmissionStatus.ACCEPTED)
    await set_status(world, "U2", SubmissionStatus.SUBMITTED)
    clock.set(local(2, 8, 0))
    await run(world)
    found = await rows(world)
    leader = next(r for r in found if r.chat_account_id == world.accounts["Leader1"])
    text = render(leader)
    assert "Đã nộp: <b>2/2</b>" in text
    assert "👍 Đã chấp nhận: 1 · 📥 Chờ đoàn xem xét: 1" in text
    admin = render(next(r for r in found if r.template == "summaries.admin"))
    assert "(👍 đã chấp nhận 1 · 📥 chờ xem xét 1)" in admin
    assert "▪ Đoàn kiểm tra số 1 (D1): 2/2 (👍 1 · 📥 1)" in admin
