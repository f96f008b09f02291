"""A campaign with people of every role signed in to the console, for the admin page tests.

Campaign KT-A has two teams (D1: U1, U2; D2: U3). A unit contact of U1, a member and the
leader of D1, and an admin join by chat (real dispatcher, real /web sign-in links); each
role gets its own browser (aiohttp test client); "anonymous" is not signed in.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.channel_status import ChannelStatus
from bot.console.admin_routes import AdminOptions
from bot.console.app import Console
from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from storage.db import transaction
from storage.db.models import Campaign, Person
from storage.formats.campaign_spec import TeamSpec
from storage.services.evidence import EvidenceStore
from tests import factories
from tests.chat_harness import CATALOG, Chat, import_and_codes, make_deps
from tests.conftest import Db

BASE = "http://console.test"
LINK = re.compile(re.escape(BASE) + r"/login/([A-Za-z0-9_-]+)")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
BOT = "cchc_test_bot"
ZALO_LINK = "https://zalo.me/s/cchc-test"
ROLES = ("contact", "member", "leader", "admin", "anonymous")


def two_teams(code: str) -> factories.CampaignSpec:
    spec = factories.campaign(code)
    units = (*spec.units[:2], replace(spec.units[2], team="D2"))
    teams = (*spec.teams, TeamSpec("D2", "Đoàn kiểm tra số 2", leaders=1, members=0))
    return replace(spec, teams=teams, units=units)


@dataclass
class World:
    db: Db
    clock: FrozenClock
    console: Console
    clients: dict[str, TestClient]
    chats: dict[str, Chat]
    csrf: dict[str, str]
    campaign_id: int
    codes: dict[str, list[str]]
    status: ChannelStatus

    async def sign_in(self, role: str) -> tuple[TestClient, str]:
        """Another browser for the same person: its own session and CSRF token."""
        client = TestClient(TestServer(self.console.app()))
        await client.start_server()
        await self.chats[role].command("web")
        token = LINK.search(self.chats[role].text_out)
        assert token is not None
        assert (await client.post(f"/login/{token.group(1)}", allow_redirects=False)).status == 303
        found = CSRF.search(await (await client.get("/")).text())
        assert found is not None
        self.clients[f"{role}#{len(self.clients)}"] = client
        return client, found.group(1)


async def make_world(
    db: Db, clock: FrozenClock, tmp_path: Path, *, bot_username: str | None = BOT
) -> AsyncIterator[World]:
    codes = await import_and_codes(db, clock, two_teams("KT-A"))
    dispatcher = Dispatcher(make_deps(db, clock, tmp_path, console_url=BASE))
    chats = {
        "contact": Chat(dispatcher, clock, name="Đầu Mối"),
        "member": Chat(dispatcher, clock, name="Thành Viên"),
        "leader": Chat(dispatcher, clock, name="Trưởng Đoàn"),
        "admin": Chat(dispatcher, clock, name="Quản Trị"),
    }
    joins = {
        "contact": codes["U1"][0],
        "member": codes["team_member:D1"][0],
        "leader": codes["team_leader:D1"][0],
    }
    for role, code in joins.items():
        await chats[role].command("start", code)
    await chats["admin"].command("start")
    async with transaction(db.sessions) as session:
        admin = await session.scalar(select(Person).where(Person.full_name == "Quản Trị"))
        assert admin is not None
        admin.is_admin = True
        campaign_id = await session.scalar(select(Campaign.id).where(Campaign.code == "KT-A"))
        assert campaign_id is not None
    status = ChannelStatus(clock.now, telegram_username=bot_username)
    options = AdminOptions(
        status=status,
        bot_username=bot_username,
        zalo_link=ZALO_LINK,
        upload_dir=tmp_path / "uploads",
        max_upload_bytes=200_000,
    )
    console = Console(
        db.sessions, CATALOG, clock, evidence=EvidenceStore(tmp_path / "ev"), admin=options
    )
    world = World(db, clock, console, {}, chats, {}, campaign_id, codes, status)
    for role in ROLES:
        if role == "anonymous":
            client = TestClient(TestServer(console.app()))
            await client.start_server()
            world.clients[role] = client
            world.csrf[role] = ""
            continue
        client, csrf = await world.sign_in(role)
        world.clients[role] = client
        world.csrf[role] = csrf
    yield world
    for client in set(world.clients.values()):
        await client.close()
