"""The console's admin pages in a real browser (Debian's Chromium driven by Playwright), on
a 390 px phone and a 1366x768 office screen: import a broken campaign file and see its
problem, import it fixed, print the invite sheet, send a notice and read its delivery
report. Screenshots go to test-artifacts/browser-console-admin/ (look at them).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.console.admin_routes import AdminOptions
from bot.console.app import Console
from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from storage.db import transaction
from storage.db.models import Person
from tests.chat_harness import CATALOG, Chat, make_deps
from tests.conftest import EXAMPLE_CAMPAIGN, ROOT, Db
from tests.test_browser_demo import CHROMIUM, CHROMIUM_ARGS, WAIT_MS

pytestmark = pytest.mark.browser

from playwright.async_api import async_playwright, expect  # noqa: E402

ARTIFACTS = ROOT / "test-artifacts" / "browser-console-admin"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 768}}


@pytest.fixture
async def served(db: Db, clock: FrozenClock, tmp_path: Path) -> AsyncIterator[tuple[Chat, str]]:
    options = AdminOptions(bot_username="cchc_demo_bot", upload_dir=tmp_path / "uploads")
    server = TestServer(Console(db.sessions, CATALOG, clock, admin=options).app(), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    dispatcher = Dispatcher(make_deps(db, clock, tmp_path, console_url=base))
    admin = Chat(dispatcher, clock, name="Quản Trị Viên")
    await admin.command("start")
    async with transaction(db.sessions) as session:
        person = await session.scalar(select(Person).where(Person.full_name == "Quản Trị Viên"))
        assert person is not None
        person.is_admin = True
    try:
        yield admin, base
    finally:
        await server.close()


@pytest.mark.parametrize("screen", list(VIEWPORTS))
async def test_import_invites_and_a_notice(served, db, screen, tmp_path: Path) -> None:
    admin, base = served
    broken = tmp_path / "dot-kiem-tra.yaml"
    text = EXAMPLE_CAMPAIGN.read_text(encoding="utf-8")
    broken.write_text(text.replace("    team: D1\n", "    team: D9\n", 1), encoding="utf-8")
    fixed = tmp_path / "dot-kiem-tra-sua.yaml"
    fixed.write_text(text, encoding="utf-8")
    await admin.command("web")
    link = re.search(re.escape(base) + r"/login/[A-Za-z0-9_-]+", admin.text_out)
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
            await page.get_by_role("link", name="Quản trị").first.click()
            await page.get_by_role("link", name="Nhập tệp đợt kiểm tra").first.click()
            await page.locator('input[type="file"]').set_input_files(str(broken))
            await page.get_by_role("button", name="Kiểm tra tệp").click()
            await expect(page.locator(".problem")).to_have_count(1)
            await expect(page.locator(".problem")).to_contain_text("Dòng 37")
            await expect(page.locator(".problem")).to_contain_text("D9")
            await page.screenshot(path=str(ARTIFACTS / f"import-problems-{screen}.png"))
            await page.locator('input[type="file"]').set_input_files(str(fixed))
            await page.get_by_role("button", name="Kiểm tra tệp").click()
            await expect(page.locator(".notice-ok")).to_contain_text("23 đơn vị")
            await page.get_by_role("button", name="Nhập", exact=True).click()
            await expect(page.locator(".notice-ok")).to_have_text("Đã nhập tệp đợt kiểm tra.")
            await page.get_by_role("link", name="Phiếu mã mời để in").click()
            await expect(page.locator("article.card").first).to_be_visible()
            assert await page.locator("article.card svg.qr").count() >= 23
            await page.screenshot(path=str(ARTIFACTS / f"invite-sheet-{screen}.png"))
            await page.emulate_media(media="print")
            await expect(page.locator("header")).to_be_hidden()
            await page.emulate_media(media="screen")
            await page.go_back()
            await page.get_by_role("link", name="Thông báo").click()
            await page.get_by_label("Nội dung").fill("Họp giao ban <b>thứ Hai</b> lúc 8 giờ")
            await page.get_by_label("Gửi đến").select_option("pending")
            await page.get_by_role("button", name="Xem trước").click()
            await expect(page.locator(".recipients")).to_have_text("0 người")
            await page.screenshot(path=str(ARTIFACTS / f"notice-preview-{screen}.png"))
            await page.get_by_role("button", name="Gửi ngay").click()
            await expect(page.get_by_role("heading", level=1)).to_contain_text("Kết quả gửi")
            await expect(page.locator('tr[data-channel="all"] .pending')).to_have_text("0")
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= VIEWPORTS[screen]["width"]
            await page.screenshot(path=str(ARTIFACTS / f"notice-report-{screen}.png"))
            await page.goto(base + "/admin/health")
            await expect(page.locator("[data-count=pending]")).to_be_visible()
            await page.screenshot(path=str(ARTIFACTS / f"health-{screen}.png"), full_page=True)
        finally:
            await browser.close()
