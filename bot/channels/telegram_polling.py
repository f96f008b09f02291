"""Long polling that tells Telegram an update is done only once it is.

Telegram forgets the updates below the `offset` of a getUpdates and hands out all the
others again, those still being handled included. So the offset sent is the oldest update
still in flight (or the newest one + 1 when none is), never further: a process killed while
it handles an update loses nothing, the next one gets that update (and the later ones)
again, and the dispatcher recognises those it handled already (storage/services/
handled_updates.py). What comes back while still in flight is skipped here.

Telegram gives at most 100 updates per call: when the oldest update in flight holds that
many back, new ones wait until it is handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from aiogram import Bot
from aiogram.dispatcher.dispatcher import DEFAULT_BACKOFF_CONFIG
from aiogram.exceptions import AiogramError, TelegramUnauthorizedError
from aiogram.utils.backoff import Backoff

from bot.channels.telegram_updates import UpdateProcessor

log = logging.getLogger(__name__)


class Confirmations:
    """The updates taken in and those handled since: the offset Telegram may be sent."""

    def __init__(self) -> None:
        self.newest: int | None = None  # the newest update taken in
        self.in_flight: set[int] = set()  # taken in, not handled (cancelled ones stay)
        self.handled = asyncio.Event()  # an update was handled since the last poll began

    @property
    def offset(self) -> int | None:
        """The oldest update not handled, else the one after the newest; None: none yet."""
        if self.in_flight:
            return min(self.in_flight)
        return None if self.newest is None else self.newest + 1

    def is_new(self, update_id: int) -> bool:
        """Not taken in before (Telegram's update ids only grow)."""
        return self.newest is None or update_id > self.newest

    def track(self, update_id: int, handled: asyncio.Future[None]) -> None:
        self.newest = update_id if self.newest is None else max(self.newest, update_id)
        self.in_flight.add(update_id)
        handled.add_done_callback(lambda done: self._settled(update_id, done))

    def _settled(self, update_id: int, handled: asyncio.Future[None]) -> None:
        if not handled.cancelled():  # cancelled: never handled here, the next start will
            self.in_flight.discard(update_id)
        self.handled.set()


@dataclass(frozen=True)
class Pacing:
    """When to send the next getUpdates, while updates are being handled.

    An idle bot polls at once (the long poll waits on Telegram's side). A busy one waits
    `pause` first, so the next updates gather and come in one batch instead of a round trip
    each, plus `per_stale` for each update the last poll brought back again: every poll
    brings back (and aiogram parses) all the updates still in flight, and under a backlog
    that many, a new update would only queue behind them anyway. At most `recheck`. A poll
    that brought nothing new is followed by the next one once an update has been handled
    (the offset moves), or after `recheck`."""

    pause: float = 0.01
    per_stale: float = 0.001
    recheck: float = 0.2

    def delay(self, *, busy: bool, stale: int) -> float:
        return min(self.recheck, self.pause + self.per_stale * stale) if busy else 0.0


async def poll(
    bot: Bot,
    processor: UpdateProcessor,
    confirmations: Confirmations,
    *,
    polling_timeout: int,
    allowed_updates: list[str],
    pacing: Pacing = Pacing(),
) -> None:
    """Take updates in until cancelled; each new one goes to `processor.take`."""
    backoff = Backoff(DEFAULT_BACKOFF_CONFIG)  # aiogram's own polling retries so: 1 s to 5 s
    # The long poll may take its whole timeout: the call's own timeout comes on top.
    request_timeout = int(bot.session.timeout + polling_timeout)
    while True:
        confirmations.handled.clear()
        try:
            updates = await bot.get_updates(
                offset=confirmations.offset,
                timeout=polling_timeout,
                allowed_updates=allowed_updates,
                request_timeout=request_timeout,
            )
        except TelegramUnauthorizedError:
            raise  # a revoked token: no point trying again
        except AiogramError as error:  # network, Telegram's 5xx, a webhook set meanwhile
            log.error("getUpdates failed (%s); again in %.1f s", error, backoff.next_delay)
            await backoff.asleep()
            continue
        backoff.reset()
        fresh = [update for update in updates if confirmations.is_new(update.update_id)]
        for update in fresh:
            confirmations.track(update.update_id, processor.take(update))
        if updates and not fresh:  # only updates in flight came back: until one is handled
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pacing.recheck):
                    await confirmations.handled.wait()
        elif delay := pacing.delay(busy=processor.busy, stale=len(updates) - len(fresh)):
            await asyncio.sleep(delay)


async def confirm(bot: Bot, offset: int | None) -> None:
    """On a stop: tell Telegram the updates handled so far are done, so the next start does
    not get them again (a getUpdates with the offset; what it returns is not confirmed)."""
    if offset is None:
        return
    try:
        await bot.get_updates(offset=offset, limit=1, timeout=0)
    except (TimeoutError, AiogramError, OSError) as error:
        log.warning("could not confirm updates before %s: %s", offset, error)
