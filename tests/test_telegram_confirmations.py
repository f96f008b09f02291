"""Telegram is told an update is done only once it is, and an update it hands out again is
handled once: polling's offset never passes an update still in flight, the webhook answers
200 only after the commit, and a crash loses no message and answers none twice.

A crash is a stop that cancels what is in flight at once (`drain_timeout=0`): nothing of
an update cancelled before its commit is kept, as after kill -9. The fake Bot API keeps
every update not confirmed and hands it out again, as Telegram does (checked first).
Nothing sleeps: the tests wait on events and on the fake's recorded calls and deliveries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiogram import Bot
from aiohttp import web
from sqlalchemy import func, select

from bot.channels.telegram import build_bot, run_polling, run_webhook
from common.clock import FrozenClock
from common.messages import ConversationHandler, Deliver, Inbound, Reply
from handlers.dispatcher import Dispatcher
from storage.db.models import Answer, AnswerRevision
from tests import factories
from tests.chat_harness import Chat, import_and_codes, make_deps
from tests.conftest import Db
from tests.fake_telegram import FakeTelegram, free_port
from tests.turns import InTurns

LAN, MINH = 501, 502  # unit contacts of U1 and U2, in private chats
SAVED = "Đã lưu mục 1.1"
SECRET = "s3cret_Token"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    bot = build_bot(fake.token, fake.base_url)
    yield bot
    await bot.session.close()


def ids(updates: list) -> list[int]:
    return [u["update_id"] if isinstance(u, dict) else u.update_id for u in updates]


# ---- the fake hands out again what was not confirmed, as Telegram does ---------------------


async def test_the_fake_hands_an_update_out_again_until_an_offset_passes_it(
    fake: FakeTelegram, bot: Bot
) -> None:
    first, second = fake.send_text(7, "một"), fake.send_text(7, "hai")
    both = [first["update_id"], second["update_id"]]
    assert ids(await bot.get_updates(timeout=0)) == both
    assert ids(await bot.get_updates(timeout=0)) == both  # taken, not confirmed: again
    assert ids(await bot.get_updates(offset=both[1], timeout=0)) == both[1:]
    assert ids(fake.pending_updates) == both[1:]


async def test_the_fake_keeps_an_update_its_webhook_could_not_deliver(
    fake: FakeTelegram, bot: Bot
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    await bot.set_webhook(url)  # nobody listens there yet
    update = fake.send_text(7, "xin chào")
    assert await fake.wait_delivered(update["update_id"]) == [0]
    assert ids(fake.pending_updates) == [update["update_id"]]
    statuses = iter([500, 200])

    async def hook(request: web.Request) -> web.Response:
        return web.Response(status=next(statuses))

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await bot.set_webhook(url)  # Telegram tries again on its own; the fake at setWebhook
        assert await fake.wait_delivered(update["update_id"], times=2) == [0, 500]
        await bot.set_webhook(url)
        assert await fake.wait_delivered(update["update_id"], times=3) == [0, 500, 200]
        assert fake.pending_updates == []
    finally:
        await runner.cleanup()


# ---- polling ---------------------------------------------------------------------------------


async def test_polling_never_confirms_an_update_still_being_handled(
    fake: FakeTelegram, bot: Bot
) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def answer(event: Inbound) -> list[Reply]:
        if event.text == "chậm":
            started.set()
            await release.wait()
        return [Reply(f"re {event.text}")]

    stop = asyncio.Event()
    polling = asyncio.create_task(
        run_polling(bot, InTurns(answer), stop_event=stop, polling_timeout=5, close_session=False)
    )
    await fake.wait_polling()
    slow = fake.send_text(7, "chậm")["update_id"]
    await started.wait()
    quick = fake.send_text(8, "nhanh")["update_id"]  # another chat: handled meanwhile
    answered = await fake.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 8)
    await fake.wait_for(lambda c: c.method == "getUpdates", since=answered.index + 1)
    polls = [c for c in fake.calls_to("getUpdates") if "offset" in c.params]
    assert polls and all(c.params["offset"] <= slow for c in polls)
    assert ids(fake.pending_updates) == [slow, quick]  # the quick one too: it is after
    release.set()
    await fake.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 7)
    stop.set()
    await asyncio.wait_for(polling, 10)
    assert fake.pending_updates == []  # a stop confirms what was handled
    assert (fake.texts(7), fake.texts(8)) == (["re chậm"], ["re nhanh"])  # each once


# ---- a crash and a restart, with the real dispatcher, on SQLite and PostgreSQL ---------------


class Held:
    """The real conversation handler, holding one chat's events open until released."""

    def __init__(self, handler: ConversationHandler, chat_id: int) -> None:
        self.handler, self.chat_id = handler, str(chat_id)
        self.started, self.release = asyncio.Event(), asyncio.Event()

    async def __call__(self, event: Inbound, deliver: Deliver | None = None) -> list[Reply]:
        if event.sender.chat_id == self.chat_id:
            self.started.set()
            await self.release.wait()
        return await self.handler(event, deliver)


@dataclass
class World:
    db: Db
    clock: FrozenClock
    tmp_path: Path

    def dispatcher(self) -> Dispatcher:
        """A dispatcher of its own: each start of the bot is a new process."""
        return Dispatcher(make_deps(self.db, self.clock, self.tmp_path))

    async def answers(self) -> tuple[int, int]:
        async with self.db.sessions() as session:
            answers = await session.scalar(select(func.count()).select_from(Answer))
            revisions = await session.scalar(select(func.count()).select_from(AnswerRevision))
        return int(answers or 0), int(revisions or 0)


@pytest.fixture
async def world(db: Db, clock: FrozenClock, tmp_path: Path) -> World:
    """Lan (U1) and Minh (U2) joined, each at the checklist's first item (a date)."""
    world = World(db, clock, tmp_path)
    codes = await import_and_codes(db, clock, factories.campaign())
    for user, unit in ((LAN, "U1"), (MINH, "U2")):
        chat = Chat(world.dispatcher(), clock, user_id=str(user))
        await chat.command("start", codes[unit][0])
        await chat.command("checklist")
    return world


def said(fake: FakeTelegram, chat: int) -> list[str]:
    """What the bot said to a chat (new messages and edits)."""
    return [c.text for c in fake.sent(chat) + fake.edits(chat)]


def handled_already(fake: FakeTelegram, update_id: int) -> str:
    """What the dispatcher logs when Telegram hands out an update it handled before."""
    return f"telegram update {fake.bot_id}:{update_id} was handled already"


async def test_a_crash_while_polling_loses_no_message_and_answers_none_twice(
    fake: FakeTelegram, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.dispatcher")
    # First run: Lan's answer is still being handled when the process dies; Minh's, taken
    # in after it, was committed and answered.
    held = Held(world.dispatcher().handle, LAN)
    first_bot, stop = build_bot(fake.token, fake.base_url), asyncio.Event()
    polling = asyncio.create_task(run_polling(first_bot, held, stop_event=stop, drain_timeout=0))
    await fake.wait_polling()
    lan = fake.send_text(LAN, "31/12/2020")["update_id"]
    await held.started.wait()
    minh = fake.send_text(MINH, "31/12/2020")["update_id"]
    await fake.wait_for(lambda c: SAVED in c.text, chat_id=MINH)
    stop.set()  # drain_timeout=0: Lan's event is cancelled before its commit
    await asyncio.wait_for(polling, 10)
    assert await world.answers() == (1, 1)
    assert ids(fake.pending_updates) == [lan, minh]  # neither confirmed: Lan's is before
    # Second run: both come again; Lan's is handled, Minh's recognised and left unanswered.
    second_bot, stop = build_bot(fake.token, fake.base_url), asyncio.Event()
    polling = asyncio.create_task(
        run_polling(second_bot, world.dispatcher().handle, stop_event=stop)
    )
    await fake.wait_for(lambda c: SAVED in c.text, chat_id=LAN)
    stop.set()  # both came in the first poll: the drain waits for Minh's too
    await asyncio.wait_for(polling, 10)
    assert fake.pending_updates == []
    assert handled_already(fake, minh) in caplog.text
    assert sum(SAVED in text for text in said(fake, LAN)) == 1
    assert sum(SAVED in text for text in said(fake, MINH)) == 1
    assert len(said(fake, MINH)) == 1  # the redelivered update got no reply at all
    assert await world.answers() == (2, 2)


async def test_the_webhook_answers_200_after_the_commit_and_a_crash_loses_nothing(
    fake: FakeTelegram, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.dispatcher")
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    held = Held(world.dispatcher().handle, LAN)
    first_bot, stop = build_bot(fake.token, fake.base_url), asyncio.Event()
    server = asyncio.create_task(
        run_webhook(
            first_bot,
            held,
            url=url,
            secret=SECRET,
            port=port,
            stop_event=stop,
            drain_timeout=0,
        )
    )
    await fake.wait_for(lambda c: c.method == "setWebhook" and c.ok)
    lan = fake.send_text(LAN, "31/12/2020")
    await held.started.wait()
    minh = fake.send_text(MINH, "31/12/2020")
    assert await fake.wait_delivered(minh["update_id"]) == [200]
    assert await world.answers() == (1, 1)  # the 200 came after the commit
    assert await fake.post_update(minh) == 200  # delivered again: recognised, answered 200
    stop.set()  # drain_timeout=0: Lan's event is cancelled before its commit
    await asyncio.wait_for(server, 10)
    assert await fake.wait_delivered(lan["update_id"]) == [503]
    assert ids(fake.pending_updates) == [lan["update_id"]]
    # The next start registers the webhook again; the fake delivers what it kept.
    second_bot, stop = build_bot(fake.token, fake.base_url), asyncio.Event()
    server = asyncio.create_task(
        run_webhook(
            second_bot,
            world.dispatcher().handle,
            url=url,
            secret=SECRET,
            port=port,
            stop_event=stop,
        )
    )
    assert await fake.wait_delivered(lan["update_id"], times=2) == [503, 200]
    await fake.wait_for(lambda c: SAVED in c.text, chat_id=LAN)
    stop.set()
    await asyncio.wait_for(server, 10)
    assert fake.pending_updates == []
    assert handled_already(fake, minh["update_id"]) in caplog.text
    assert sum(SAVED in text for text in said(fake, LAN)) == 1
    assert len(said(fake, MINH)) == 1
    assert await world.answers() == (2, 2)
