"""The demo's person switcher signs the visitor in to the desk console as that person (the
demo only: elsewhere a person signs in by the one-time link /web sends), and the guest,
who has not joined, is signed out of it."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from bot.demo import DESK, DemoOptions, demo_settings, running_demo
from bot.settings import Settings
from storage.db.models import OutboxMessage


async def test_switching_person_signs_in_to_the_desk(tmp_path: Path) -> None:
    settings = demo_settings(Settings(_env_file=None), tmp_path / "demo")
    async with running_demo(settings, DemoOptions(port=0)) as demo:
        jar = aiohttp.CookieJar(unsafe=True)  # keeps the cookies of 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as client:
            page = await client.get(demo.url + "/")
            assert 'href="/desk/"' in await page.text()  # the page links the console

            async def switch(person: str) -> None:
                response = await client.post(demo.url + "/demo/switch", json={"person": person})
                assert response.status == 200, await response.text()

            await switch("contact")
            home = await client.get(demo.url + DESK + "/")
            text = await home.text()
            assert home.status == 200 and "Xin chào" in text
            report = re.search(r'href="(/desk/r/\d+)"', text)
            assert report, text
            assert (await client.get(demo.url + report.group(1))).status == 200
            await switch("leader")
            text = await (await client.get(demo.url + DESK + "/")).text()
            assert re.search(r'href="/desk/c/\d+"', text) and "/desk/r/" not in text
            assert (await client.get(demo.url + report.group(1))).status == 404
            await switch("guest")
            assert (await client.get(demo.url + DESK + "/")).status == 401
        async with demo.app.sessions() as session:
            told = await session.scalar(
                select(func.count()).where(OutboxMessage.template == "console.signed_in")
            )
        assert told == 0  # the switch is the demo's own: no "signed in from" message
