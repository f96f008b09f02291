"""Telegram's webhook POSTs, each answered 200 only once its update is handled.

Telegram sends an update again when its POST is not answered 2xx (or not at all), so the
answer waits until the update's event has left its transaction (see `UpdateProcessor.take`):
200 then, and the replies go out after it, in the task the processor owns (drained on a
stop). An update whose handling was cancelled first (a stop) gets 503: Telegram delivers it
again, to the next start. One delivered again after it was handled is recognised by the
dispatcher. A wrong or missing X-Telegram-Bot-Api-Secret-Token header gets 401.
"""

from __future__ import annotations

import asyncio
import secrets

from aiogram.types import Update
from aiohttp import web

from bot.channels.telegram_updates import UpdateProcessor

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookIntake:
    """The POST handler (`handle`) in front of an `UpdateProcessor`."""

    def __init__(self, processor: UpdateProcessor, *, secret: str) -> None:
        if not secret:
            raise ValueError("a webhook needs a secret token: anyone could post updates otherwise")
        self.processor = processor
        self.secret = secret.encode()
        self.open = True

    def app(self, path: str) -> web.Application:
        """An aiohttp app taking the POSTs at `path`."""
        app = web.Application()
        app.router.add_post(path, self.handle)
        return app

    def close(self) -> None:
        """Take no more updates: from now on a POST gets 503 (Telegram sends it again later)."""
        self.open = False

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode(errors="replace")
        if not secrets.compare_digest(given, self.secret):
            return web.Response(status=401, text="Unauthorized")
        try:
            update = Update.model_validate(
                await request.json(), context={"bot": self.processor.bot}
            )
        except ValueError:  # not JSON, or not an update
            return web.Response(status=400, text="Bad Request: not an update")
        if not self.open:
            return web.Response(status=503, text="stopping")
        handled = self.processor.take(update)
        await asyncio.wait({handled})  # not `await handled`: a dropped request leaves it be
        if handled.cancelled():
            return web.Response(status=503, text="not handled: stopping")
        return web.json_response({})
