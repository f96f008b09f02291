"""Channel health: what the runner's ChannelStatus learns from the bots' real calls (aiogram
against the fake Telegram server, httpx with a mock transport for Zalo), and the console
page with the outbox backlog, failures of the last 24 hours and the last reminder pass.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from aiogram.exceptions import TelegramUnauthorizedError
from sqlalchemy import update

from bot.channel_status import STALE_AFTER, BotStatus, ChannelStatus
from bot.channels.telegram import build_bot
from bot.channels.telegram_watch import watch
from common.clock import FrozenClock
from storage.db import transaction
from storage.db.models import ChatAccount, OutboxMessage, OutboxStatus, ScheduleMark
from tests.console_admin_world import World, make_world
from tests.fake_telegram import FakeTelegram


@pytest.fixture
async def world(db, clock, tmp_path: Path):
    async for made in make_world(db, clock, tmp_path):
        yield made


async def test_telegram_calls_are_seen_through_the_request_middleware(clock: FrozenClock) -> None:
    status = ChannelStatus(clock.now)
    status.add("telegram", "@bot", "polling")
    async with FakeTelegram() as fake:
        bot = build_bot(fake.token, fake.base_url)
        watch(bot, status.bots["telegram"], clock.now)
        try:
            await bot.get_me()
        finally:
            await bot.session.close()
        assert status.bots["telegram"].last_ok == clock.now()
        assert status.bots["telegram"].connected(clock.now())
        clock.advance(timedelta(minutes=1))
        wrong = build_bot("123:wrong", fake.base_url)
        watch(wrong, status.bots["telegram"], clock.now)
        with pytest.raises(TelegramUnauthorizedError):
            try:
                await wrong.get_me()
            finally:
                await wrong.session.close()
    telegram = status.bots["telegram"]
    assert telegram.last_failure == clock.now() and telegram.last_error
    assert not telegram.connected(clock.now())


async def test_zalo_answers_are_seen_through_the_response_hook(clock: FrozenClock) -> None:
    status = ChannelStatus(clock.now)
    status.add("zalo", "Zalo", "polling")
    answers = iter([200, 408, 200, 502])

    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers), json={"ok": False})

    hook = status.zalo_hook("bot-api.zalo.test")
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(reply), event_hooks={"response": [hook]}
    ) as client:
        await client.post("https://bot-api.zalo.test/botX/getMe")
        assert status.bots["zalo"].last_ok == clock.now()
        await client.post("https://bot-api.zalo.test/botX/getUpdates")  # 408: nothing came
        assert status.bots["zalo"].connected(clock.now())
        clock.advance(timedelta(seconds=5))
        await client.post("https://cdn.zalo.test/photo.jpg")  # a download: not the bot's API
        assert status.bots["zalo"].last_failure is None
        await client.post("https://bot-api.zalo.test/botX/getUpdates")
    assert status.bots["zalo"].last_failure == clock.now()
    assert not status.bots["zalo"].connected(clock.now())


@pytest.mark.parametrize(
    ("mode", "ok_ago", "failed_ago", "connected"),
    [
        ("polling", None, None, False),  # never reached the platform
        ("polling", timedelta(seconds=10), None, True),
        ("polling", STALE_AFTER + timedelta(seconds=1), None, False),  # polling went silent
        ("webhook", timedelta(hours=5), None, True),  # nobody wrote: a webhook stays quiet
        ("polling", timedelta(seconds=10), timedelta(seconds=20), True),  # recovered
        ("webhook", timedelta(seconds=20), timedelta(seconds=10), False),  # failing since
    ],
)
def test_connected_means_the_last_contact_is_recent_and_not_followed_by_a_failure(
    clock: FrozenClock,
    mode: str,
    ok_ago: timedelta | None,
    failed_ago: timedelta | None,
    connected: bool,
) -> None:
    now = clock.now()
    bot = BotStatus("telegram", "@bot", mode)
    if ok_ago is not None:
        bot.ok(now - ok_ago)
    if failed_ago is not None:
        bot.failed(now - failed_ago, "TelegramNetworkError")
    assert bot.connected(now) is connected


async def _outbox_rows(world: World) -> None:
    now = world.clock.now()
    async with transaction(world.db.sessions) as session:
        # The sign-ins' and joins' own messages: delivered, so only the rows below count.
        await session.execute(update(OutboxMessage).values(status=OutboxStatus.SENT))
        account = (await session.execute(ChatAccount.__table__.select().limit(1))).first()
        assert account is not None
        rows = [
            (OutboxStatus.PENDING, None),
            (OutboxStatus.PENDING, None),
            (OutboxStatus.CLAIMED, now),
            (OutboxStatus.SENDING, now),
            (OutboxStatus.FAILED, now - timedelta(hours=2)),
            (OutboxStatus.FAILED, now - timedelta(hours=30)),  # older than a day
            (OutboxStatus.SENT, now),
        ]
        for n, (state, claimed) in enumerate(rows):
            session.add(
                OutboxMessage(
                    dedupe_key=f"health-test:{n}",
                    kind="alert",
                    chat_account_id=account.id,
                    template="common.error",
                    params={},
                    status=state,
                    not_before=now - timedelta(days=2),
                    claimed_at=claimed,
                    created_at=now - timedelta(days=2),
                )
            )
        session.add(ScheduleMark(key=f"reminders:{world.campaign_id}", value={}, updated_at=now))


async def test_the_health_page(world: World) -> None:
    now = world.clock.now()
    world.status.add("telegram", "@cchc_test_bot", "polling").ok(now)
    zalo = world.status.add("zalo", "Zalo", "webhook")
    zalo.ok(now - timedelta(minutes=9))
    zalo.failed(now - timedelta(minutes=2), "HTTP 502")
    await _outbox_rows(world)
    html = await (await world.clients["admin"].get("/admin/health")).text()
    bots = dict(re.findall(r'<tr data-bot="([a-z]+)" data-connected="([a-z]+)">', html))
    assert bots == {"telegram": "yes", "zalo": "no"}
    assert "HTTP 502" in html and "@cchc_test_bot" in html
    counts = dict(re.findall(r'<dd data-count="([a-z_]+)">(\d+)</dd>', html))
    assert counts == {
        "pending": "2",
        "claimed": "1",
        "sending": "1",
        "in_doubt": "0",
        "failed": "1",
    }
    assert "01/09/2021 08:00" in html  # the reminder pass, local time
    english = await (await world.clients["admin"].get("/admin/health?lang=en")).text()
    assert "Failed in the last 24 hours" in english and "Not connected" in english


async def test_the_runner_watches_each_bot_it_serves(clock: FrozenClock, tmp_path: Path) -> None:
    from bot.app import open_app
    from bot.runner import _Served, channel_status
    from bot.settings import Settings

    settings = Settings(
        _env_file=None,  # not the developer's .env
        database_url=f"sqlite:///{tmp_path / 'run.sqlite3'}",
        zalo_bot_api_url="https://bot-api.zalo.test",
    )
    app = await open_app(settings, clock=clock)
    zalo = httpx.MockTransport(lambda request: httpx.Response(200, json={"ok": True}))
    try:
        async with FakeTelegram() as fake:
            served = _Served(
                bot=build_bot(fake.token, fake.base_url),
                username="cchc_bot",
                client=httpx.AsyncClient(transport=zalo),
            )
            status = channel_status(app, served, webhook=False)
            assert served.bot is not None and served.client is not None
            try:
                await served.bot.get_me()
                await served.client.post("https://bot-api.zalo.test/botX/getMe")
            finally:
                await served.close()
    finally:
        await app.close()
    assert status.telegram_username == "cchc_bot"
    assert {name: bot.last_ok for name, bot in status.bots.items()} == {
        "telegram": clock.now(),
        "zalo": clock.now(),
    }
    assert status.bots["telegram"].name == "@cchc_bot" and status.bots["zalo"].mode == "polling"


async def test_the_console_served_by_run_gets_the_runners_status(
    clock: FrozenClock, tmp_path: Path
) -> None:
    from bot.app import open_app
    from bot.console.serve import console_for
    from bot.settings import Settings

    settings = Settings(
        _env_file=None,  # not the developer's .env
        database_url=f"sqlite:///{tmp_path / 'run.sqlite3'}",
        zalo_bot_link="https://zalo.me/s/cchc",
        bot_username="from_settings_bot",
        invite_ttl_days=10,
    )
    app = await open_app(settings, clock=clock)
    try:
        status = ChannelStatus(clock.now, telegram_username="asked_telegram_bot")
        options = console_for(app, status).admin_options
    finally:
        await app.close()
    assert options.status is status
    assert options.username() == "asked_telegram_bot"  # what getMe said wins
    assert options.zalo_link == "https://zalo.me/s/cchc"
    assert options.invite_ttl == timedelta(days=10)
