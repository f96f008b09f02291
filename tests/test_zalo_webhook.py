"""Zalo's webhook: the secret is checked (403, the body never logged), each event is
answered 200 only once its transaction is over, and one cut by a stop gets 503 and comes
again at the next start (the fake keeps it, as Zalo would), handled once. Served at
`<url>/zalo` beside Telegram's webhook in one process.

A crash is a stop that cancels what is in flight at once (`drain_grace=0`). Nothing
sleeps: the tests wait on the fakes' recorded calls and deliveries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.app import open_app
from bot.channels.zalo import ZaloChannel, ZaloEvents, ZaloWebhook, set_webhook
from bot.channels.zalo_api import ZaloApi
from bot.runner import WebhookOptions, run_bot
from bot.settings import Settings
from common.clock import FrozenClock
from common.messages import ConversationHandler, Deliver, Inbound, Reply
from handlers.dispatcher import Dispatcher
from storage.db.models import Answer
from tests import factories
from tests.chat_harness import Chat, import_and_codes, make_deps
from tests.conftest import Db
from tests.fake_telegram import FakeTelegram, free_port
from tests.fake_zalo import FakeZalo
from tests.fake_zalo.server import SECRET_HEADER

SECRET = "zalo-hook-secret"
SAVED = "Đã lưu mục 1.1"


@pytest.fixture
async def fake() -> AsyncIterator[FakeZalo]:
    async with FakeZalo() as server:
        yield server


@asynccontextmanager
async def zalo_hook(
    fake: FakeZalo,
    handler: ConversationHandler,
    port: int,
    clock: FrozenClock,
    *,
    drain_grace: float = 10.0,
) -> AsyncIterator[ZaloWebhook]:
    """The real Zalo channel and webhook at http://127.0.0.1:<port>/zalo, registered."""
    async with httpx.AsyncClient() as client:
        api = ZaloApi(client, fake.token, fake.base_url)
        events = ZaloEvents(
            ZaloChannel(api),
            handler,
            clock=clock,
            apology=lambda _: "xin lỗi",
            max_photo_bytes=1024,
        )
        hook = ZaloWebhook(events, secret=SECRET, drain_grace=drain_grace)
        app = web.Application()
        hook.routes(app, "/zalo")
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
            await set_webhook(api, f"http://127.0.0.1:{port}/zalo", SECRET)
            yield hook
        finally:
            await runner.cleanup()


async def test_a_wrong_or_missing_secret_gets_403_and_the_body_is_not_logged(
    fake: FakeZalo, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[Inbound] = []

    async def handler(event: Inbound, deliver: Deliver | None = None) -> list[Reply]:
        seen.append(event)
        return []

    port = free_port()
    url = f"http://127.0.0.1:{port}/zalo"
    body = {"event_name": "message.text.received", "message": {"text": "BÍ-MẬT-TRONG-THÂN"}}
    async with zalo_hook(fake, handler, port, clock), httpx.AsyncClient() as client:
        wrong = await client.post(url, json=body, headers={SECRET_HEADER: "not-the-secret"})
        missing = await client.post(url, json=body)
    assert (wrong.status_code, missing.status_code) == (403, 403)
    assert seen == []
    refused = [r for r in caplog.records if "wrong or missing secret" in r.getMessage()]
    assert len(refused) == 2
    assert "BÍ-MẬT" not in caplog.text


class Held:
    """The real conversation handler, holding one chat's events open until released."""

    def __init__(self, handler: ConversationHandler, chat_id: str) -> None:
        self.handler, self.chat_id = handler, chat_id
        self.started, self.release = asyncio.Event(), asyncio.Event()

    async def __call__(self, event: Inbound, deliver: Deliver | None = None) -> list[Reply]:
        if event.sender.chat_id == self.chat_id:
            self.started.set()
            await self.release.wait()
        return await self.handler(event, deliver)


async def answers(db: Db) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Answer)) or 0)


async def test_the_webhook_answers_after_the_commit_and_a_stop_loses_nothing(
    db: Db, clock: FrozenClock, fake: FakeZalo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.dispatcher")
    codes = await import_and_codes(db, clock, factories.campaign(units=2))

    def dispatcher() -> Dispatcher:  # a new one per start: each is a new process
        return Dispatcher(make_deps(db, clock, tmp_path))

    lan, minh = fake.user("8001", "Lan"), fake.user("8002", "Minh")
    for user, unit in ((lan, "U1"), (minh, "U2")):
        chat = Chat(dispatcher(), clock, user_id=user.user_id, platform="zalo")
        await chat.command("start", codes[unit][0])
        await chat.command("checklist")
    port = free_port()
    held = Held(dispatcher().handle, lan.chat)
    async with zalo_hook(fake, held, port, clock, drain_grace=0):
        lan_event = fake.send_text(lan, "31/12/2020")
        await held.started.wait()
        minh_event = fake.send_text(minh, "31/12/2020")
        assert await fake.wait_delivered(minh_event) == [200]
        assert await answers(db) == 1  # the 200 came after the commit
        fake.resend(minh_event)  # Zalo sends it again: recognised, answered 200
        assert await fake.wait_delivered(minh_event, times=2) == [200, 200]
    # The stop cancelled Lan's event before its commit: 503, and the fake keeps it.
    assert await fake.wait_delivered(lan_event) == [503]
    assert fake.undelivered == [lan_event]
    assert await answers(db) == 1
    async with zalo_hook(fake, dispatcher().handle, port, clock):  # setWebhook: the fake sends it
        assert await fake.wait_delivered(lan_event, times=2) == [503, 200]
        await fake.wait_for(lambda c: c.chat_id == lan.chat and SAVED in c.text)
    assert fake.undelivered == []
    assert await answers(db) == 2
    assert sum(SAVED in t for t in fake.texts(lan.chat)) == 1
    assert sum(SAVED in t for t in fake.texts(minh.chat)) == 1
    assert "was handled already" in caplog.text


async def test_one_process_serves_telegram_at_the_url_and_zalo_at_url_slash_zalo(
    db: Db, clock: FrozenClock, fake: FakeZalo, tmp_path: Path
) -> None:
    codes = await import_and_codes(db, clock, factories.campaign(units=2))
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    async with FakeTelegram() as telegram:
        settings = Settings(
            bot_token=SecretStr(telegram.token),
            telegram_api_url=telegram.base_url,
            bot_username="cchc_test_bot",
            webhook_secret=SecretStr("telegram-secret"),
            zalo_bot_token=SecretStr(fake.token),
            zalo_bot_api_url=fake.base_url,
            zalo_webhook_secret=SecretStr(SECRET),
            database_url=db.url,
            evidence_dir=tmp_path / "evidence",
            _env_file=None,
        )
        app = await open_app(settings, clock=clock)
        stop = asyncio.Event()
        options = WebhookOptions(url, "127.0.0.1", port)
        task = asyncio.create_task(run_bot(app, webhook=options, stop=stop))
        try:
            await telegram.wait_for(lambda c: c.method == "setWebhook" and c.ok)
            await fake.wait_for(lambda c: c.method == "setWebhook" and c.ok)
            assert telegram.webhook is not None and telegram.webhook["url"] == url
            assert (fake.webhook_url, fake.webhook_secret) == (f"{url}/zalo", SECRET)
            lan = fake.user("8101", "Lan")
            zalo_join = fake.send_text(lan, f"/start {codes['U1'][0]}")
            telegram.send_command(601, "start", codes["U2"][0])
            joined = await fake.wait_for(
                lambda c: c.chat_id == lan.chat and "Ủy ban nhân dân Phường 1" in c.text
            )
            assert joined.ok
            await telegram.wait_for(lambda c: "Ủy ban nhân dân Phường 2" in c.text, chat_id=601)
            assert await fake.wait_delivered(zalo_join) == [200]
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
            await app.close()
