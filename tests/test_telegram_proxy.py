"""TELEGRAM_PROXY: every Bot API call of the bot built from the settings goes through it.

A real forward proxy on 127.0.0.1 (tests/forward_proxy.py, HTTP CONNECT and SOCKS5, with a
password) stands between the bot and the fake Bot API. The fake records the address each
request came from; every one must be the proxy's end of a tunnel it opened, so nothing
reached Telegram directly: getMe, getUpdates, sendMessage, an upload (sendDocument),
getFile and the file download itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram.exceptions import TelegramNetworkError
from pydantic import SecretStr, ValidationError

from bot.app import open_app
from bot.channels.telegram import TelegramChannel, run_polling
from bot.runner import run_bot, telegram_bot
from bot.settings import Settings
from common.clock import FrozenClock
from common.messages import Inbound, OutFile, Reply, TransientError
from tests.conftest import sqlite_copy
from tests.fake_telegram import FakeTelegram, free_port
from tests.forward_proxy import ForwardProxy
from tests.turns import InTurns

CHAT = 42
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"
PASSWORD = "p@ss:w0rd/%x"  # characters a URL must escape: the bot must unescape them


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    async with ForwardProxy(user="cchc", password=PASSWORD) as server:
        yield server


def proxied(
    fake: FakeTelegram, proxy_url: str, *, host: str = "127.0.0.1", **more: object
) -> Settings:
    return Settings(
        bot_token=SecretStr(fake.token),
        telegram_proxy=SecretStr(proxy_url),
        telegram_api_url=f"http://{host}:{fake.port}",
        _env_file=None,
        **more,
    )


def assert_all_through(fake: FakeTelegram, proxy: ForwardProxy, host: str) -> None:
    peers = [c.peer for c in fake.calls] + [d.peer for d in fake.downloads]
    assert peers and None not in peers
    assert {port for _, port in peers if port} <= proxy.upstream_ports
    assert {t.target for t in proxy.tunnels} == {(host, fake.port)}


class FileBack(InTurns):
    """Echoes a text; a document is downloaded and sent back as a document."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    async def answer(self, event: Inbound) -> list[Reply]:
        if event.attachment is None:
            return [Reply(f"echo: {event.text}")]
        path = self.folder / event.attachment.file_name
        await event.attachment.download(path)
        return [Reply("nhận lại", document=OutFile(path, event.attachment.file_name))]


@pytest.mark.parametrize("scheme", ["http", "socks5"])
async def test_every_bot_api_call_goes_through_the_proxy(
    fake: FakeTelegram, proxy: ForwardProxy, tmp_path: Path, scheme: str
) -> None:
    # By name: the proxy resolves it (a network that only reaches out through the proxy
    # may not resolve api.telegram.org either).
    bot = telegram_bot(proxied(fake, proxy.url(scheme), host="localhost"))
    stop = asyncio.Event()
    polling = asyncio.create_task(
        run_polling(bot, FileBack(tmp_path), stop_event=stop, polling_timeout=5)
    )
    try:
        await fake.wait_polling()
        fake.send_text(CHAT, "xin chào")
        await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok)
        fake.send_document(CHAT, PDF, "biên bản.pdf")
        await fake.wait_for(lambda c: c.method == "sendDocument" and c.ok, timeout=10)
    finally:
        stop.set()
        await asyncio.wait_for(polling, 10)
    methods = {c.method for c in fake.calls}
    assert {"getMe", "getUpdates", "sendMessage", "getFile", "sendDocument"} <= methods
    assert [d.status for d in fake.downloads] == [200]
    [document] = fake.documents(CHAT)
    assert document.data == PDF and document.file_name == "biên bản.pdf"
    assert_all_through(fake, proxy, "localhost")
    assert {t.protocol for t in proxy.tunnels} == {scheme}
    assert proxy.refused == 0


async def test_the_runner_builds_its_bot_from_the_setting(
    fake: FakeTelegram,
    proxy: ForwardProxy,
    sqlite_template: Path,
    tmp_path: Path,
    clock: FrozenClock,
) -> None:
    settings = proxied(
        fake,
        proxy.url("socks5"),
        database_url=sqlite_copy(sqlite_template, tmp_path),
        evidence_dir=tmp_path / "evidence",
    )
    app = await open_app(settings, clock=clock)
    stop = asyncio.Event()
    runner = asyncio.create_task(run_bot(app, stop=stop))
    try:
        await fake.wait_polling()
        fake.send_document(fake.user(501), PDF, "ke-hoach.pdf")  # downloaded before handling
        await fake.wait_for(lambda c: c.method == "sendMessage" and c.ok, chat_id=501)
    finally:
        stop.set()
        await asyncio.wait_for(runner, 30)
        await app.close()
    assert {"getMe", "setMyCommands", "getUpdates", "getFile"} <= {c.method for c in fake.calls}
    assert [d.status for d in fake.downloads] == [200]
    assert_all_through(fake, proxy, "127.0.0.1")


@pytest.mark.parametrize("scheme", ["http", "socks5"])
async def test_a_wrong_password_is_refused_by_the_proxy(
    fake: FakeTelegram, proxy: ForwardProxy, scheme: str
) -> None:
    """A network failure like any other (not aiohttp-socks' own error): the outbox retries."""
    bot = telegram_bot(proxied(fake, proxy.url(scheme, password="wrong")))
    try:
        with pytest.raises(TelegramNetworkError, match="407" if scheme == "http" else "proxy"):
            await bot.get_me()
        with pytest.raises(TransientError):
            await TelegramChannel(bot).send(str(CHAT), Reply("nhắc việc"))
    finally:
        await bot.session.close()
    assert proxy.refused == 2 and proxy.tunnels == []
    assert fake.calls == []


async def test_a_proxy_that_is_down_is_a_network_failure(fake: FakeTelegram) -> None:
    bot = telegram_bot(proxied(fake, f"socks5://127.0.0.1:{free_port()}"))
    try:
        with pytest.raises(TransientError):
            await TelegramChannel(bot).send(str(CHAT), Reply("nhắc việc"))
    finally:
        await bot.session.close()
    assert fake.calls == []


def test_the_setting_is_a_secret_read_from_the_env_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("TELEGRAM_PROXY=socks5://cchc:hunter2@10.1.2.3:1080\n", encoding="utf-8")
    settings = Settings(_env_file=env)
    assert settings.proxy() == "socks5://cchc:hunter2@10.1.2.3:1080"
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())
    env.write_text("TELEGRAM_PROXY=\n", encoding="utf-8")
    assert Settings(_env_file=env).proxy() is None
    assert Settings(_env_file=None).proxy() is None


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("https://cchc:hunter2@proxy.gov.vn:3128", "must start with http, socks5, socks4"),
        ("ftp://cchc:hunter2@proxy.gov.vn:21", "must start with"),
        ("http://cchc:hunter2@proxy.gov.vn", "needs a host and a port"),
        ("socks5://:1080", "needs a host and a port"),
        ("http://cchc:hunter2%C4%90@proxy.gov.vn:3128", "must be ASCII"),  # Đ, escaped
    ],
)
def test_a_proxy_url_the_session_cannot_use_is_refused_without_repeating_it(
    url: str, complaint: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(telegram_proxy=url, _env_file=None)
    assert complaint in str(refused.value)
    assert "hunter2" not in str(refused.value)
