"""The desk console's sign-in: /web in chat gives a one-time link; the link opens a
server-side session; sign-out everywhere from the console or with /web off.

Real dispatcher, real database (SQLite and PostgreSQL), the console's real aiohttp
application served on 127.0.0.1 by aiohttp's test server.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.console.app import COOKIE, Console
from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from storage.db import transaction
from storage.db.models import AuditEntry, OutboxMessage, WebLoginLink, WebSession
from storage.services.web_sessions import IDLE_TTL, token_hash
from tests import factories
from tests.chat_harness import CATALOG, Chat, import_and_codes, make_deps
from tests.conftest import Db

BASE = "https://ban.example.vn"
LINK = re.compile(re.escape(BASE) + r"/login/([A-Za-z0-9_-]+)")
BROWSER = "Mozilla/5.0 <script>alert(1)</script> Chromium"


@pytest.fixture
async def world(db: Db, clock: FrozenClock, tmp_path: Path):
    codes = await import_and_codes(db, clock, factories.campaign())
    dispatcher = Dispatcher(make_deps(db, clock, tmp_path, console_url=BASE))
    leader = Chat(dispatcher, clock, name="Lê <b>Trưởng</b> Đoàn")
    await leader.command("start", codes["team_leader:D1"][0])
    console = Console(db.sessions, CATALOG, clock)
    async with TestClient(TestServer(console.app())) as client:
        yield leader, client


async def link_from(chat: Chat, args: str = "") -> str:
    await chat.command("web", args)
    match = LINK.search(chat.text_out)
    assert match, chat.text_out
    return match.group(1)


async def sign_in(client: TestClient, token: str):
    # The GET only shows a button: a chat app's link preview must not use the link up.
    page = await client.get(f"/login/{token}")
    assert page.status == 200
    assert COOKIE not in page.cookies
    return await client.post(
        f"/login/{token}", headers={"User-Agent": BROWSER}, allow_redirects=False
    )


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def test_link_signs_in_once_and_the_chat_is_told(world, db, clock):
    leader, client = world
    token = await link_from(leader)
    assert "10 phút" in leader.text_out
    response = await sign_in(client, token)
    assert response.status == 303
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert not cookie["secure"]  # served over plain HTTP here (secure_cookies=False)
    home = await client.get("/")
    html = await home.text()
    assert home.status == 200
    assert "Lê &lt;b&gt;Trưởng&lt;/b&gt; Đoàn" in html  # the typed name, escaped
    assert home.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in home.headers["Content-Security-Policy"]
    async with transaction(db.sessions) as session:
        links = (await session.scalars(select(WebLoginLink))).all()
        sessions = (await session.scalars(select(WebSession))).all()
        notice = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.template == "console.signed_in")
        )
    assert [link.token_hash for link in links] == [token_hash(token)]  # never the token
    assert sessions[0].browser == BROWSER
    assert cookie.value not in {s.token_hash for s in sessions}
    assert notice is not None and notice.params["browser"] == BROWSER
    # The same link again, from another browser: refused.
    client.session.cookie_jar.clear()
    again = await sign_in(client, token)
    assert again.status == 410
    assert "đã dùng rồi hoặc đã hết hạn" in await again.text()


async def test_link_expires_after_ten_minutes(world, clock):
    leader, client = world
    token = await link_from(leader)
    clock.advance(timedelta(minutes=10, seconds=1))
    assert (await sign_in(client, token)).status == 410


async def test_unknown_link_and_no_session_are_refused(world):
    _, client = world
    assert (await sign_in(client, "x" * 43)).status == 410
    home = await client.get("/")
    assert home.status == 401
    assert "/web" in await home.text()


async def test_idle_and_absolute_expiry(world, clock):
    leader, client = world
    await sign_in(client, await link_from(leader))
    clock.advance(IDLE_TTL - timedelta(minutes=1))
    assert (await client.get("/")).status == 200  # seen: the idle clock restarts
    clock.advance(IDLE_TTL - timedelta(minutes=1))
    assert (await client.get("/")).status == 200
    clock.advance(IDLE_TTL + timedelta(seconds=1))
    assert (await client.get("/")).status == 401  # idle too long
    await sign_in(client, await link_from(leader))
    for _ in range(6):  # active all along (every 1 h 50), but 12 hours is the limit
        clock.advance(timedelta(hours=1, minutes=50))
        assert (await client.get("/")).status == 200
    clock.advance(timedelta(hours=1, minutes=10))  # 12 h 10 after, 1 h 10 idle
    assert (await client.get("/")).status == 401


async def test_sign_out_everywhere_needs_the_csrf_token(world, db, clock):
    leader, client = world
    await sign_in(client, await link_from(leader))
    csrf = csrf_of(await (await client.get("/")).text())
    forged = await client.post("/logout", data={"csrf": "guess"})
    assert forged.status == 403
    assert (await client.post("/logout", data={})).status == 403
    assert (await client.get("/")).status == 200  # still signed in
    out = await client.post("/logout", data={"csrf": csrf})
    assert out.status == 200
    assert "đăng xuất" in (await out.text()).lower()
    assert (await client.get("/")).status == 401
    async with transaction(db.sessions) as session:
        actions = set((await session.scalars(select(AuditEntry.action))).all())
    assert {"web.signed_in", "web.signed_out"} <= actions


async def test_web_off_in_chat_signs_out_every_browser(world, db, clock):
    leader, client = world
    await sign_in(client, await link_from(leader))
    other_cookie = (await sign_in(client, await link_from(leader))).cookies[COOKIE].value
    await leader.command("web", "off")
    assert "2 phiên" in leader.text_out
    assert (await client.get("/")).status == 401
    client.session.cookie_jar.update_cookies({COOKIE: other_cookie})
    assert (await client.get("/")).status == 401


async def test_english_help_lists_web_and_the_page_switches_language(world, clock):
    leader, client = world
    await leader.command("lang")
    await leader.command("help")
    assert "/web" in leader.text_out
    await sign_in(client, await link_from(leader))
    html = await (await client.get("/?lang=en")).text()
    assert "Sign out everywhere" in html
    assert "Sign out everywhere" in await (await client.get("/")).text()  # remembered


async def test_without_public_url_the_chat_says_the_console_is_off(db, clock, tmp_path):
    codes = await import_and_codes(db, clock, factories.campaign())
    chat = Chat(Dispatcher(make_deps(db, clock, tmp_path)), clock)
    await chat.command("start", codes["U1"][0])
    await chat.command("web")
    assert "PUBLIC_URL" in chat.text_out
    assert "/login/" not in chat.text_out


async def test_a_sign_in_posted_from_another_site_is_refused(world):
    leader, client = world
    token = await link_from(leader)
    forged = await client.post(f"/login/{token}", headers={"Origin": "https://evil.example"})
    assert forged.status == 403
    hidden = await client.post(f"/login/{token}", headers={"Origin": "null"})
    assert hidden.status == 403
    assert (await sign_in(client, token)).status == 303  # the link is still good
