"""`cchc-bot demo`, the README's first command, as a new user runs it: a subprocess with no
bot token and no settings, answering HTTP within 10 seconds, never touching the configured
database, and leaving nothing behind when stopped.

The only waits are on the subprocess itself (`wait(timeout=...)` between HTTP polls).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import ROOT
from tests.fake_telegram import free_port

STARTUP_BUDGET = 10.0  # seconds, from the issue
POLL = 0.1  # seconds the subprocess is waited on between two HTTP polls


def _page(url: str) -> str | None:
    """The page, or None while nothing listens yet."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            assert response.status == 200
            return str(response.read().decode())
    except (urllib.error.URLError, ConnectionError):
        return None


def test_demo_answers_http_within_ten_seconds_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    real_db = tmp_path / "real.sqlite3"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("BOT_TOKEN", "CCHC_LANG", "LANG", "LC_ALL", "LC_MESSAGES")
    }
    env.update(
        TMPDIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{real_db}",
        EVIDENCE_DIR=str(tmp_path / "real-evidence"),
    )
    command = [str(Path(sys.executable).parent / "cchc-bot"), "demo", "--port", str(port)]
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        page = _page(f"http://127.0.0.1:{port}/")
        while page is None and time.monotonic() - started < STARTUP_BUDGET:
            try:
                process.wait(timeout=POLL)
            except subprocess.TimeoutExpired:
                page = _page(f"http://127.0.0.1:{port}/")
                continue
            out, err = process.communicate()
            raise AssertionError(f"cchc-bot demo exited {process.returncode}:\n{out}\n{err}")
        answered_after = time.monotonic() - started
        assert page is not None and answered_after <= STARTUP_BUDGET, (
            f"no HTTP answer within {STARTUP_BUDGET} s"
        )
        assert "Trợ lý kiểm tra CCHC" in page and "/static/app.js" in page
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert not real_db.exists() and not (tmp_path / "real-evidence").exists()
    assert list(tmp_path.glob("cchc-demo-*")) == []  # its temporary folder is gone
    assert "Traceback" not in err, err


async def test_demo_serves_the_same_data_on_telegram_too(tmp_path: Path) -> None:
    """--telegram: a Telegram user joins with one of the demo's invite codes (a fake Bot API
    stands in for Telegram) and is greeted as that unit's contact, beside the web chat."""
    from pydantic import SecretStr

    from bot.demo import DemoOptions, demo_settings, running_demo
    from bot.settings import Settings
    from tests.fake_telegram import FakeTelegram

    async with FakeTelegram() as fake:
        base = Settings(
            bot_token=SecretStr(fake.token), telegram_api_url=fake.base_url, _env_file=None
        )
        settings = demo_settings(base, tmp_path / "demo")
        async with running_demo(settings, DemoOptions(port=0, telegram=True)) as demo:
            await fake.wait_polling(timeout=15)
            assert demo.telegram_username == fake.bot_username
            code, unit = demo.campaign.to_try[1]
            user = fake.user(7001, first_name="Hải", language_code="vi")
            fake.send_command(user, "start", code)
            greeting = await fake.wait_for(
                lambda call: call.ok and call.method == "sendMessage" and unit in call.text,
                timeout=15,
                chat_id=user.chat,
            )
            assert "Bắt đầu trả lời" in str(greeting.reply_markup)
            assert demo.channel.message_count("demo-leader") > 0  # the web side is there too


def test_demo_on_telegram_needs_a_token(tmp_path: Path) -> None:
    from click.testing import CliRunner

    import bot.cli_demo  # noqa: F401  (registers the command)
    from bot.cli import cli

    result = CliRunner().invoke(
        cli,
        ["demo", "--telegram"],
        env={"BOT_TOKEN": "", "CCHC_LANG": "vi", "TMPDIR": str(tmp_path)},
    )
    assert result.exit_code == 2
    assert "Cần BOT_TOKEN" in result.output
    assert list(tmp_path.glob("cchc-demo-*")) == []  # refused before making anything


async def test_demo_shows_the_desk_console_through_web_in_the_chat(tmp_path: Path) -> None:
    """The demo's team leader types /web in the web chat and opens the desk console."""
    import json
    import re

    import aiohttp

    from bot.demo import DESK, DemoOptions, demo_settings, running_demo
    from bot.settings import Settings

    settings = demo_settings(Settings(_env_file=None), tmp_path / "demo")
    async with running_demo(settings, DemoOptions(port=0)) as demo:
        await demo.server.inject("demo-leader", "/web")
        said = json.dumps([m.as_json() for m in demo.channel.history("demo-leader")])
        link = re.search(re.escape(demo.url + DESK) + r"/login/[A-Za-z0-9_-]+", said)
        assert link, said[-500:]
        # unsafe=True: the jar keeps cookies of an IP address (the demo's 127.0.0.1).
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            async with client.post(link.group(0)) as home:
                assert home.status == 200
                html = await home.text()
            board = re.search(r'href="(/desk/c/\d+)"', html)
            assert board, html
            async with client.get(demo.url + board.group(1)) as page:
                assert page.status == 200
                assert "đã nộp" in await page.text()
                board_html = await page.text()
                assert len(re.findall(r"data-unit=", board_html)) == 23
            # Under /desk too: a unit's report with its forms, and the workbook download.
            unit = re.search(r'href="(/desk/u/\d+)"', board_html)
            assert unit, board_html[-500:]
            async with client.get(demo.url + unit.group(1)) as report:
                report_html = await report.text()
                assert report.status == 200 and "data-item=" in report_html
                assert f'action="{unit.group(1)}/note"' in report_html  # the forms post under /desk
            workbook = re.search(r'href="(/desk/c/\d+/export\.xlsx)', board_html)
            assert workbook
            async with client.get(demo.url + workbook.group(1)) as download:
                assert download.status == 200 and (await download.read())[:2] == b"PK"
