"""The desk console in a real browser (Debian's Chromium driven by Playwright), on a
390 px phone and a 1366x768 office screen: sign in by the link /web sent in chat, open
the campaign board, filter it, sign out everywhere. Screenshots go to
test-artifacts/browser-console/ (look at them).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from bot.console.app import Console
from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from tests import factories
from tests.chat_harness import CATALOG, Chat, import_and_codes, make_deps
from tests.conftest import ROOT, Db
from tests.test_browser_demo import CHROMIUM, CHROMIUM_ARGS, WAIT_MS

pytestmark = pytest.mark.browser

from playwright.async_api import async_playwright, expect  # noqa: E402

ARTIFACTS = ROOT / "test-artifacts" / "browser-console"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 768}}


@pytest.fixture
async def served(db: Db, clock: FrozenClock, tmp_path: Path) -> AsyncIterator[tuple[Chat, str]]:
    codes = await import_and_codes(db, clock, factories.campaign())
    server = TestServer(Console(db.sessions, CATALOG, clock).app(), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    dispatcher = Dispatcher(make_deps(db, clock, tmp_path, console_url=base))
    leader = Chat(dispatcher, clock, name="Nguyễn Văn Trưởng")
    await leader.command("start", codes["team_leader:D1"][0])
    try:
        yield leader, base
    finally:
        await server.close()


@pytest.mark.parametrize("screen", list(VIEWPORTS))
async def test_sign_in_board_and_sign_out(served, db, screen):
    leader, base = served
    await leader.command("web")
    link = re.search(re.escape(base) + r"/login/[A-Za-z0-9_-]+", leader.text_out)
    assert link
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        phone = screen == "phone"
        context = await browser.new_context(
            viewport=VIEWPORTS[screen], is_mobile=phone, has_touch=phone
        )
        context.set_default_timeout(WAIT_MS)
        page = await context.new_page()
        try:
            await page.goto(link.group(0))
            await page.get_by_role("button", name="Đăng nhập").click()
            await expect(page.get_by_role("heading")).to_have_text("Xin chào, Nguyễn Văn Trưởng")
            await page.get_by_role("link", name="Kiểm tra công tác CCHC - thử nghiệm").click()
            await expect(page.locator(".counts .done")).to_have_text("0/3 đã nộp")
            await expect(page.locator("tr[data-unit]")).to_have_count(3)
            # Nothing sticks out sideways on the phone but the table, which scrolls itself.
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= VIEWPORTS[screen]["width"]
            await page.screenshot(path=str(ARTIFACTS / f"board-{screen}.png"), full_page=True)
            await page.get_by_role("searchbox").fill("Phường 2")
            await page.get_by_role("button", name="Lọc").click()
            await expect(page.locator("tr[data-unit]")).to_have_count(1)
            await page.get_by_role("link", name="English").click()
            await expect(page.locator(".counts .done")).to_have_text("0/3 submitted")
            await page.goto(base + "/")
            await page.get_by_role("button", name="Sign out everywhere").click()
            await expect(page.get_by_role("heading")).to_have_text("Signed out")
            await page.screenshot(path=str(ARTIFACTS / f"signed-out-{screen}.png"))
            await page.goto(base + "/")
            await expect(page.locator(".message")).to_contain_text("/web")
        finally:
            await browser.close()


@pytest.fixture
async def reviewing(db: Db, clock: FrozenClock, tmp_path: Path):
    """A leader, and a unit whose contact submitted its report in chat (with a real PNG
    added to item 1.2's evidence, so the preview can be seen decoded)."""
    import io

    import segno
    from sqlalchemy import select

    from storage.db import transaction
    from storage.db.models import EvidenceFile, Item, Person
    from storage.services.submissions import submission_for
    from tests.test_console_report import _submit

    codes = await import_and_codes(db, clock, factories.campaign())
    deps = make_deps(db, clock, tmp_path)
    server = TestServer(
        Console(db.sessions, CATALOG, clock, evidence=deps.evidence).app(), host="127.0.0.1"
    )
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    deps.console_url = base
    dispatcher = Dispatcher(deps)
    leader = Chat(dispatcher, clock, name="Nguyễn Văn Trưởng")
    await leader.command("start", codes["team_leader:D1"][0])
    lan = Chat(dispatcher, clock, name="Trần Thị Lan")
    await lan.command("start", codes["U1"][0])
    await _submit(lan)
    png = io.BytesIO()
    segno.make("CCHC").save(png, kind="png", scale=8)
    (deps.evidence.root / "qr.png").write_bytes(png.getvalue())
    async with transaction(db.sessions) as session:
        item = await session.scalar(select(Item).where(Item.code == "1.2"))
        person = await session.scalar(select(Person.id).where(Person.full_name == "Trần Thị Lan"))
        assert item is not None and person is not None
        submission = await submission_for(session, 1)
        session.add(
            EvidenceFile(
                submission_id=submission.id,
                item_id=item.id,
                file_name="ma-qr.png",
                size=len(png.getvalue()),
                mime_type="image/png",
                sha256="0" * 64,
                storage_path="qr.png",
                uploaded_by=person,
                uploaded_at=clock.now(),
            )
        )
    try:
        yield leader, base
    finally:
        await server.close()


@pytest.mark.parametrize("screen", list(VIEWPORTS))
async def test_open_a_unit_return_it_with_a_comment_and_the_chat_is_told(reviewing, db, screen):
    from sqlalchemy import select

    from storage.db.models import OutboxMessage

    leader, base = reviewing
    await leader.command("web")
    link = re.search(re.escape(base) + r"/login/[A-Za-z0-9_-]+", leader.text_out)
    assert link
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        phone = screen == "phone"
        context = await browser.new_context(
            viewport=VIEWPORTS[screen], is_mobile=phone, has_touch=phone
        )
        context.set_default_timeout(WAIT_MS)
        page = await context.new_page()
        try:
            await page.goto(link.group(0))
            await page.get_by_role("button", name="Đăng nhập").click()
            await page.get_by_role("link", name="Kiểm tra công tác CCHC - thử nghiệm").click()
            await expect(page.locator(".chart-label")).to_have_text("D1: 1/3 đã nộp")
            await page.get_by_role("link", name="Ủy ban nhân dân Phường 1").click()
            await expect(page.locator("article[data-item]")).to_have_count(7)
            # The PNG is shown decoded: the page's CSP lets the console's own files in.
            preview = page.locator('img[alt="ma-qr.png"]')
            await preview.scroll_into_view_if_needed()  # it loads lazily
            await page.wait_for_function(
                "() => document.querySelector('img[alt=\"ma-qr.png\"]').naturalWidth > 0"
            )
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= VIEWPORTS[screen]["width"]
            await page.screenshot(path=str(ARTIFACTS / f"report-{screen}.png"), full_page=True)
            card = page.locator('article[data-item="1.3"]')
            await card.get_by_label("Nhận xét, yêu cầu bổ sung cho mục này").fill(
                "Thiếu báo cáo chứng minh tỷ lệ"
            )
            await card.get_by_role("button", name="Lưu nhận xét").click()
            await expect(page.locator("#flash")).to_contain_text("Đã lưu nhận xét")
            await page.get_by_role("button", name="Trả lại để bổ sung (1 mục)").click()
            await expect(page.locator("#flash")).to_contain_text("Đã trả lại báo cáo")
            await expect(page.locator(".counts")).to_contain_text("Trả lại để sửa")
            await page.screenshot(path=str(ARTIFACTS / f"returned-{screen}.png"), full_page=True)
        finally:
            await browser.close()
    async with db.sessions() as session:
        [notice] = (
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.template == "review.returned_notice")
            )
        ).all()
    assert "1.3: Thiếu báo cáo chứng minh tỷ lệ" in notice.params["items"]
