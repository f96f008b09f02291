"""Notices: audiences, scheduling, dispatch into the outbox, reports, the CLI and rendering a
notice with a document, on SQLite and PostgreSQL with an injected clock."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select, update

import bot.cli_notice  # noqa: F401  (registers `notice`)
from bot.cli import cli
from bot.outbox_render import make_renderer
from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from schedules.notices import dispatch_due_notices
from storage import db as storage_db
from storage.db import transaction
from storage.db.models import (
    Assignment,
    Campaign,
    ChatAccount,
    Membership,
    Notice,
    OutboxMessage,
    OutboxStatus,
    Submission,
    SubmissionStatus,
    Unit,
)
from storage.formats.campaign_spec import CampaignSpec, TeamSpec
from storage.services.notices import (
    DOCUMENT_PARAM,
    Audience,
    AudienceKind,
    NoticeError,
    create_notice,
    dispatch_notice,
    notice_report,
    parse_audience,
    resolve_audience,
    store_notice_file,
)
from tests import factories
from tests.chat_harness import CATALOG, Chat, import_and_codes, make_deps
from tests.conftest import Db

CODE = "KT-TEST"


def spec() -> CampaignSpec:
    """Two teams: D1 has U1 (two contact slots), U2 (deadline 28/09 17:00); D2 has U3, U4."""
    base = factories.campaign(units=4)
    units = tuple(replace(u, team="D2") if u.code in ("U3", "U4") else u for u in base.units)
    return replace(
        base,
        units=units,
        teams=(
            TeamSpec("D1", "Đoàn kiểm tra số 1", leaders=1, members=1),
            TeamSpec("D2", "Đoàn kiểm tra số 2", leaders=1),
        ),
    )


@dataclass
class World:
    db: Db
    clock: FrozenClock
    campaign_id: int
    accounts: dict[str, int]  # who -> chat account id


async def _account_id(db: Db, chat: Chat) -> int:
    async with db.sessions() as session:
        found = await session.scalar(
            select(ChatAccount.id).where(ChatAccount.user_id == chat.user_id)
        )
    assert found is not None
    return found


async def link_people(db: Db, clock: FrozenClock, tmp_path: Path) -> World:
    """People join through the real conversation with their invite codes."""
    codes = await import_and_codes(db, clock, spec())
    dispatcher = Dispatcher(make_deps(db, clock, tmp_path))
    joins = {
        "u1a": codes["U1"][0],
        "u1b": codes["U1"][1],
        "u2": codes["U2"][0],
        "u3": codes["U3"][0],
        "leader1": codes["team_leader:D1"][0],
        "member1": codes["team_member:D1"][0],
        "leader2": codes["team_leader:D2"][0],
    }
    accounts = {}
    for who, code in joins.items():
        chat = Chat(dispatcher, clock, name=who)
        await chat.command("start", code)
        accounts[who] = await _account_id(db, chat)
    async with db.sessions() as session:
        campaign_id = await session.scalar(select(Campaign.id).where(Campaign.code == CODE))
    assert campaign_id is not None
    return World(db, clock, campaign_id, accounts)


async def set_status(db: Db, unit: str, status: SubmissionStatus) -> None:
    async with transaction(db.sessions) as session:
        assignment_id = await session.scalar(
            select(Assignment.id).join(Unit).where(Unit.code == unit)
        )
        await session.execute(
            update(Submission)
            .where(Submission.assignment_id == assignment_id)
            .values(status=status)
        )


async def revoke(world: World, who: str) -> None:
    async with transaction(world.db.sessions) as session:
        person_id = await session.scalar(
            select(ChatAccount.person_id).where(ChatAccount.id == world.accounts[who])
        )
        await session.execute(
            update(Membership)
            .where(Membership.person_id == person_id)
            .values(revoked_at=world.clock.now())
        )


def names(world: World, accounts: list[ChatAccount]) -> list[str]:
    by_id = {v: k for k, v in world.accounts.items()}
    return sorted(by_id[a.id] for a in accounts)


async def campaign(world: World) -> Campaign:
    async with world.db.sessions() as session:
        found = await session.get(Campaign, world.campaign_id)
    assert found is not None
    return found


# -- audiences -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("all", Audience(AudienceKind.ALL)),
        (" ALL ", Audience(AudienceKind.ALL)),
        ("team:D1", Audience(AudienceKind.TEAM, "D1")),
        ("Unit: snv ", Audience(AudienceKind.UNIT, "snv")),
        ("pending", Audience(AudienceKind.PENDING)),
        ("overdue", Audience(AudienceKind.OVERDUE)),
        ("leaders", Audience(AudienceKind.LEADERS)),
    ],
)
def test_audiences_parse(text: str, expected: Audience) -> None:
    assert parse_audience(text) == expected


@pytest.mark.parametrize(
    "text", ["", "everyone", "team", "team:", "unit:", "all:D1", "pending:U1", "leaders:x"]
)
def test_bad_audiences_are_refused_with_a_catalog_key(text: str) -> None:
    with pytest.raises(NoticeError) as raised:
        parse_audience(text)
    assert raised.value.key == "notices.error.bad_audience"
    assert CATALOG.has(raised.value.key)
    assert "team:<TEAM>" in CATALOG.t("vi", raised.value.key, **raised.value.params)


async def test_audiences_resolve_to_the_right_accounts(
    db: Db, clock: FrozenClock, tmp_path: Path
) -> None:
    world = await link_people(db, clock, tmp_path)
    await revoke(world, "u1b")  # a revoked contact never receives anything
    await set_status(db, "U3", SubmissionStatus.SUBMITTED)
    now = datetime(2021, 9, 29, 1, 0, tzinfo=UTC)  # after U2's deadline, before the others'
    expected = {
        "all": ["u1a", "u2", "u3"],
        "team:D1": ["u1a", "u2"],
        "team:d2": ["u3"],
        "unit:U2": ["u2"],
        "unit:U4": [],
        "pending": ["u1a", "u2"],
        "overdue": ["u2"],
        "leaders": ["leader1", "leader2", "member1"],
    }
    async with db.sessions() as session:
        for audience, who in expected.items():
            found = await resolve_audience(session, world.campaign_id, audience, now)
            assert names(world, found) == who, audience
        before_deadlines = await resolve_audience(
            session, world.campaign_id, "overdue", clock.now()
        )
        assert before_deadlines == []


async def test_create_refuses_unknown_targets_and_empty_text(
    db: Db, clock: FrozenClock, tmp_path: Path
) -> None:
    world = await link_people(db, clock, tmp_path)
    found = await campaign(world)
    cases = [
        ({"audience": "team:D9"}, "notices.error.unknown_team"),
        ({"audience": "unit:NOPE"}, "notices.error.unknown_unit"),
        ({"audience": "somebody"}, "notices.error.bad_audience"),
        ({"text": "   "}, "notices.error.empty_text"),
        ({"text": "x" * 4000}, "notices.error.text_too_long"),
        ({"file_path": str(tmp_path / "gone.pdf")}, "notices.error.missing_file"),
    ]
    for override, key in cases:
        args = {"audience": "all", "text": "Nội dung", **override}
        with pytest.raises(NoticeError) as raised:
            async with transaction(db.sessions) as session:
                await create_notice(session, found, send_at=clock.now(), now=clock.now(), **args)
        assert raised.value.key == key
        assert CATALOG.has(key)
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Notice)) == 0


# -- scheduling and dispatch ---------------------------------------------------------------


async def outbox_rows(db: Db) -> list[OutboxMessage]:
    async with db.sessions() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def test_a_scheduled_notice_goes_out_once_at_its_time(
    db: Db, clock: FrozenClock, tmp_path: Path
) -> None:
    world = await link_people(db, clock, tmp_path)
    found = await campaign(world)
    async with transaction(db.sessions) as session:
        stored = await create_notice(
            session,
            found,
            audience="team:d1",
            text="Họp giao ban <b>thứ Hai</b> & nộp sớm",
            send_at=clock.now() + timedelta(hours=2),
            now=clock.now(),
            created_by=None,
        )
        assert stored.audience == "team:D1"  # as the campaign spells it
    for _ in range(2):
        clock.advance(timedelta(minutes=59))
        async with transaction(db.sessions) as session:
            assert await dispatch_due_notices(session, clock.now()) == 0
    assert await outbox_rows(db) == []
    clock.advance(timedelta(minutes=2))
    async with transaction(db.sessions) as session:
        assert await dispatch_due_notices(session, clock.now()) == 1
    rows = await outbox_rows(db)
    assert sorted(r.chat_account_id for r in rows) == sorted(
        world.accounts[w] for w in ("u1a", "u1b", "u2")
    )
    first = rows[0]
    assert first.kind == "notice" and first.template == "notices.notice"
    assert first.notice_id == stored.id and first.dedupe_key.startswith(f"notice:{stored.id}:")
    # Plain params: the renderer escapes, not the sender.
    assert first.params == {
        "campaign": found.title,
        "text": "Họp giao ban <b>thứ Hai</b> & nộp sớm",
        "_due": stored.send_at.isoformat(),  # issue 19: the time it was due, not the pass's
    }
    assert first.not_before == stored.send_at <= clock.now()
    async with transaction(db.sessions) as session:
        assert await dispatch_due_notices(session, clock.now()) == 0
        again = await session.get(Notice, stored.id)
        assert again is not None and again.dispatched_at == clock.now()
        await dispatch_notice(session, again, clock.now())  # forced: the dedupe keys hold
    assert len(await outbox_rows(db)) == 3


async def test_cancelled_notices_are_never_dispatched(
    db: Db, clock: FrozenClock, tmp_path: Path
) -> None:
    world = await link_people(db, clock, tmp_path)
    found = await campaign(world)
    async with transaction(db.sessions) as session:
        stored = await create_notice(
            session, found, audience="all", text="Hủy", send_at=clock.now(), now=clock.now()
        )
        stored.cancelled_at = clock.now()
    async with transaction(db.sessions) as session:
        assert await dispatch_due_notices(session, clock.now()) == 0
        reports = await notice_report(session, world.campaign_id)
    assert [r.state.value for r in reports] == ["cancelled"]


async def test_report_counts_delivery_states(db: Db, clock: FrozenClock, tmp_path: Path) -> None:
    world = await link_people(db, clock, tmp_path)
    found = await campaign(world)
    async with transaction(db.sessions) as session:
        to_all = await create_notice(
            session,
            found,
            audience="all",
            text="Nhắc nộp báo cáo",
            send_at=clock.now(),
            now=clock.now(),
        )
        to_leaders = await create_notice(
            session,
            found,
            audience="leaders",
            text="Lịch họp đoàn " * 10,
            send_at=clock.now(),
            now=clock.now(),
        )
        later = await create_notice(
            session,
            found,
            audience="pending",
            text="Sau",
            send_at=clock.now() + timedelta(days=1),
            now=clock.now(),
        )
        await dispatch_due_notices(session, clock.now())
    rows = await outbox_rows(db)
    statuses = {
        to_all.id: [
            OutboxStatus.SENT,
            OutboxStatus.SENT,
            OutboxStatus.FAILED,
            OutboxStatus.UNREACHABLE,
        ],
        to_leaders.id: [OutboxStatus.SENDING, OutboxStatus.PENDING, OutboxStatus.SENT],
    }
    async with transaction(db.sessions) as session:
        for notice_id, wanted in statuses.items():
            mine = [r for r in rows if r.notice_id == notice_id]
            assert len(mine) == len(wanted)
            for row, status in zip(mine, wanted, strict=True):
                await session.execute(
                    update(OutboxMessage).where(OutboxMessage.id == row.id).values(status=status)
                )
        reports = {r.id: r for r in await notice_report(session, world.campaign_id)}
    a, b, c = reports[to_all.id], reports[to_leaders.id], reports[later.id]
    assert (a.recipients, a.sent, a.pending, a.failed, a.unreachable) == (4, 2, 0, 1, 1)
    assert (b.recipients, b.sent, b.pending, b.failed, b.unreachable) == (3, 1, 2, 0, 0)
    assert (c.recipients, c.state.value, c.dispatched_at) == (0, "scheduled", None)
    assert a.state.value == "dispatched" and a.excerpt == "Nhắc nộp báo cáo"
    assert len(b.excerpt) == 60 and b.excerpt.endswith("…")


# -- documents -------------------------------------------------------------------------------


async def test_a_notice_with_a_document_renders_with_the_file(
    db: Db, clock: FrozenClock, tmp_path: Path
) -> None:
    world = await link_people(db, clock, tmp_path)
    found = await campaign(world)
    source = tmp_path / "Kế hoạch 61.pdf"
    source.write_bytes(b"%PDF-1.4 plan")
    stored_file = store_notice_file(tmp_path / "evidence", source)
    assert stored_file.parent.parent == (tmp_path / "evidence" / "notices").resolve()
    assert store_notice_file(tmp_path / "evidence", source) == stored_file  # stored once
    async with transaction(db.sessions) as session:
        await create_notice(
            session,
            found,
            audience="unit:U2",
            text="Gửi <kèm> kế hoạch",
            send_at=clock.now(),
            now=clock.now(),
            file_path=str(stored_file),
        )
        await dispatch_due_notices(session, clock.now())
    (row,) = await outbox_rows(db)
    assert row.params[DOCUMENT_PARAM] == {"path": str(stored_file), "name": "Kế hoạch 61.pdf"}
    render = make_renderer(CATALOG)
    account = ChatAccount(platform="telegram", user_id="x", chat_id="x", language_hint="en")
    reply = render(row, account, None)
    assert reply.document is not None
    assert reply.document.path == stored_file and reply.document.file_name == "Kế hoạch 61.pdf"
    assert reply.document.mime_type == "application/pdf"
    assert reply.text.startswith("📢 <b>Notice</b>")
    assert "Gửi &lt;kèm&gt; kế hoạch" in reply.text and "_document" not in reply.text
    stored_file.unlink()  # gone before delivery: the text still goes out
    reply = render(row, account, None)
    assert reply.document is None and "Gửi &lt;kèm&gt; kế hoạch" in reply.text


def test_store_notice_file_refuses_programs(tmp_path: Path) -> None:
    program = tmp_path / "virus.exe"
    program.write_bytes(b"MZ")
    with pytest.raises(NoticeError) as raised:
        store_notice_file(tmp_path / "evidence", program)
    assert raised.value.key == "notices.error.file_type"


# -- the command line ----------------------------------------------------------------------


def run(url: str, evidence: Path, *args: str, lang: str = "vi") -> Result:
    env = {"DATABASE_URL": url, "CCHC_LANG": lang, "EVIDENCE_DIR": str(evidence)}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


async def _cli_world(url: str, tmp_path: Path) -> None:
    engine = storage_db.create_engine(url)
    try:
        db = Db(
            "sqlite" if storage_db.is_sqlite(url) else "postgres",
            url,
            engine,
            storage_db.session_factory(engine),
        )
        clock = FrozenClock(datetime(2021, 9, 1, 1, 0, tzinfo=UTC))
        await link_people(db, clock, tmp_path)
    finally:
        await engine.dispose()


async def _notices_and_rows(url: str) -> tuple[list[Notice], list[OutboxMessage]]:
    engine = storage_db.create_engine(url)
    try:
        async with storage_db.session_factory(engine)() as session:
            notices = list(await session.scalars(select(Notice).order_by(Notice.id)))
            rows = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    finally:
        await engine.dispose()
    return notices, rows


def test_cli_send_now_later_with_a_file_and_list(backend_url: str, tmp_path: Path) -> None:
    asyncio.run(_cli_world(backend_url, tmp_path))
    evidence = tmp_path / "evidence"
    attachment = tmp_path / "de-cuong.docx"
    attachment.write_bytes(b"PK\x03\x04 outline")

    now = run(
        backend_url,
        evidence,
        "notice",
        "send",
        CODE,
        "--to",
        "team:D1",
        "--text",
        "Đề nghị nộp báo cáo trước 17:00",
        "--file",
        str(attachment),
    )
    assert now.exit_code == 0, now.output
    assert "3 người nhận" in now.output and "de-cuong.docx" in now.output

    later = run(
        backend_url,
        evidence,
        "notice",
        "send",
        CODE,
        "--to",
        "leaders",
        "--text",
        "Họp đoàn",
        "--at",
        "01/01/2099 08:30",
    )
    assert later.exit_code == 0, later.output
    assert "01/01/2099 08:30" in later.output and "3 người nhận" in later.output

    past = run(
        backend_url,
        evidence,
        "notice",
        "send",
        CODE,
        "--to",
        "unit:u2",
        "--text",
        "Quá giờ hẹn: gửi ngay",
        "--at",
        "01/09/2021 08:00",
    )
    assert past.exit_code == 0 and "1 người nhận" in past.output

    notices, rows = asyncio.run(_notices_and_rows(backend_url))
    assert [n.audience for n in notices] == ["team:D1", "leaders", "unit:U2"]
    # 01/01/2099 08:30 in Asia/Ho_Chi_Minh is 01:30 UTC.
    assert notices[1].send_at == datetime(2099, 1, 1, 1, 30, tzinfo=UTC)
    assert notices[1].dispatched_at is None
    assert notices[0].dispatched_at is not None and notices[2].dispatched_at is not None
    assert [r.notice_id for r in rows] == [notices[0].id] * 3 + [notices[2].id]
    copied = Path(rows[0].params[DOCUMENT_PARAM]["path"])
    assert copied.is_file() and copied.read_bytes() == b"PK\x03\x04 outline"
    assert copied.is_relative_to((evidence / "notices").resolve())

    listed = json.loads(
        run(backend_url, evidence, "notice", "list", CODE, "--format", "json").output
    )
    assert [(n["audience"], n["state"], n["recipients"], n["pending"]) for n in listed] == [
        ("team:D1", "dispatched", 3, 3),
        ("unit:U2", "dispatched", 1, 1),
        ("leaders", "scheduled", 0, 0),
    ]
    assert listed[0]["file"] == "de-cuong.docx"
    assert listed[2]["send_at_local"] == "01/01/2099 08:30"
    table = run(backend_url, evidence, "notice", "list", CODE, lang="en").output
    assert "Unreachable" in table and "scheduled" in table and "📎 de-cuong.docx" in table


def test_cli_refuses_bad_input(backend_url: str, tmp_path: Path) -> None:
    asyncio.run(_cli_world(backend_url, tmp_path))
    evidence = tmp_path / "evidence"
    bad_to = run(backend_url, evidence, "notice", "send", CODE, "--to", "everyone", "--text", "x")
    assert bad_to.exit_code == 1 and "không hợp lệ" in bad_to.output
    bad_at = run(
        backend_url,
        evidence,
        "notice",
        "send",
        CODE,
        "--to",
        "all",
        "--text",
        "x",
        "--at",
        "2099-01-01 08:00",
        lang="en",
    )
    assert bad_at.exit_code == 1 and "dd/mm/yyyy HH:MM" in bad_at.output
    bad_team = run(backend_url, evidence, "notice", "send", CODE, "--to", "team:D9", "--text", "x")
    assert bad_team.exit_code == 1 and "D9" in bad_team.output
    unknown = run(backend_url, evidence, "notice", "list", "NOPE")
    assert unknown.exit_code == 1
    empty = run(backend_url, evidence, "notice", "list", CODE)
    assert empty.exit_code == 0 and "chưa có thông báo" in empty.output
    assert asyncio.run(_notices_and_rows(backend_url)) == ([], [])
