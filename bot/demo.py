"""`cchc-bot demo`: the whole bot on a laptop, with no bot token and no internet.

A fresh SQLite database in a folder of its own (never the configured one) gets the example
campaign and a realistic spread of progress (bot/demo_seed.py); then the real runtime starts
on it: the conversation Dispatcher, the outbox DeliveryWorker and the scheduler's jobs,
with the web chat channel (and Telegram too with --telegram). The clock is a MovableClock
set to Wednesday 29/09/2021 09:00, a day and a half before the example's deadline.

The page gets two demo-only controls, served by the routes below and by nothing else: who
the visitor is (a unit contact, the team leader, the admin, or a guest with an invite code)
and the time (forward an hour, a day, to the next deadline; the scheduler's jobs run at once
so reminders, escalations and summaries arrive as they would).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.app import App, open_app
from bot.channels.web import WebChannel
from bot.channels.web_server import WebServer, page_locale
from bot.console.admin_routes import AdminOptions
from bot.console.app import Console
from bot.demo_seed import (
    DEMO_START,
    GUEST,
    LINKED_AT,
    DemoCampaign,
    DemoPerson,
    answer_for_contact,
    import_example,
    person_code,
    seed_progress,
)
from bot.demo_stages import seed_stages
from bot.deps import build_deps, telegram_limits
from bot.outbox_render import make_renderer
from bot.settings import Settings
from common.clock import MovableClock
from common.localtime import fmt_datetime
from common.messages import Inbound
from handlers.dispatcher import Dispatcher
from schedules.delivery import Channel, DeliveryWorker
from schedules.pacing import RateLimits
from schedules.scheduler import Jobs, run_all, start_scheduler
from storage.db import transaction
from storage.db.models import ChatAccount
from storage.services.evidence import EvidenceStore
from storage.services.invite_codes import format_code
from storage.services.invites import InviteState, list_invites
from storage.services.web_sessions import start_session

log = logging.getLogger(__name__)

# A browser has no rate limits; pacing stays on so delivery runs the same code as Telegram.
WEB_LIMITS = RateLimits(per_bot=1000.0, per_chat=100.0, per_group_per_minute=6000.0)
STEPS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
PAST_DEADLINE = timedelta(minutes=1)  # "to the deadline" lands just after it
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class DemoOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    telegram: bool = False  # serve the same data on Telegram too (needs BOT_TOKEN)
    numbered: bool = False  # web choices as numbered lists, as on Zalo


DESK = "/desk"  # where the demo serves the desk console


def demo_settings(base: Settings, folder: os.PathLike[str] | str) -> Settings:
    """The configured settings (token, time zone...) with the database and the evidence
    moved into `folder`: the demo can never write to the real ones."""
    root = Path(folder)
    return base.model_copy(
        update={
            "database_url": f"sqlite:///{root / 'demo.sqlite3'}",
            "evidence_dir": root / "evidence",
        }
    )


@dataclass
class RunningDemo:
    url: str
    app: App
    clock: MovableClock
    campaign: DemoCampaign
    channel: WebChannel
    server: WebServer
    worker: DeliveryWorker
    jobs: Jobs
    telegram_username: str | None = None
    _time_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def person(self, key: str) -> DemoPerson | None:
        return next((p for p in self.campaign.people if p.key == key), None)

    async def move_time(self, step: str) -> bool:
        """Move the clock (`hour`, `day`, `deadline`), then run every job once, now."""
        async with self._time_lock:
            if step in STEPS:
                self.clock.advance(STEPS[step])
            elif step == "deadline":
                now = self.clock.now()
                upcoming = [d for d in self.campaign.deadlines if d + PAST_DEADLINE > now]
                if upcoming:
                    self.clock.set(upcoming[0] + PAST_DEADLINE)
            else:
                return False
            await run_all(self.jobs)
            return True

    async def state(self, chat_id: str | None, locale: str) -> dict[str, Any]:
        catalog = self.app.catalog
        async with self.app.sessions() as session:
            live = {
                row.code
                for row in await list_invites(
                    session, self.campaign.campaign_id, now=self.clock.now()
                )
                if row.state == InviteState.LIVE
            }
        return {
            "now": fmt_datetime(self.clock.now(), self.campaign.timezone),
            "people": [
                {
                    "key": p.key,
                    "label": catalog.t(locale, f"web.demo.role.{p.key}", name=p.name, **p.params),
                    "current": p.chat_id == chat_id,
                    "messages": self.channel.message_count(p.chat_id),
                }
                for p in self.campaign.people
            ],
            "codes": [
                {
                    "code": format_code(code),  # as printed everywhere; accepted either way
                    "label": catalog.t(locale, "web.demo.code_label", unit=unit),
                }
                for code, unit in self.campaign.to_try
                if code in live
            ],
        }


class DemoRoutes:
    """/demo/state, /demo/switch and /demo/time: registered only by the demo.

    The server listens while the demo data is still being made (the page is up at once);
    until then everything but the page itself answers 503 and the page keeps retrying.
    """

    def __init__(self, server: WebServer, desk: Console | None = None) -> None:
        self.server = server
        self.desk = desk  # the desk console at /desk: the switch signs in to it too
        self.demo: RunningDemo | None = None  # set once the data is ready

    def register(self, app: web.Application) -> None:
        app.router.add_get("/demo/state", self.state)
        app.router.add_post("/demo/switch", self.switch)
        app.router.add_post("/demo/time", self.time)

        @web.middleware
        async def until_ready(request: web.Request, handler: Handler) -> web.StreamResponse:
            if (
                self.demo is None
                and request.path != "/"
                and not request.path.startswith("/static/")
            ):
                raise web.HTTPServiceUnavailable(
                    text="preparing the demo", headers={"Retry-After": "1"}
                )
            return await handler(request)

        app.middlewares.append(until_ready)

    def _running(self) -> RunningDemo:
        assert self.demo is not None, "guarded by until_ready"
        return self.demo

    async def state(self, request: web.Request) -> web.Response:
        chat_id = self.server.chat_of(request)
        return web.json_response(await self._running().state(chat_id, page_locale(request)))

    async def switch(self, request: web.Request) -> web.Response:
        self.server.require_chat(request)
        demo = self._running()
        person = demo.person(str((await _body(request)).get("person")))
        if person is None:
            raise web.HTTPNotFound(text="no such demo person")
        response = web.json_response(await demo.state(person.chat_id, page_locale(request)))
        self.server.set_session(response, person.chat_id)
        await self._sign_in_to_desk(request, demo, person, response)
        return response

    async def _sign_in_to_desk(
        self, request: web.Request, demo: RunningDemo, person: DemoPerson, response: web.Response
    ) -> None:
        """The demo only: whoever the visitor switched to is signed in to the desk console
        too (no /web link to open), and nobody for the guest, who has not joined yet."""
        if self.desk is None:
            return
        async with transaction(demo.app.sessions) as session:
            person_id = await session.scalar(
                select(ChatAccount.person_id).where(
                    ChatAccount.platform == demo.channel.platform,
                    ChatAccount.user_id == person.chat_id,
                )
            )
            opened = (
                await start_session(
                    session,
                    person_id,
                    now=demo.clock.now(),
                    browser=request.headers.get("User-Agent", "demo"),
                    tell=False,  # the demo's own switch: no "signed in from" message
                )
                if person_id is not None
                else None
            )
        if opened is None:
            self.desk.sign_out_cookie(response)
        else:
            self.desk.set_cookie(response, opened.token)

    async def time(self, request: web.Request) -> web.Response:
        chat_id = self.server.require_chat(request)
        demo = self._running()
        if not await demo.move_time(str((await _body(request)).get("step"))):
            raise web.HTTPBadRequest(text="step must be hour, day or deadline")
        return web.json_response(await demo.state(chat_id, page_locale(request)))


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as error:
        raise web.HTTPBadRequest(text="expected a JSON object") from error
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return body


async def _seed(demo: RunningDemo, evidence: EvidenceStore) -> None:
    """The demo people join through the chat itself (their history shows it), then the other
    units' contacts answer and submit through the services, in time order, and four of the
    submitted units go on to appraisal, conclusion and remediation (bot/demo_stages.py)."""
    clock, server, campaign = demo.clock, demo.server, demo.campaign
    clock.set(LINKED_AT)
    for person in campaign.people:
        if person is not GUEST:
            await server.inject(
                person.chat_id, f"/start {person_code(campaign, person)}", display_name=person.name
            )
    contact_id = await _joined(demo, "contact")
    await answer_for_contact(demo.app.sessions, evidence, campaign, contact_id)

    async def deliver() -> None:
        await demo.worker.run_once()

    await seed_progress(
        demo.app.sessions, evidence, campaign, set_clock=clock.set, after_submit=deliver
    )
    await seed_stages(
        demo.app.sessions,
        evidence,
        campaign,
        demo.app.settings.notice_settings(),
        leader_id=await _joined(demo, "leader"),
        set_clock=clock.set,
        after_step=deliver,
    )
    clock.set(DEMO_START)


async def _joined(demo: RunningDemo, key: str) -> int:
    """The person id of a demo person who joined through the chat."""
    person = demo.person(key)
    assert person is not None
    async with demo.app.sessions() as session:
        person_id = await session.scalar(
            select(ChatAccount.person_id).where(
                ChatAccount.platform == demo.channel.platform,
                ChatAccount.user_id == person.chat_id,
            )
        )
    assert person_id is not None, f"the demo {key} did not join"
    return person_id


@contextlib.asynccontextmanager
async def running_demo(settings: Settings, options: DemoOptions) -> AsyncIterator[RunningDemo]:
    """Seed a fresh demo database, then serve it until the context exits."""
    clock = MovableClock(LINKED_AT)
    app = await open_app(settings, clock=clock)
    stop = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []
    runner: web.AppRunner | None = None
    bot: Any = None
    stop_scheduler: Callable[[], Awaitable[None]] | None = None
    try:
        channel = WebChannel(clock=clock, timezone=settings.timezone, numbered=options.numbered)
        channels: dict[str, Channel] = {channel.platform: channel}
        limits = {channel.platform: WEB_LIMITS}
        username = None
        if options.telegram:
            bot, username, telegram = await _telegram(app)
            channels[telegram.platform], limits[telegram.platform] = telegram, telegram_limits(app)
        worker = DeliveryWorker(
            app.sessions,
            channels,
            make_renderer(app.catalog),
            clock,
            limits,
            worker_id=f"demo:{os.getpid()}",
        )
        deps = build_deps(app, username)
        deps.capabilities = {**deps.capabilities, channel.platform: channel.capabilities}
        deps.on_outbox = worker.notify
        dispatcher = Dispatcher(deps)
        jobs = Jobs(app.sessions, clock, deps.admin_ids, on_outbox=worker.notify)
        server = WebServer(
            channel,
            dispatcher.handle,
            catalog=app.catalog,
            new_chat=lambda: GUEST.chat_id,
            max_upload_bytes=settings.evidence_max_bytes,
            upload_dir=settings.evidence_dir.parent / "uploads",
        )
        web_app = server.app()
        # The desk console beside the chat: the person switcher signs the visitor in to
        # it (and /web in the chat gives a link, as outside the demo).
        desk = Console(
            app.sessions,
            app.catalog,
            clock,
            admin_ids=deps.admin_ids,
            root=DESK,
            evidence=deps.evidence,
            max_evidence_bytes=settings.evidence_max_bytes,
            admin=AdminOptions(
                bot_username=username,
                zalo_link=settings.zalo_bot_link,
                upload_dir=settings.evidence_dir.parent / "imports",
            ),
            notice=deps.notice,  # the conclusion notice, as the chat writes it
        )
        routes = DemoRoutes(server, desk)
        routes.register(web_app)
        web_app.add_subapp(DESK, desk.app())
        runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=5)
        await runner.setup()
        await web.TCPSite(runner, options.host, options.port).start()
        host, port = runner.addresses[0][:2]
        deps.console_url = f"http://{host}:{port}{DESK}"

        campaign = await import_example(app.sessions)
        demo = RunningDemo(
            f"http://{host}:{port}", app, clock, campaign, channel, server, worker, jobs, username
        )
        await _seed(demo, deps.evidence)
        routes.demo = demo
        tasks.append(asyncio.create_task(worker.run(stop), name="outbox-delivery"))
        _, stop_scheduler = start_scheduler(jobs)  # every job runs once right away
        if bot is not None:
            tasks.append(asyncio.create_task(_poll(app, bot, dispatcher, stop)))
        yield demo
    finally:
        stop.set()
        if stop_scheduler is not None:
            await stop_scheduler()  # lets running jobs finish, then shuts down
        if runner is not None:
            await runner.cleanup()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if bot is not None:
            await bot.session.close()
        await app.close()


async def _telegram(app: App) -> tuple[Any, str, Channel]:
    # Imported here: the web-only demo never needs aiogram's Bot.
    from bot.channels.telegram import TelegramChannel, bot_username
    from bot.runner import telegram_bot

    bot = telegram_bot(app.settings)
    try:
        username = app.settings.bot_username or await bot_username(bot)
    except BaseException:  # a wrong token: nothing else will close the session
        await bot.session.close()
        raise
    return bot, username, TelegramChannel(bot)


async def _poll(app: App, bot: Any, dispatcher: Dispatcher, stop: asyncio.Event) -> None:
    from bot.channels.telegram import run_polling

    def apology(event: Inbound) -> str:
        return app.catalog.t(event.sender.language or "vi", "common.error")

    try:
        await run_polling(
            bot,
            dispatcher.handle,
            apology=apology,
            clock=app.clock,
            stop_event=stop,
            close_session=False,
        )
    except Exception:  # Telegram is the extra: the web demo goes on without it
        log.exception("the demo's Telegram polling stopped")


async def run_demo(
    settings: Settings, options: DemoOptions, announce: Callable[[RunningDemo], None]
) -> None:
    """Serve the demo until Ctrl+C or SIGTERM."""
    # The scheduler logs every run of every job: the demo's console shows what matters.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with running_demo(settings, options) as demo:
        announce(demo)
        await stop.wait()
