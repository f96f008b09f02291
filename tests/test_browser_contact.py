"""The unit contact's checklist in a real browser (Debian's Chromium driven by Playwright)
on a 390x844 phone: sign in by the link /web sent in chat, open the report from home,
answer an item (a wrong value first), upload a file through the file input (the page's
script sends it with a progress bar). Screenshots go to test-artifacts/browser-contact/.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.console.app import Console
from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from storage.db.models import Answer, EvidenceFile
from storage.services.evidence import EvidenceStore
from tests import factories
from tests.chat_harness import CATALOG, Chat, import_and_codes, make_deps
from tests.conftest import ROOT, Db
from tests.test_browser_demo import CHROMIUM, CHROMIUM_ARGS, WAIT_MS

pytestmark = pytest.mark.browser

from playwright.async_api import async_playwright, expect  # noqa: E402

ARTIFACTS = ROOT / "test-artifacts" / "browser-contact"
PHONE = {"width": 390, "height": 844}
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
# Drops files named by the argument, each a small PDF (different bytes: not duplicates).
DROP = """(zone, [names]) => {
  const data = new DataTransfer();
  names.forEach((name, i) => data.items.add(
    new File(["%PDF-1.4\\n% " + i + "\\n%%EOF\\n"], name, {type: "application/pdf"})));
  zone.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
}"""


@pytest.fixture
async def served(db: Db, clock: FrozenClock, tmp_path: Path) -> AsyncIterator[tuple[Chat, str]]:
    codes = await import_and_codes(db, clock, factories.campaign())
    console = Console(db.sessions, CATALOG, clock, evidence=EvidenceStore(tmp_path / "ev"))
    server = TestServer(console.app(), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    dispatcher = Dispatcher(make_deps(db, clock, tmp_path, console_url=base))
    contact = Chat(dispatcher, clock, name="Nguyễn Thị Lan")
    await contact.command("start", codes["U1"][0])
    try:
        yield contact, base
    finally:
        await server.close()


async def test_a_contact_answers_and_uploads_on_a_phone(served, db, tmp_path):
    contact, base = served
    await contact.command("web")
    link = re.search(re.escape(base) + r"/login/[A-Za-z0-9_-]+", contact.text_out)
    assert link
    document = tmp_path / "Kế hoạch CCHC 2021.pdf"
    document.write_bytes(PDF)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        context.set_default_timeout(WAIT_MS)
        page = await context.new_page()
        try:
            await page.goto(link.group(0))
            await page.get_by_role("button", name="Đăng nhập").click()
            await page.get_by_role("link", name="Điền báo cáo: Ủy ban nhân dân Phường 1").click()
            await expect(page.locator("article[data-item]")).to_have_count(7)
            percent = page.locator('article[data-item="1.3"]')
            await percent.get_by_label("1.3").fill("150")
            await percent.get_by_role("button", name="Lưu").click()
            percent = page.locator('article[data-item="1.3"]')
            await expect(percent.locator(".error")).to_contain_text("từ 0 đến 100")
            await expect(percent.get_by_label("1.3")).to_have_value("150")  # kept to correct
            await percent.get_by_label("1.3").fill("96,5")
            await percent.get_by_role("button", name="Lưu").click()
            percent = page.locator('article[data-item="1.3"]')
            await expect(percent.locator(".saved")).to_have_text("✅ Đã lưu mục 1.3: 96,5%")
            plan = page.locator('article[data-item="1.1"]')
            await plan.locator("input[type=file]").set_input_files(str(document))
            await expect(plan.locator(".outcomes .ok")).to_contain_text(
                "Đã nhận «Kế hoạch CCHC 2021.pdf»"
            )
            await expect(plan.locator("[data-files] li")).to_have_text(["Kế hoạch CCHC 2021.pdf"])
            # Dropped on the zone: two files at once (a real DragEvent with their data).
            budget = page.locator('article[data-item="1.2"]')
            await budget.locator(".drop").evaluate(DROP, [["Dự toán.pdf", "Phụ lục.pdf"]])
            await expect(budget.locator(".outcomes .ok")).to_have_count(2)
            await expect(budget.locator("[data-files] li")).to_have_text(
                ["Dự toán.pdf", "Phụ lục.pdf"]
            )
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"]
            await plan.scroll_into_view_if_needed()
            await page.screenshot(path=str(ARTIFACTS / "report-phone.png"))
            await page.get_by_role("link", name="Xem lại và nộp báo cáo ›").first.click()
            await expect(page.get_by_role("heading")).to_contain_text("Xem lại trước khi nộp")
            await page.screenshot(path=str(ARTIFACTS / "review-phone.png"), full_page=True)
        finally:
            await browser.close()
    async with db.sessions() as session:
        values = [a.value for a in await session.scalars(select(Answer))]
        files = list(await session.scalars(select(EvidenceFile).order_by(EvidenceFile.id)))
    assert values == [96.5]
    assert [f.file_name for f in files] == ["Kế hoạch CCHC 2021.pdf", "Dự toán.pdf", "Phụ lục.pdf"]
