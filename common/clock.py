"""Time is injected: code asks a Clock for "now" (aware UTC) so tests can move it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to (tests, the demo's time control)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(UTC)


class MovableClock:
    """Real time shifted to a chosen moment, and jumped forward on request (the demo's time
    control, end-to-end tests): it keeps ticking, so rate limits and pauses still pass."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("MovableClock needs an aware datetime")
        self.set(start)

    def now(self) -> datetime:
        return self._base + timedelta(seconds=time.monotonic() - self._started)

    def set(self, when: datetime) -> None:
        self._base = when.astimezone(UTC)
        self._started = time.monotonic()

    def advance(self, delta: timedelta) -> datetime:
        self.set(self.now() + delta)
        return self.now()
