"""Webhook mode: the fake POSTs each update to the registered URL, as Telegram does.

Every delivery is recorded (status 0 when the connection failed). An update is confirmed
by a 2xx answer only: after any other, it stays pending, as on Telegram, which tries it
again later on its own schedule; the fake tries it again at the next setWebhook (the bot's
next start) and not before. Plain http URLs on any port are accepted (Telegram demands
https on 443/80/88/8443).
"""

from __future__ import annotations

import asyncio
import re

import aiohttp

from tests.fake_telegram.errors import JSON, bad_request
from tests.fake_telegram.records import Stats, wake
from tests.fake_telegram.updates import UpdateQueue


class Webhook:
    def __init__(self, updates: UpdateQueue, stats: Stats) -> None:
        self.updates = updates
        self.stats = stats
        self.config: JSON | None = None  # url, secret_token, max_connections, allowed_updates
        self._client: aiohttp.ClientSession | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self._slots: asyncio.Semaphore | None = None
        self._delivered: set[asyncio.Future[None]] = set()

    async def start(self) -> None:
        self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def stop(self) -> None:
        for task in list(self._deliveries):
            task.cancel()
        await asyncio.gather(*self._deliveries, return_exceptions=True)
        if self._client is not None:
            await self._client.close()

    def set(self, params: JSON) -> None:
        """setWebhook with a URL (an empty one removes the webhook: see `delete`)."""
        url = str(params.get("url") or "")
        if not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self.updates.pending.clear()
        max_connections = int(params.get("max_connections") or 40)
        self.config = {
            "url": url,
            "secret_token": secret,
            "max_connections": max_connections,
            "allowed_updates": params.get("allowed_updates"),
        }
        self.updates.allowed = params.get("allowed_updates") or self.updates.allowed
        self._slots = asyncio.Semaphore(max_connections)
        self.updates.wake()  # a pending getUpdates now conflicts
        for update in list(self.updates.pending):
            self.deliver_soon(update)

    def delete(self, params: JSON) -> None:
        self.config = None
        if params.get("drop_pending_updates"):
            self.updates.pending.clear()

    def info(self) -> JSON:
        hook = self.config or {}
        return {
            "url": hook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates.pending),
            "max_connections": hook.get("max_connections", 40),
        }

    async def post_update(
        self, update: JSON, *, url: str | None = None, secret_token: str | None = None
    ) -> int:
        """POST one update to a webhook like Telegram does; returns the HTTP status.

        Without `url` the registered webhook is used, and its secret unless one is given.
        """
        hook = self.config or {}
        target = url or hook.get("url")
        if not target or self._client is None:
            raise RuntimeError("no webhook URL (setWebhook not called) or fake not started")
        secret = secret_token if secret_token is not None else hook.get("secret_token")
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        async with self._client.post(target, json=update, headers=headers) as response:
            await response.read()
            return response.status

    def deliver_soon(self, update: JSON) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(update))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, update: JSON) -> None:
        slots = self._slots or asyncio.Semaphore(40)
        async with slots:
            if self.config is None or update not in self.updates.pending:
                return
            if not self.updates.is_allowed(update):  # Telegram drops what was not asked for
                self.updates.remove(update)
                return
            try:
                status = await self.post_update(update)
            except aiohttp.ClientError:
                status = 0  # connection refused/reset: recorded as 0
            self.stats.webhook_deliveries.append((update["update_id"], status))
            if 200 <= status < 300:
                self.updates.remove(update)
            wake(self._delivered)

    async def wait_delivered(
        self, update_id: int, *, times: int = 1, timeout: float = 5.0
    ) -> list[int]:
        """Until the update was delivered `times` times: the statuses of its deliveries."""
        async with asyncio.timeout(timeout):
            while True:
                statuses = [s for u, s in self.stats.webhook_deliveries if u == update_id]
                if len(statuses) >= times:
                    return statuses
                waiter = asyncio.get_running_loop().create_future()
                self._delivered.add(waiter)
                try:
                    await waiter
                finally:
                    self._delivered.discard(waiter)
