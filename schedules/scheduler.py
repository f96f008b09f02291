"""APScheduler wiring: it only wakes the jobs; the database decides what is due.

Each job is a top-level async function taking the `Jobs` context, opening its own
transaction and calling the same services the handlers use. Jobs are registered with fixed
ids, `replace_existing=True`, `coalesce=True` and `max_instances=1`, and all run once at
start, so a process that was down catches up at once (without flooding: see
schedules/reminders.py and schedules/summaries.py; schedules/notices.py dispatches the
notices whose time has come). `run_pruning` forgets the handled updates older than a week.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.clock import Clock
from schedules.fix_reminders import plan_fix_reminders
from schedules.notices import dispatch_due_notices
from schedules.reminders import plan_reminders
from storage.db import transaction
from storage.services.appraisal_rounds import close_due_rounds, remind_explanations
from storage.services.handled_updates import prune as prune_handled_updates

log = logging.getLogger(__name__)

SHUTDOWN_WAIT = 10.0  # seconds for running jobs to finish when the process stops


@dataclass
class Jobs:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    admin_ids: Mapping[str, frozenset[str]] = field(default_factory=dict)
    on_outbox: Callable[[], None] = lambda: None  # wakes the delivery worker


async def run_reminders(jobs: Jobs) -> int:
    async with transaction(jobs.sessions) as session:
        stats = await plan_reminders(session, now=jobs.clock.now())
        fixes = await plan_fix_reminders(session, now=jobs.clock.now())
    written = stats.reminders + stats.escalations + stats.visit_notices
    written += fixes.reminders + fixes.escalations
    if written:
        log.info(
            "planned %d reminders, %d escalations, %d visit notices",
            stats.reminders,
            stats.escalations,
            stats.visit_notices,
        )
        jobs.on_outbox()
    return written


async def run_notices(jobs: Jobs) -> int:
    async with transaction(jobs.sessions) as session:
        written = await dispatch_due_notices(session, now=jobs.clock.now())
    if written:
        jobs.on_outbox()
    return written


async def run_summaries(jobs: Jobs) -> int:
    from schedules.summaries import send_due_summaries

    async with transaction(jobs.sessions) as session:
        written = await send_due_summaries(
            session, now=jobs.clock.now(), admin_user_ids=jobs.admin_ids
        )
    if written:
        jobs.on_outbox()
    return written


async def run_explanation_reminders(jobs: Jobs) -> int:
    """The morning of the last day to explain (giải trình), remind the units still
    explaining; after the deadline, make results final or pass the explanations on."""
    async with transaction(jobs.sessions) as session:
        now = jobs.clock.now()
        written = await remind_explanations(session, now) + await close_due_rounds(session, now)
    if written:
        jobs.on_outbox()
    return written


async def run_pruning(jobs: Jobs) -> int:
    """Forget handled updates old enough that no platform delivers them again."""
    async with transaction(jobs.sessions) as session:
        return await prune_handled_updates(session, now=jobs.clock.now())


async def run_all(jobs: Jobs) -> None:
    """One pass of every job (used at start and by the demo's time control)."""
    for job in (run_notices, run_reminders, run_summaries, run_explanation_reminders):
        try:
            await job(jobs)
        except Exception:  # one failing job must not stop the others
            log.exception("scheduled job %s failed", job.__name__)


JOB_INTERVALS = {
    "notices": (run_notices, timedelta(seconds=10)),
    "reminders": (run_reminders, timedelta(minutes=1)),
    "summaries": (run_summaries, timedelta(minutes=1)),
    "explanations": (run_explanation_reminders, timedelta(minutes=1)),
    "handled_updates": (run_pruning, timedelta(hours=1)),
}


def build_scheduler(jobs: Jobs) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    for job_id, (func, every) in JOB_INTERVALS.items():
        scheduler.add_job(
            func,
            "interval",
            args=[jobs],
            id=job_id,
            replace_existing=True,
            coalesce=True,
            # APScheduler runs on real time (the injected clock only decides what is due):
            # every job runs once right away, then at its interval.
            max_instances=1,
            seconds=every.total_seconds(),
            next_run_time=datetime.now(UTC),
            misfire_grace_time=int(every.total_seconds()),
        )
    return scheduler


class _JobsInFlight:
    """Counts the scheduler's running jobs (APScheduler's own events), so stopping can wait
    for them: APScheduler's shutdown cancels the coroutine jobs still running."""

    def __init__(self) -> None:
        self.running = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def __call__(self, event: JobEvent) -> None:
        self.running += 1 if event.code == EVENT_JOB_SUBMITTED else -1
        if self.running > 0:
            self.idle.clear()
        else:
            self.idle.set()


def start_scheduler(jobs: Jobs) -> tuple[AsyncIOScheduler, Callable[[], Awaitable[None]]]:
    """Start the jobs (each runs once right away: catch-up); returns the scheduler and an
    async `stop` that lets running jobs finish (no new ones start) before shutting down."""
    scheduler = build_scheduler(jobs)
    in_flight = _JobsInFlight()
    scheduler.add_listener(in_flight, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()

    async def stop(wait: float = SHUTDOWN_WAIT) -> None:
        scheduler.pause()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(in_flight.idle.wait(), wait)
        scheduler.shutdown(wait=False)

    return scheduler, stop
