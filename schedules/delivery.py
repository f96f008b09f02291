"""The outbox delivery worker: claims what it is about to send, sends it paced, marks what
happened.

One batch at a time per platform: claim (committed, CLAIMED), then a dispatcher hands rows
to send tasks in pacing order, keeping up to `concurrency` sends in flight (a Bot API call
takes 50-200 ms: one at a time could never reach 30 messages per second). Each task marks
its row SENDING (committed) just before the request and marks the outcome as soon as the
platform answers. After a crash only the rows in flight are in doubt; the rest of the batch
is sent again (storage/services/outbox.py tells the states).

What a send error does to its row (the others carry on):
  RateLimited(retry_after)  that chat waits retry_after (the whole bot only when most recent
                            sends met a 429: a flood, see schedules/pacing.py); the row goes
                            back to PENDING, due after the wait, its attempt refunded.
  TransientError, other     retried after 5 s, 10 s, 20 s... (capped) until `max_attempts`,
                            then FAILED.
  Unreachable               UNREACHABLE, and the chat account is marked: later messages to
                            it are skipped until the person writes again.
  PermanentError            FAILED.
A row that cannot get its turn within `max_hold` (its chat is paced, the bot is paused) is
put back PENDING for later instead of being held: claims stay short.

Messages to one chat are never in flight together, so a person reads them in order. The
bot's send budget (a `RateLimiter`) is shared with the conversation's replies, which go
first. Several workers on one bot (PostgreSQL) must share a limiter too, or each take
`per_bot / workers`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.clock import Clock
from common.messages import (
    Capabilities,
    PermanentError,
    RateLimited,
    Reply,
    TransientError,
    Unreachable,
)
from schedules.pacing import Pacer, RateLimiter, RateLimits
from storage.db import transaction
from storage.db.models import ChatAccount, OutboxMessage, Person
from storage.services.outbox_delivery import (
    DeadWorkers,
    claim_due,
    mark_failed,
    mark_retry,
    mark_sending,
    mark_sent,
    mark_unreachable,
    recover_claims,
)

log = logging.getLogger(__name__)

Render = Callable[[OutboxMessage, ChatAccount, Person | None], Reply]
Sleep = Callable[[float], Awaitable[None]]
Mark = Callable[[AsyncSession], Awaitable[bool]]
PaceClock = Callable[[], float]

_MIN_SLEEP = 0.001  # seconds


class Channel(Protocol):
    """What the worker needs of a chat platform adapter."""

    platform: str
    capabilities: Capabilities

    async def send(self, chat_id: str, reply: Reply) -> str:
        """Send one message; return the platform's message id; raise a DeliveryError."""
        ...


@dataclass(frozen=True)
class DeliverySettings:
    batch_size: int = 50  # rows claimed at once per platform: what goes in the next seconds
    concurrency: int = 16  # sends in flight
    max_attempts: int = 5
    backoff_base: timedelta = timedelta(seconds=5)
    backoff_cap: timedelta = timedelta(minutes=10)
    max_hold: float = 5.0  # seconds a claimed row may wait for its turn
    poll_interval: float = 1.0  # seconds between looks at the outbox when idle
    # Another instance's claims older than these are a dead worker's (see DeadWorkers).
    claim_timeout: timedelta = timedelta(minutes=2)  # CLAIMED: sent again
    send_timeout: timedelta = timedelta(minutes=10)  # SENDING: in doubt
    recover_every: timedelta = timedelta(minutes=1)

    def backoff(self, attempts: int) -> timedelta:
        """Wait before retry number `attempts` + 1: base, 2 x base, 4 x base... capped."""
        return min(self.backoff_cap, self.backoff_base * 2 ** max(0, attempts - 1))


@dataclass
class DeliveryStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unreachable: int = 0
    rate_limited: int = 0  # 429s met
    skipped: int = 0  # rows whose mark before sending failed: not ours any more, not sent
    held_back: int = 0  # rows put back because their turn was too far away
    mark_errors: int = 0


@dataclass
class _Batch:
    """One platform's claimed rows being dispatched."""

    channel: Channel
    pacer: RateLimiter
    queue: list[OutboxMessage]
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    busy_chats: set[str] = field(default_factory=set)


def _chat(row: OutboxMessage) -> str:
    return row.chat_account.chat_id


class DeliveryWorker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        channels: Mapping[str, Channel],
        render: Render,
        clock: Clock,
        limits: RateLimits | Mapping[str, RateLimits | RateLimiter],
        worker_id: str,
        *,
        instance: str | None = None,
        settings: DeliverySettings | None = None,
        sleep: Sleep = asyncio.sleep,
        pace_clock: PaceClock | None = None,
    ) -> None:
        """`clock` is the campaign's time (due rows, marks); `pace_clock` the seconds that
        pacing counts, which must move as `sleep` sleeps: time.monotonic in a real process
        (the platform counts real seconds, whatever the demo clock says); by default the
        seconds of `clock`, for tests on virtual time."""
        self.sessions = sessions
        self.channels = channels
        self.render = render
        self.clock = clock
        self.worker_id = worker_id
        self.instance = instance  # see DeadWorkers: worker_id must start with "<instance>:"
        if instance is not None and not worker_id.startswith(f"{instance}:"):
            raise ValueError("worker_id must start with the instance name and a colon")
        self.settings = settings or DeliverySettings()
        self.sleep = sleep
        self.pace_clock = pace_clock or (lambda: self.clock.now().timestamp())
        self.stats = DeliveryStats()
        self._pacers = {p: self._limiter_for(limits, p) for p in channels}
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(self.settings.concurrency)  # sends in flight
        self._writing = asyncio.Lock()
        self._outcomes: list[tuple[OutboxMessage, Mark]] = []  # to write, see _record
        self._last_recovery: datetime | None = None

    @staticmethod
    def _limiter_for(
        limits: RateLimits | Mapping[str, RateLimits | RateLimiter], platform: str
    ) -> RateLimiter:
        """The platform's shared limiter, or a pacer of the worker's own for plain limits."""
        given = limits if isinstance(limits, RateLimits) else limits.get(platform)
        if given is None:
            return Pacer(RateLimits())
        return Pacer(given) if isinstance(given, RateLimits) else given

    # -- the loop --------------------------------------------------------------------------

    def notify(self) -> None:
        """Something was enqueued: look at the outbox now rather than at the next tick."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; the batch in progress is finished first."""
        while not stop.is_set():
            self._wake.clear()  # before looking, so a notify() during the batch is kept
            try:
                await self._recover_if_due()
                handled = await self.run_once()
            except Exception:  # the database went away...: log, wait, try again
                log.exception("outbox delivery round failed")
                handled = 0
            if handled == 0:
                await self._idle(stop)

    async def _idle(self, stop: asyncio.Event) -> None:
        waits = [
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self.sleep(self.settings.poll_interval)),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def recover(self) -> int:
        """Take back what dead workers left: never-started rows are sent again, rows whose
        request had started are in doubt. Returns how many rows were recovered."""
        now = self.clock.now()
        dead = DeadWorkers(
            now=now,
            worker_id=self.worker_id,
            instance=self.instance,
            claim_timeout=self.settings.claim_timeout,
            send_timeout=self.settings.send_timeout,
        )
        async with transaction(self.sessions) as session:
            found = await recover_claims(session, dead)
        self._last_recovery = now
        if found.released:
            log.info("outbox rows %s were claimed but never sent: sending them", found.released)
        if found.in_doubt:
            log.warning(
                "outbox rows %s were being sent when their worker stopped: in doubt",
                found.in_doubt,
            )
        return len(found.released) + len(found.in_doubt)

    async def _recover_if_due(self) -> None:
        last = self._last_recovery
        if last is None or self.clock.now() - last >= self.settings.recover_every:
            await self.recover()

    async def run_once(self) -> int:
        """Claim and deliver one batch per platform; returns the number of rows claimed."""
        handled = 0
        for platform, channel in self.channels.items():
            handled += await self._run_platform(platform, channel)
        return handled

    async def _run_platform(self, platform: str, channel: Channel) -> int:
        pacer = self._pacers[platform]
        now = self.clock.now()
        if pacer.is_paused(self.pace_clock()):
            return 0  # claiming now would only put rows back
        async with transaction(self.sessions) as session:
            rows = await claim_due(
                session,
                now=now,
                worker_id=self.worker_id,
                limit=self.settings.batch_size,
                platform=platform,
            )
        if rows:
            await self._dispatch(_Batch(channel, pacer, queue=list(rows)))
        return len(rows)

    # -- dispatching -----------------------------------------------------------------------

    async def _dispatch(self, batch: _Batch) -> None:
        try:
            while batch.queue:
                await self._dispatch_next(batch)
        except asyncio.CancelledError:
            # A hard stop: the rows not started go back; the requests in flight are cut
            # short and stay SENDING (in doubt at the next start: they may have arrived).
            for task in batch.tasks:
                task.cancel()
            await asyncio.shield(self._put_back(batch.queue, batch.pacer))
            raise
        finally:
            if batch.tasks:
                await asyncio.gather(*batch.tasks, return_exceptions=True)

    async def _dispatch_next(self, batch: _Batch) -> None:
        """Start the send that may go first, or wait for it; one step at a time."""
        now = self.pace_clock()
        ready = [
            (batch.pacer.earliest(_chat(r), now), r)
            for r in batch.queue
            if _chat(r) not in batch.busy_chats
        ]
        if not ready:  # every remaining chat has a send in flight
            await asyncio.wait(batch.tasks, return_when=asyncio.FIRST_COMPLETED)
            return
        at, row = min(ready, key=lambda pair: pair[0])  # ties: the oldest row
        if at - now > self.settings.max_hold:
            await self._put_back_late(batch, now)
        elif at > now:
            # At least a millisecond: clocks tick in microseconds, floats do not, and a
            # sleep rounded down to nothing would spin here forever.
            await self.sleep(max(at - now, _MIN_SLEEP))
        else:
            await self._start(batch, row)

    async def _start(self, batch: _Batch, row: OutboxMessage) -> None:
        """Mark the row SENDING, take its slot, and start its request in a task."""
        await self._slots.acquire()
        try:
            now = self.pace_clock()
            if batch.pacer.earliest(_chat(row), now) > now:  # a 429 came while we waited
                self._slots.release()
                return
            batch.queue.remove(row)
            # Marked here, before the slot is taken: the slot is the moment the request
            # leaves, and a database write of varying length in between would bunch
            # requests closer than the platform allows.
            if not await self._mark_sending(row):
                self.stats.skipped += 1
                self._slots.release()
                return
            if not await self._wait_for_slot(batch, row):
                self._slots.release()
                return
        except BaseException:
            self._slots.release()
            raise
        batch.busy_chats.add(_chat(row))
        task = asyncio.create_task(self._deliver(batch, row))
        batch.tasks.add(task)
        task.add_done_callback(batch.tasks.discard)

    async def _wait_for_slot(self, batch: _Batch, row: OutboxMessage) -> bool:
        """Take the row's slot, waiting the moment a reply took meanwhile. False (and the
        row back to PENDING) when its chat or the bot was paused meanwhile."""
        now = self.pace_clock()
        at = batch.pacer.earliest(_chat(row), now)
        if at - now > self.settings.max_hold:
            async with self._writing, transaction(self.sessions) as session:
                await mark_retry(
                    session, row.id, not_before=self._due(at, now), error=None, refund_attempt=True
                )
            self.stats.held_back += 1
            return False
        if at > now:
            await self.sleep(max(at - now, _MIN_SLEEP))
        batch.pacer.take(_chat(row), at)
        return True

    async def _put_back_late(self, batch: _Batch, now: float) -> None:
        late = [
            r
            for r in batch.queue
            if batch.pacer.earliest(_chat(r), now) - now > self.settings.max_hold
        ]
        batch.queue = [r for r in batch.queue if r not in late]
        await self._put_back(late, batch.pacer)

    async def _put_back(self, rows: list[OutboxMessage], pacer: RateLimiter) -> None:
        """Claimed rows not started: PENDING again, due when their chat's turn comes."""
        if not rows:
            return
        now = self.pace_clock()
        async with self._writing, transaction(self.sessions) as session:
            for row in rows:
                due = self._due(pacer.earliest(_chat(row), now), now)
                await mark_retry(session, row.id, not_before=due, error=None)
        self.stats.held_back += len(rows)

    def _due(self, at: float, now: float) -> datetime:
        """The campaign time at which pacing second `at` comes (`now` is pacing's now)."""
        return self.clock.now() + timedelta(seconds=max(0.0, at - now))

    # -- one send --------------------------------------------------------------------------

    async def _deliver(self, batch: _Batch, row: OutboxMessage) -> None:
        try:
            mark = await self._attempt(batch, row)
        finally:
            # The send is over: its slot and its chat are free while the outcome is written.
            batch.busy_chats.discard(_chat(row))
            self._slots.release()
        await self._record(row, mark)

    async def _attempt(self, batch: _Batch, row: OutboxMessage) -> Mark:
        """Render and send one row (marked SENDING); what to write about it."""
        account = row.chat_account
        try:
            reply = self.render(row, account, account.person)
        except Exception as error:  # the renderer should not raise; never let it stop us
            log.exception("rendering outbox row %s failed", row.id)
            self.stats.failed += 1
            return partial(mark_failed, message_id=row.id, error=f"render: {error}")
        try:
            message_id = await batch.channel.send(account.chat_id, reply)
        except Exception as error:  # every failure becomes a mark; none escapes
            return self._after_failure(batch, row, error)
        self.stats.sent += 1
        batch.pacer.delivered(_chat(row), self.pace_clock())
        return partial(
            mark_sent, message_id=row.id, now=self.clock.now(), platform_message_id=message_id
        )

    async def _mark_sending(self, row: OutboxMessage) -> bool:
        """Commit that this row's request starts now: after a crash it is in doubt, not
        silently sent again. A failed write sends nothing (the claim is recovered later)."""
        try:
            async with self._writing, transaction(self.sessions) as session:
                marked = await mark_sending(
                    session, row.id, worker_id=self.worker_id, now=self.clock.now()
                )
        except Exception:
            self.stats.mark_errors += 1
            log.exception("could not mark outbox row %s as sending; not sent", row.id)
            return False
        if not marked:
            log.warning("outbox row %s was no longer claimed by us; not sent", row.id)
            return False
        row.attempts += 1  # as mark_sending counted it in the database
        return True

    def _after_failure(self, batch: _Batch, row: OutboxMessage, error: Exception) -> Mark:
        now = self.clock.now()
        text = f"{type(error).__name__}: {error}"
        if isinstance(error, RateLimited):
            self.stats.rate_limited += 1
            until = now + timedelta(seconds=max(0.0, error.retry_after))
            batch.pacer.limited(_chat(row), error.retry_after, self.pace_clock())
            log.info(
                "rate limited on %s chat %s for %.1f s",
                batch.channel.platform,
                _chat(row),
                error.retry_after,
            )
            return partial(
                mark_retry, message_id=row.id, not_before=until, error=text, refund_attempt=True
            )
        if isinstance(error, Unreachable):
            self.stats.unreachable += 1
            return partial(mark_unreachable, message_id=row.id, now=now, reason=str(error))
        if isinstance(error, PermanentError):
            self.stats.failed += 1
            log.error("outbox row %s refused: %s", row.id, error)
            return partial(mark_failed, message_id=row.id, error=text)
        if not isinstance(error, TransientError):
            log.error("outbox row %s: unexpected %s", row.id, text, exc_info=error)
        return self._retry_later(row, now, text)

    def _retry_later(self, row: OutboxMessage, now: datetime, text: str) -> Mark:
        if row.attempts >= self.settings.max_attempts:
            self.stats.failed += 1
            return partial(
                mark_failed,
                message_id=row.id,
                error=f"gave up after {row.attempts} attempts: {text}",
            )
        self.stats.retried += 1
        due = now + self.settings.backoff(row.attempts)
        return partial(mark_retry, message_id=row.id, not_before=due, error=text)

    async def _record(self, row: OutboxMessage, mark: Mark) -> None:
        """Write one outcome. Outcomes that come while another write holds the lock are
        written together in the next transaction: one commit for several sends."""
        self._outcomes.append((row, mark))
        # One write at a time: SQLite takes one writer anyway, and its busy handler backs
        # off in sleeps of up to 100 ms; queueing here is faster.
        async with self._writing:
            outcomes, self._outcomes = self._outcomes, []
            if not outcomes:  # an earlier holder of the lock wrote ours
                return
            try:
                async with transaction(self.sessions) as session:
                    for done, write in outcomes:
                        if not await write(session):
                            log.warning("outbox row %s was no longer ours to mark", done.id)
            except Exception:  # the rows stay SENDING, recovered as in doubt: not resent
                self.stats.mark_errors += len(outcomes)
                ids = [done.id for done, _ in outcomes]
                log.exception("could not record the outcome of outbox rows %s", ids)
