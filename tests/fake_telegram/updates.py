"""The updates waiting for the bot, handed out by getUpdates (a long poll) or the webhook.

An update stays pending until the bot confirms it: a getUpdates with a higher offset, or a
webhook delivery made (once, successful or not).
"""

from __future__ import annotations

import asyncio
import itertools

from tests.fake_telegram.errors import JSON
from tests.fake_telegram.records import wake


class UpdateQueue:
    def __init__(self) -> None:
        self.pending: list[JSON] = []  # updates not yet confirmed
        self.allowed: list[str] | None = None  # allowed_updates of the last getUpdates/setWebhook
        self.polled = asyncio.Event()  # a first getUpdates has come
        self._ids = itertools.count(1)
        self._waiters: set[asyncio.Future[None]] = set()
        self._closing = False

    def add(self, update: JSON) -> JSON:
        """Queue a raw update: it gets the next `update_id`."""
        update = {"update_id": next(self._ids), **update}
        self.pending.append(update)
        self.wake()
        return update

    def is_allowed(self, update: JSON) -> bool:
        allowed = self.allowed
        return not allowed or any(kind in update for kind in allowed)

    def remove(self, update: JSON) -> None:
        if update in self.pending:
            self.pending.remove(update)

    async def take(self, offset: int, limit: int, timeout: float) -> list[JSON]:
        """getUpdates: confirm every update before `offset`, then wait up to `timeout`
        seconds for the allowed ones."""
        if offset > 0:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._closing:
            ready = [u for u in self.pending if self.is_allowed(u)]
            remaining = deadline - loop.time()
            if ready or remaining <= 0:
                return ready[:limit]
            waiter = loop.create_future()
            self._waiters.add(waiter)
            try:
                async with asyncio.timeout(remaining):
                    await waiter
            except TimeoutError:
                pass
            finally:
                self._waiters.discard(waiter)
        return []

    def wake(self) -> None:
        """Wake the long polls: new updates, or a webhook set meanwhile (a conflict now)."""
        wake(self._waiters)

    def close(self) -> None:
        """The fake stops: pending long polls return at once, empty."""
        self._closing = True
        self.wake()
