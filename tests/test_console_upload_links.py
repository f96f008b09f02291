"""Personal upload links for a chat without documents (Zalo): asked for in chat, opened on
the console's upload page, files kept in the evidence store, the chat told what arrived.
An expired, replaced, revoked or forged link gives a clear page and stores nothing.
Real dispatcher (a Zalo chat), real console, real database on both backends.
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.console.app import Console
from bot.outbox_render import render_text
from common.clock import FrozenClock
from common.messages import Capabilities
from handlers.dispatcher import Dispatcher
from storage.db.models import ChatAccount, EvidenceFile, Item, OutboxMessage
from storage.services.evidence import EvidenceStore
from tests import factories
from tests.chat_harness import CATALOG, Chat, import_and_codes, make_deps
from tests.conftest import Db

BASE = "http://desk.test"
UPLOAD = re.compile(re.escape(BASE) + r"/up/([A-Za-z0-9_-]+)")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
ZALO = Capabilities(buttons=False, edit=False, documents=False, max_text=2000)


async def zalo_contact(db: Db, clock: FrozenClock, tmp_path: Path, **deps: object) -> Chat:
    codes = await import_and_codes(db, clock, factories.campaign())
    dispatcher = Dispatcher(make_deps(db, clock, tmp_path, capabilities={"zalo": ZALO}, **deps))
    lan = Chat(dispatcher, clock, name="Nguyễn Lan", platform="zalo")
    await lan.command("start", codes["U1"][0])
    await lan.command("checklist")
    await lan.text("31/12/2020")  # item 1.1 answered: its evidence is asked for next
    assert "Gửi tài liệu (PDF, Word, Excel)" in lan.text_out
    return lan


async def item_id(db: Db, code: str) -> int:
    async with db.sessions() as session:
        found = await session.scalar(select(Item.id).where(Item.code == code))
    assert found is not None
    return found


async def stored_files(db: Db) -> list[EvidenceFile]:
    async with db.sessions() as session:
        return list(await session.scalars(select(EvidenceFile).order_by(EvidenceFile.id)))


@pytest.fixture
async def desk(db: Db, clock: FrozenClock, tmp_path: Path):
    console = Console(db.sessions, CATALOG, clock, evidence=EvidenceStore(tmp_path / "ev"))
    client = TestClient(TestServer(console.app()))
    await client.start_server()
    yield client
    await client.close()


def pdf_form(name: str = "Quyết định 12.pdf", data: bytes = PDF) -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("file", data, filename=name, content_type="application/pdf")
    return form


async def ask_link(lan: Chat, db: Db) -> str:
    await lan.press(f"ul:{await item_id(db, '1.1')}")
    found = UPLOAD.search(lan.text_out)
    assert found, lan.text_out
    return found.group(1)


async def test_a_link_takes_documents_for_its_item_and_the_chat_is_told(db, clock, tmp_path, desk):
    lan = await zalo_contact(db, clock, tmp_path, upload_url=BASE)
    token = await ask_link(lan, db)
    assert "dùng đến 02/09/2021 08:00" in lan.text_out  # 24 hours, the campaign's time
    page = await desk.get(f"/up/{token}")
    text = html.unescape(await page.text())
    assert page.status == 200 and "Tải tài liệu lên: mục 1.1" in text
    assert "Ban hành kế hoạch CCHC năm đúng thời hạn" in text
    assert "5.2" not in text  # that item only
    uploaded = await desk.post(f"/up/{token}", data=pdf_form())
    assert uploaded.status == 200
    assert "Đã nhận «Quyết định 12.pdf»" in html.unescape(await uploaded.text())
    (row,) = await stored_files(db)
    assert row.sha256 == hashlib.sha256(PDF).hexdigest() and row.item_id == await item_id(db, "1.1")
    async with db.sessions() as session:
        (told,) = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "contact.upload_received")
        )
        account = await session.get(ChatAccount, told.chat_account_id)
    assert account is not None and account.platform == "zalo"
    message = render_text(CATALOG, "vi", told.template, told.params)
    assert "Quyết định 12.pdf" in message and "Mục 1.1 hiện có 1 tệp" in message
    # A photo sent in the chat now is still this item's evidence.
    await lan.file("anh.jpg", bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9"))
    assert "Mục 1.1 hiện có 2 tệp" in lan.text_out


async def test_expired_replaced_revoked_and_forged_links_store_nothing(db, clock, tmp_path, desk):
    lan = await zalo_contact(db, clock, tmp_path, upload_url=BASE)
    first = await ask_link(lan, db)
    second = await ask_link(lan, db)  # a new link for the item replaces the first
    forged = first[:-4] + ("AAAA" if not first.endswith("AAAA") else "BBBB")
    for token in (first, forged, "x"):
        for response in (
            await desk.get(f"/up/{token}"),
            await desk.post(f"/up/{token}", data=pdf_form()),
        ):
            assert response.status == 410
            assert "Đường dẫn tải lên này đã hết hạn" in html.unescape(await response.text())
    assert (await desk.get(f"/up/{second}")).status == 200
    clock.advance(timedelta(hours=24, seconds=1))
    assert (await desk.post(f"/up/{second}", data=pdf_form())).status == 410
    clock.advance(timedelta(hours=-24, seconds=-1))
    await lan.command("web", "off")  # sign out everywhere revokes the upload links too
    assert (await desk.post(f"/up/{second}", data=pdf_form())).status == 410
    assert await stored_files(db) == []
    assert not any(p.is_file() for p in (tmp_path / "ev").rglob("*"))


async def test_a_refused_file_through_a_link_says_why_and_the_chat_hears_nothing(
    db, clock, tmp_path, desk
):
    lan = await zalo_contact(db, clock, tmp_path, upload_url=BASE)
    token = await ask_link(lan, db)
    response = await desk.post(f"/up/{token}", data=pdf_form("rỗng.pdf", b""))
    assert "Tệp «rỗng.pdf» rỗng (0 byte)" in html.unescape(await response.text())
    assert await stored_files(db) == []
    async with db.sessions() as session:
        assert (
            await session.scalar(
                select(OutboxMessage).where(OutboxMessage.template == "contact.upload_received")
            )
            is None
        )


async def test_without_public_url_the_bot_offers_photos_or_an_explanation(db, clock, tmp_path):
    lan = await zalo_contact(db, clock, tmp_path)  # no upload_url: PUBLIC_URL is not set
    await lan.press(f"ul:{await item_id(db, '1.1')}")
    said = lan.text_out
    assert "chưa có địa chỉ web (PUBLIC_URL)" in said and "chụp ảnh tài liệu" in said
    assert "Giải trình" in said and "/up/" not in said
