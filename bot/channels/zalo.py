"""The Zalo Bot Platform channel: sending, long polling, the webhook, stopping.

Outbound (`ZaloChannel.send`, the delivery worker's `Channel`, and `ZaloChannel.reply` for
the conversation's replies, paced by the same per-bot budget): a Reply becomes plain-text
sendMessage calls of at most 2000 characters (zalo_text); Zalo has no buttons, so the
dispatcher already turned choices into numbered lists (handlers.numbered). A picture (the
leader's chart) goes by `sendPhoto` from a signed PUBLIC_URL link (zalo_media) before its
text; without PUBLIC_URL, and for documents (Zalo carries none), the text goes alone.

Inbound: `getUpdates` returns one event per call, or error 408 when nothing came within its
timeout; a webhook POST carries one event with the `X-Bot-Api-Secret-Token` header. Each
event is handled in a task the `ZaloEvents` processor owns (drained on a stop); the order
of one person's events is the dispatcher's per-chat turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.channels.conversation import converse
from bot.channels.in_flight import InFlight, settle, settling
from bot.channels.zalo_api import QUOTA_PAUSE, ZaloApi, ZaloApiError, delivery_error
from bot.channels.zalo_inbound import PLATFORM, event_to_inbound
from bot.channels.zalo_media import MediaLinks
from bot.channels.zalo_text import CAPABILITIES, split_plain, to_plain
from common.clock import Clock
from common.messages import (
    ConversationHandler,
    DeliveryError,
    Inbound,
    RateLimited,
    Reply,
    Unreachable,
)
from schedules.pacing import RateLimiter

log = logging.getLogger(__name__)
_MAX_TRIES = 3  # sends of one message a reply tries through 429s

SECRET_HEADER = "X-Bot-Api-Secret-Token"
Apology = Callable[[Inbound], str]


def reply_texts(reply: Reply) -> list[str]:
    """The plain-text messages a Reply becomes on Zalo (a toast alone is a message)."""
    text = reply.text or reply.toast or ""
    return split_plain(to_plain(text))


# How long a reply may wait for its turn in the bot's budget, Zalo's 429 pauses included.
# Zalo's pace is low (ZALO_RATE_PER_SECOND, 5 by default): fifty people answering at the
# same moment queue ten seconds of replies, and a late answer is better than none. Only a
# wait beyond this (a long "Quota exceeded") drops the reply, logged.
REPLY_WAIT = 60.0


class ZaloChannel:
    """Sending to Zalo chats: the outbox worker's `send` (the worker paces each row) and
    the conversation's `reply`, which waits for each message's slot in the bot's send
    budget (`limiter`, shared with the worker; replies take the next slot) and reports
    Zalo's 429s to it, as Telegram's Outbound does."""

    platform = PLATFORM
    capabilities = CAPABILITIES

    def __init__(
        self,
        api: ZaloApi,
        *,
        media: MediaLinks | None = None,
        limiter: RateLimiter | None = None,
        reply_wait: float = REPLY_WAIT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        pace_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.media = media  # pictures by URL (PUBLIC_URL); without it, their text alone
        self.limiter = limiter
        self.reply_wait = reply_wait  # seconds a reply may wait for its slot, 429s included
        self.sleep = sleep
        self.pace_clock = pace_clock  # the limiter's seconds (as the outbox worker's)

    async def send(self, chat_id: str, reply: Reply) -> str:
        """Every message of the reply in order; the id of the last one sent."""
        message_id = ""
        for message in self._messages(chat_id, reply):
            message_id = await message() or message_id
        return message_id

    async def reply(self, chat_id: str, reply: Reply) -> str:
        """`send`, each message waiting for its slot in the bot's budget (and through a
        429 "Quota exceeded", as long as `reply_wait` allows)."""
        if self.limiter is None:
            return await self.send(chat_id, reply)
        message_id, waited = "", 0.0
        for message in self._messages(chat_id, reply):
            for _ in range(_MAX_TRIES):
                waited += await self._turn(chat_id, self.reply_wait - waited)
                try:
                    message_id = await message() or message_id
                except RateLimited as error:
                    self.limiter.limited(chat_id, error.retry_after, self.pace_clock())
                    continue  # the next turn waits the pause out
                self.limiter.delivered(chat_id, self.pace_clock())
                break
            else:
                raise RateLimited(QUOTA_PAUSE, f"chat {chat_id}: still refused")
        return message_id

    def _messages(self, chat_id: str, reply: Reply) -> list[Callable[[], Awaitable[str | None]]]:
        """One call per Zalo message the reply becomes: its picture first (by a signed
        link, when there is a PUBLIC_URL), then its text in parts."""
        calls: list[Callable[[], Awaitable[str | None]]] = []
        if self.media is not None and reply.photo is not None:
            calls.append(partial(self._send_photo, chat_id, reply.photo.path))
        calls.extend(
            partial(self._call, "sendMessage", chat_id=chat_id, text=part)
            for part in reply_texts(reply)
        )
        return calls

    async def _turn(self, chat_id: str, may_wait: float) -> float:
        assert self.limiter is not None
        now = self.pace_clock()
        at = self.limiter.earliest(chat_id, now, reply=True)
        if at - now > max(0.0, may_wait):
            raise RateLimited(at - now, f"chat {chat_id} must wait {at - now:.1f} s")
        if at > now:
            await self.sleep(at - now)
        self.limiter.take(chat_id, at, reply=True)
        return max(0.0, at - now)

    async def _send_photo(self, chat_id: str, path: Path) -> str | None:
        assert self.media is not None
        url = await asyncio.to_thread(self.media.publish, path)  # a file copy
        return await self._call("sendPhoto", chat_id=chat_id, photo=url)

    async def _call(self, method: str, **params: Any) -> str | None:
        """A sending method; the id of the message sent."""
        try:
            result = await self.api.call(method, **params)
        except ZaloApiError as error:
            raise delivery_error(error) from error
        if not isinstance(result, dict):
            return None
        return str(result.get("message_id") or "") or None

    async def typing(self, chat_id: str) -> None:
        """ "Typing..." while the event is handled: a courtesy, never a failure."""
        try:
            await self.api.call("sendChatAction", chat_id=chat_id, action="typing")
        except ZaloApiError as error:
            log.debug("sendChatAction to %s failed: %s", chat_id, error)


class ZaloEvents:
    """Zalo events -> the conversation handler -> replies, each event in its own task."""

    def __init__(
        self,
        channel: ZaloChannel,
        handler: ConversationHandler,
        *,
        clock: Clock,
        apology: Apology,
        max_photo_bytes: int,
    ) -> None:
        self.channel, self.handler, self.clock = channel, handler, clock
        self.apology = apology
        self.max_photo_bytes = max_photo_bytes
        self._tasks = InFlight()

    def take(self, event: dict[str, Any]) -> asyncio.Future[None]:
        """Start handling `event`; the future returned is done once Zalo may forget it:
        once the event has left its transaction (the first delivery marks it, or the end
        of the task for an event that never got that far). It is cancelled when the task
        is cancelled first (a stop): the event was not handled."""
        handled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = self._tasks.spawn(self._process(event, handled))
        task.add_done_callback(lambda _: settle(handled, cancelled=task.cancelled()))
        return handled

    async def drain(self, grace_s: float = 10.0) -> None:
        """Wait for the events in flight; cancel those still running after `grace_s`."""
        await self._tasks.drain(grace_s)

    async def _fetch(self, url: str, path: Path) -> None:
        await self.channel.api.download(url, path, self.max_photo_bytes)

    async def _process(self, event: dict[str, Any], handled: asyncio.Future[None]) -> None:
        try:
            inbound = event_to_inbound(event, clock=self.clock, fetch=self._fetch)
            if inbound is None:
                return
            await self.channel.typing(inbound.sender.chat_id)

            async def deliver(replies: list[Reply]) -> None:
                await self._deliver(inbound, replies)

            await converse(self.handler, inbound, settling(handled, deliver), self.apology)
        except Exception:  # a task has nobody to report to: log, never crash the loop
            log.exception("failed to process a Zalo %s event", event.get("event_name"))

    async def _deliver(self, inbound: Inbound, replies: list[Reply]) -> None:
        chat_id = inbound.sender.chat_id
        for reply in replies:
            try:
                await self.channel.reply(chat_id, replace(reply, choices=[]))
            except DeliveryError as error:
                log.error("reply to zalo:%s failed: %s", chat_id, error)
                if isinstance(error, Unreachable | RateLimited):
                    return  # nobody to tell, or told to be quiet


async def poll(
    api: ZaloApi, events: ZaloEvents, *, polling_timeout: int = 30, retry_pause: float = 5.0
) -> None:
    """getUpdates forever: one event per call, 408 when none came. Polling is refused
    while a webhook is set, so that goes first. 401 (a wrong or reset token) ends it."""
    await _delete_webhook(api)
    while True:
        try:
            event = await api.call("getUpdates", wait=polling_timeout + 10, timeout=polling_timeout)
        except ZaloApiError as error:
            if error.error_code == 408:
                continue  # nothing came: ask again
            if error.error_code == 401:
                raise
            log.warning("Zalo getUpdates failed (%s); again in %.0f s", error, retry_pause)
            await asyncio.sleep(retry_pause)
            continue
        if isinstance(event, dict):
            events.take(event)


async def _delete_webhook(api: ZaloApi) -> None:
    try:
        await api.call("deleteWebhook")
    except ZaloApiError as error:
        if error.error_code == 401:
            raise
        log.warning("Zalo deleteWebhook failed: %s", error)


class ZaloWebhook:
    """The POST handler for Zalo's webhook, its secret header checked, each event answered
    200 only once its transaction is over (as telegram_webhook does): a POST cut by a crash
    or answered 503 during a stop is one Zalo sends again, and the message id recognises a
    second copy of one already handled (Inbound.update_key)."""

    def __init__(self, events: ZaloEvents, *, secret: str, drain_grace: float = 10.0) -> None:
        if not 8 <= len(secret) <= 256:
            raise ValueError("Zalo's webhook secret_token must be 8-256 characters")
        self.events = events
        self.drain_grace = drain_grace
        self.secret = secret.encode()
        self.open = True

    def routes(self, app: web.Application, path: str) -> None:
        """Serve the POSTs at `path`; the server's shutdown closes the hook and waits for
        the events in flight (after it stopped listening, before it drops connections)."""
        app.router.add_post(path, self.handle)
        app.on_shutdown.append(self._shutdown)

    def close(self) -> None:
        """Take no more events: from now on a POST gets 503."""
        self.open = False

    async def _shutdown(self, app: web.Application) -> None:
        self.close()
        await self.events.drain(self.drain_grace)

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode(errors="replace")
        if not secrets.compare_digest(given, self.secret):
            # The body is not read, let alone logged: it is whatever a stranger sent.
            log.warning("Zalo webhook: wrong or missing secret from %s", request.remote)
            return web.Response(status=403, text="Forbidden")
        if not self.open:
            return web.Response(status=503, text="stopping")
        try:
            event = await request.json()
        except ValueError:
            return web.Response(status=400, text="Bad Request: not JSON")
        if not isinstance(event, dict):
            return web.Response(status=400, text="Bad Request: not an event")
        handled = self.events.take(event)
        await asyncio.wait({handled})  # not `await handled`: a dropped request leaves it be
        if handled.cancelled():
            return web.Response(status=503, text="not handled: stopping")
        return web.json_response({"ok": True})


async def set_webhook(api: ZaloApi, url: str, secret: str) -> None:
    await api.call("setWebhook", url=url, secret_token=secret)


async def run_polling(
    api: ZaloApi, events: ZaloEvents, stop: asyncio.Event, *, polling_timeout: int = 30
) -> None:
    """Poll until `stop`; then let the events in flight finish."""
    polling = asyncio.create_task(poll(api, events, polling_timeout=polling_timeout))
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({polling, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        await events.drain()
    if not polling.cancelled():
        polling.result()  # a polling failure (401: a wrong token) is the caller's to report
