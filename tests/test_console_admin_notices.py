"""Broadcasts from the console: compose, preview with the recipient count, send now (outbox
rows written at once) or at a local time (stored in UTC), and the delivery report by
channel with the resend of messages in doubt.

A contact of U1 on Telegram and another on Zalo; real databases on both backends.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from storage.db import transaction
from storage.db.models import ChatAccount, Notice, OutboxMessage, OutboxStatus
from tests.chat_harness import Chat
from tests.console_admin_world import World, make_world


@pytest.fixture
async def world(db, clock, tmp_path: Path):
    async for made in make_world(db, clock, tmp_path):
        zalo = Chat(made.chats["admin"].dispatcher, clock, name="Đầu Mối Zalo", platform="zalo")
        await zalo.command("start", made.codes["U1"][1])
        yield made


def _path(world: World, tail: str = "") -> str:
    return f"/admin/c/{world.campaign_id}/notices{tail}"


async def _preview(world: World, **fields: str):
    data = {"csrf": world.csrf["admin"], "text": "Họp giao ban <b>thứ Hai</b>", "at": ""}
    data.update(fields)
    return await world.clients["admin"].post(_path(world, "/preview"), data=data)


async def _send(world: World, html: str):
    """The preview's own form, sent as it is."""
    fields = dict(re.findall(r'<input type="hidden" name="([a-z]+)" value="([^"]*)">', html))
    assert set(fields) == {"csrf", "text", "audience", "at"}
    import html as html_lib

    data = {key: html_lib.unescape(value) for key, value in fields.items()}
    return await world.clients["admin"].post(_path(world), data=data, allow_redirects=False)


async def _outbox(world: World, notice_id: int) -> list[tuple[str, str]]:
    async with transaction(world.db.sessions) as session:
        rows = await session.execute(
            select(ChatAccount.platform, OutboxMessage.status)
            .join(ChatAccount, ChatAccount.id == OutboxMessage.chat_account_id)
            .where(OutboxMessage.notice_id == notice_id)
        )
        return sorted((platform, status) for platform, status in rows)


def _counts(html: str, channel: str) -> dict[str, int]:
    row = re.search(rf'<tr data-channel="{channel}"[^>]*>(.*?)</tr>', html, re.S)
    assert row, html
    cells = dict(re.findall(r'<td class="([a-z_]+)">(\d+)</td>', row.group(1)))
    return {key: int(value) for key, value in cells.items()}


async def test_send_now_writes_the_previewed_number_of_outbox_rows(world: World) -> None:
    preview = await _preview(world, audience="all")
    html = await preview.text()
    assert preview.status == 200
    count = re.search(r'data-recipients="(\d+)"', html)
    assert count and int(count.group(1)) == 2
    assert "Họp giao ban &lt;b&gt;thứ Hai&lt;/b&gt;" in html  # what was typed, escaped
    async with transaction(world.db.sessions) as session:
        assert await session.scalar(select(func.count()).select_from(Notice)) == 0  # preview only
    sent = await _send(world, html)
    assert sent.status == 303
    notice_id = int(sent.headers["Location"].rsplit("/", 1)[1])
    async with transaction(world.db.sessions) as session:
        notice = await session.get(Notice, notice_id)
        assert notice is not None
        assert notice.text == "Họp giao ban <b>thứ Hai</b>" and notice.audience == "all"
        assert notice.dispatched_at == world.clock.now()
    assert await _outbox(world, notice_id) == [("telegram", "pending"), ("zalo", "pending")]
    report = await (await world.clients["admin"].get(sent.headers["Location"])).text()
    assert _counts(report, "telegram") == {
        "sent": 0,
        "pending": 1,
        "failed": 0,
        "unreachable": 0,
        "in_doubt": 0,
    }
    assert _counts(report, "all")["pending"] == 2


async def test_the_report_counts_by_channel_and_resends_what_is_in_doubt(world: World) -> None:
    sent = await _send(world, await (await _preview(world, audience="pending")).text())
    notice_id = int(sent.headers["Location"].rsplit("/", 1)[1])
    async with transaction(world.db.sessions) as session:
        for platform, status in (("telegram", OutboxStatus.SENT), ("zalo", OutboxStatus.IN_DOUBT)):
            accounts = select(ChatAccount.id).where(ChatAccount.platform == platform)
            await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.notice_id == notice_id,
                    OutboxMessage.chat_account_id.in_(accounts),
                )
                .values(status=status)
            )
    admin = world.clients["admin"]
    report = await (await admin.get(_path(world, f"/{notice_id}"))).text()
    assert _counts(report, "telegram")["sent"] == 1
    assert _counts(report, "zalo") == {
        "sent": 0,
        "pending": 0,
        "failed": 0,
        "unreachable": 0,
        "in_doubt": 1,
    }
    assert _counts(report, "all")["in_doubt"] == 1
    resend = await admin.post(
        _path(world, f"/{notice_id}/resend"),
        data={"csrf": world.csrf["admin"]},
        allow_redirects=False,
    )
    assert resend.headers["Location"].endswith("done=resent")
    assert await _outbox(world, notice_id) == [("telegram", "sent"), ("zalo", "pending")]
    listing = await (await admin.get(_path(world))).text()
    assert f'<tr data-notice="{notice_id}">' in listing


async def test_a_later_time_is_read_in_the_campaigns_timezone(world: World) -> None:
    html = await (await _preview(world, audience="team:D1", at="2021-09-02T09:00")).text()
    assert "02/09/2021 09:00" in html and "Hẹn giờ gửi" in html
    sent = await _send(world, html)
    notice_id = int(sent.headers["Location"].rsplit("/", 1)[1])
    async with transaction(world.db.sessions) as session:
        notice = await session.get(Notice, notice_id)
        assert notice is not None
        assert notice.send_at == datetime(2021, 9, 2, 2, 0, tzinfo=UTC)  # 09:00 at UTC+7
        assert notice.dispatched_at is None and notice.audience == "team:D1"
    assert await _outbox(world, notice_id) == []  # the scheduler sends it when due


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"audience": "all", "text": "  "}, "Nội dung thông báo đang để trống."),
        ({"audience": "all", "at": "02/09/2021"}, "Ngày giờ không hợp lệ."),
        ({"audience": "everyone"}, "everyone"),
        ({"audience": "team:D9"}, "D9"),
    ],
)
async def test_a_bad_draft_is_answered_and_nothing_is_stored(
    world: World, fields: dict[str, str], message: str
) -> None:
    preview = await _preview(world, **fields)
    assert preview.status == 422
    html = await preview.text()
    assert message in html
    assert '<textarea name="text"' in html  # the form again, with what was typed
    send = await world.clients["admin"].post(
        _path(world),
        data={"csrf": world.csrf["admin"], "text": "x", "at": "", **fields},
        allow_redirects=False,
    )
    assert send.status == 422
    async with transaction(world.db.sessions) as session:
        assert await session.scalar(select(func.count()).select_from(Notice)) == 0
