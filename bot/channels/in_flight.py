"""The events a channel is handling right now, each in a task of its own, so a stop can
wait for them (`drain`) instead of cutting a transaction short; and the "handled" future a
webhook waits on before it answers (`settling`, `settle`)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from common.messages import Deliver, Reply


class InFlight:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def __bool__(self) -> bool:
        return bool(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, grace_s: float = 10.0) -> None:
        """Wait for the tasks in flight; cancel those still running after `grace_s`."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def settling(handled: asyncio.Future[None], deliver: Deliver) -> Deliver:
    """`deliver`, marking the event handled first: the dispatcher delivers only once the
    event has left its transaction, so the platform may forget the event from then on."""

    async def settled_then_deliver(replies: list[Reply]) -> None:
        settle(handled)
        await deliver(replies)

    return settled_then_deliver


def settle(handled: asyncio.Future[None], *, cancelled: bool = False) -> None:
    """Mark `handled` done (or cancelled: the event was not handled) unless it already is."""
    if handled.done():
        return
    if cancelled:
        handled.cancel()
    else:
        handled.set_result(None)
