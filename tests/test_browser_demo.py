"""The demo in a real browser (headless Chromium driven by Playwright).

A visitor opens the page, joins with an invite code, answers the last three items of
Sở Nội vụ's report (one with an uploaded file) and submits; then, as the team leader, sees
the alert and the summary with its chart; then moves the demo clock a day and, as the unit
contact of Quận 11, sees a reminder arrive. Screenshots go to test-artifacts/browser-demo/.

Chromium comes from Debian (/usr/bin/chromium); without it these tests are skipped, except
in CI (CI=true) where they fail. Every wait is Playwright's own (expect, wait_for_*).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.demo import DemoOptions, RunningDemo, demo_settings, running_demo
from bot.settings import Settings
from storage.services.invite_codes import format_code
from tests.chat_harness import CATALOG
from tests.conftest import IN_CI, ROOT

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "browser-demo"
PHONE = {"width": 390, "height": 844}  # a common phone screen (issue 19), in CSS pixels
WAIT_MS = 15_000
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"

if not CHROMIUM.exists():
    if IN_CI:
        pytest.fail("CI needs Debian's chromium at /usr/bin/chromium", pytrace=False)
    pytest.skip("no /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)

from playwright.async_api import Page, async_playwright, expect  # noqa: E402

expect.set_options(timeout=WAIT_MS)  # a loaded CI machine is slow; the waits stay bounded


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[RunningDemo]:
    settings = demo_settings(Settings(_env_file=None), tmp_path / "demo")
    async with running_demo(settings, DemoOptions(port=0)) as running:
        yield running


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        context = await browser.new_context(
            viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True
        )
        context.set_default_timeout(WAIT_MS)
        page = await context.new_page()
        try:
            yield page
        finally:
            await browser.close()


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def says(page: Page, text: str) -> None:
    """Wait until a bot bubble with `text` is on the page."""
    await expect(page.locator(".msg.bot", has_text=text).last).to_be_visible()


async def press(page: Page, label: str, then: str) -> None:
    """Press the latest button labelled `label`, and wait for `then` from the bot (a text
    only the answer has: the next press must find the buttons this answer brings)."""
    await page.locator(".msg.bot .choices button", has_text=label).last.click()
    await says(page, then)


async def switch_to(page: Page, key: str) -> None:
    """Be another demo person: the page reconnects and shows that person's chat."""
    await page.select_option("#person", key)
    await expect(page.locator("body")).to_have_attribute("data-chat", f"demo-{key}")


async def test_visitor_submits_leader_sees_it_time_brings_a_reminder(
    demo: RunningDemo, page: Page
) -> None:
    code, unit = demo.campaign.to_try[0]
    assert unit == "Sở Nội vụ"
    await page.goto(demo.url)
    await expect(page.locator("#demo")).to_be_visible()  # the demo's controls came
    await expect(page.locator("#entry")).to_be_visible()
    await expect(page.locator("#demo-clock")).to_have_text("29/09/2021 09:00")
    await shot(page, "01-entry-with-invite-code")

    # Join with the code, exactly as /start CODE.
    await page.locator("#codes button", has_text=format_code(code)).click()
    await page.locator("#code-form button").click()
    await says(page, "Bạn đã được liên kết với Sở Nội vụ")
    await expect(page.locator("#entry")).to_be_hidden()
    await press(page, "Bắt đầu trả lời", "Mục 22/24")

    # 7.3: a choice that needs evidence, given as an uploaded file.
    await press(page, "Đã áp dụng", "Đã lưu mục 7.3: Đã áp dụng")
    await page.set_input_files(
        "#file",
        files=[{"name": "chung-nhan-iso-9001.pdf", "mimeType": "application/pdf", "buffer": PDF}],
    )
    await says(page, "Đã nhận «chung-nhan-iso-9001.pdf»")
    await shot(page, "02-evidence-uploaded")
    await press(page, "Tiếp tục", "Mục 23/24")

    # 7.4: several options, then done.
    await page.locator(".msg.bot .choices button", has_text="thư điện tử công vụ").last.click()
    await expect(
        page.locator(".msg.bot .choices button", has_text="☑ Hệ thống thư điện tử công vụ").last
    ).to_be_visible()
    await press(page, "Xong", "Đã lưu mục 7.4")
    await press(page, "Tiếp tục", "Mục 24/24")

    # 9.1: typed text, then review and submit.
    await page.fill("#text", "Đề nghị tập huấn thêm về số hóa hồ sơ <TTHC> & chữ ký số.")
    await page.locator("#send").click()
    await says(page, "Báo cáo đã đủ để nộp")
    await press(page, "Nộp báo cáo", "Nộp báo cáo của")
    await press(page, "Xác nhận", "Đã nộp báo cáo")
    await shot(page, "03-report-submitted")

    # The team leader: the alert came through the outbox; /summary draws the chart.
    await switch_to(page, "leader")
    await says(page, "Sở Nội vụ đã nộp báo cáo")
    await shot(page, "04-leader-alert")
    await page.locator("[data-command='/summary']").click()
    chart = page.locator(".msg.bot img.photo").last
    await expect(chart).to_be_visible()
    await page.wait_for_function(
        "() => [...document.querySelectorAll('img.photo')].some(i => i.naturalWidth > 200)"
    )
    await says(page, "Sở Nội vụ")
    await chart.scroll_into_view_if_needed()
    await shot(page, "05-leader-summary-chart")

    # Quận 11 has not submitted: a day later the reminder arrives as it would.
    await switch_to(page, "contact")
    reminders = page.locator(".msg.bot", has_text="Nhắc hạn nộp báo cáo")
    before = await reminders.count()
    await page.locator("[data-step='day']").click()
    await expect(page.locator("#demo-clock")).to_contain_text("30/09/2021 09:0")
    await expect(reminders).to_have_count(before + 1)
    await expect(reminders.last).to_contain_text("Ủy ban nhân dân Quận 11")
    await shot(page, "06-contact-reminder-after-a-day")


async def test_english_page_and_the_admin(demo: RunningDemo, page: Page) -> None:
    await page.goto(demo.url + "/?lang=en")
    await expect(page.locator("#demo")).to_be_visible()
    await expect(page.locator("h1")).to_have_text("CCHC inspection assistant")
    await switch_to(page, "admin")
    await says(page, "Phạm Thu Hà")  # the greeting, in the language she joined with
    await page.locator("[data-step='deadline']").click()
    await expect(page.locator("#demo-clock")).to_have_text("30/09/2021 17:01")
    await shot(page, "07-admin-english-at-the-deadline")


async def test_lang_en_switches_the_whole_page_and_the_bar_is_the_persons(
    demo: RunningDemo, page: Page
) -> None:
    # Issue 19: "/lang en" turns the page itself to English (header, demo bar, command bar,
    # input placeholder), the command bar holds the person's own commands and fits 390 px,
    # and the page has a favicon.
    await page.goto(demo.url)
    icon = await page.locator("link[rel='icon']").get_attribute("href")
    assert icon is not None
    favicon = await page.request.get(demo.url + icon)
    assert favicon.ok and favicon.headers["content-type"] == "image/svg+xml"
    await switch_to(page, "leader")
    bar = page.locator("nav.commands button")
    await expect(bar.filter(has_text="Thông báo")).to_be_visible()  # a leader's command
    await expect(bar.filter(has_text="Trả lời")).to_have_count(0)  # a contact's, not his
    await page.locator("#text").fill("/lang en")
    await page.locator("#send").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("h1")).to_have_text("CCHC inspection assistant")
    await expect(page.locator("#text")).to_have_attribute(
        "placeholder", CATALOG.t("en", "web.message_placeholder")
    )
    await expect(page.locator("[data-step='day']")).to_have_text(
        CATALOG.t("en", "web.demo.plus_day")
    )
    await expect(bar.filter(has_text="Notice")).to_be_visible()
    await says(page, CATALOG.t("en", "onboarding.language_set"))
    # Everything in sight at 390 px: no sideways scrolling, every command on screen.
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    for box in [await b.bounding_box() for b in await bar.all()]:
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    await shot(page, "08-leader-lang-en-whole-page")
    # And back: the header's language link changes the person's language too.
    await page.locator("a.lang").click()
    await expect(page.locator("html")).to_have_attribute("lang", "vi")
    await expect(bar.filter(has_text="Thông báo")).to_be_visible()
