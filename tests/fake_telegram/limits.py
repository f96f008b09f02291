"""What the fake refuses before a method runs: scripted faults, flood limits, chats the bot
cannot reach.

Per-chat flood limits count sends (sendMessage/Document/Photo) only, not edits; Telegram
answers a flood with whole seconds to wait, never 0.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tests.fake_telegram.errors import STATUS_TEXT, TelegramError, bad_request

# Methods that deliver a new message: they count against the flood limits.
MESSAGE_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto"})
EDIT_METHODS = frozenset({"editMessageText", "editMessageReplyMarkup"})
# Scripted faults ("the next N sends fail") hit these unless told otherwise.
SEND_METHODS = MESSAGE_METHODS | EDIT_METHODS
# Methods refused for blocked or missing chats.
CHAT_METHODS = SEND_METHODS | {"sendChatAction"}


@dataclass
class Fault:
    """A scripted failure for the next matching calls."""

    remaining: int
    status: int
    retry_after: int | None
    description: str | None
    methods: frozenset[str]
    chat_id: int | None

    def matches(self, method: str, chat_id: int | None) -> bool:
        return method in self.methods and (self.chat_id is None or self.chat_id == chat_id)

    def error(self) -> TelegramError:
        if self.status == 429:
            retry = self.retry_after or 1
            return TelegramError(
                429, self.description or f"Too Many Requests: retry after {retry}", retry
            )
        return TelegramError(self.status, self.description or STATUS_TEXT.get(self.status, "Error"))


class SlidingWindow:
    """At most `limit` events per `period` seconds; answers how long to wait when over."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self._times: deque[float] = deque()

    def hit(self, now: float) -> int | None:
        while self._times and self._times[0] <= now - self.period:
            self._times.popleft()
        if len(self._times) >= self.limit:
            # Telegram answers whole seconds, never 0.
            return max(1, math.ceil(self._times[0] + self.period - now))
        self._times.append(now)
        return None


class Gates:
    """Checked before every method, in this order: scripted faults, flood limits, chats
    that are blocked, deactivated or unknown. `clock` gives the time flood limits count on."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.blocked: set[int] = set()
        self.deactivated: set[int] = set()
        self.missing_chats: set[int] = set()
        self._faults: list[Fault] = []
        self._global_limit: SlidingWindow | None = None
        self._chat_limit: tuple[int, float] | None = None
        self._chat_windows: dict[int, SlidingWindow] = {}
        self._random_429: tuple[float, int, random.Random] | None = None
        self.flood_refusals = 0  # 429s the flood limits gave: the bot went too fast
        self.injected_refusals = 0  # 429s inject_429 gave at random

    def inject_429(self, share: float, retry_after: int, seed: int) -> None:
        """Refuse `share` of the message sends at random with a 429 (one chat's limit, as
        Telegram gives it to a chat written to too often), reproducibly from `seed`."""
        self._random_429 = (share, retry_after, random.Random(seed))

    def set_rate_limits(
        self, global_per_second: int | None, per_chat: tuple[int, float] | None
    ) -> None:
        self._global_limit = SlidingWindow(global_per_second, 1.0) if global_per_second else None
        self._chat_limit = per_chat
        self._chat_windows.clear()

    def fail_next(
        self,
        count: int,
        status: int,
        retry_after: int | None,
        description: str | None,
        methods: Iterable[str],
        chat_id: int | None,
    ) -> None:
        if status == 429 and retry_after is None:
            retry_after = 1
        self._faults.append(
            Fault(count, status, retry_after, description, frozenset(methods), chat_id)
        )

    def check(self, method: str, chat_id: int | None) -> None:
        """Raise the TelegramError the call gets instead of its result, if any."""
        for fault in self._faults:
            if fault.remaining > 0 and fault.matches(method, chat_id):
                fault.remaining -= 1
                raise fault.error()
        self._faults = [f for f in self._faults if f.remaining > 0]
        if method in MESSAGE_METHODS:
            self._check_random(method)
            self._check_flood(chat_id)
        if method in CHAT_METHODS and chat_id is not None:
            if chat_id in self.missing_chats:
                raise bad_request("chat not found")
            if chat_id in self.blocked:
                raise TelegramError(403, "Forbidden: bot was blocked by the user")
            if chat_id in self.deactivated:
                raise TelegramError(403, "Forbidden: user is deactivated")

    def _check_random(self, method: str) -> None:
        if self._random_429 is None:
            return
        share, retry_after, draw = self._random_429
        if draw.random() < share:
            self.injected_refusals += 1
            raise TelegramError(429, f"Too Many Requests: retry after {retry_after}", retry_after)

    def _check_flood(self, chat_id: int | None) -> None:
        now = self.clock()
        retry = None
        if self._chat_limit is not None and chat_id is not None:
            window = self._chat_windows.get(chat_id)
            if window is None:
                window = self._chat_windows[chat_id] = SlidingWindow(*self._chat_limit)
            retry = window.hit(now)
        if retry is None and self._global_limit is not None:
            retry = self._global_limit.hit(now)
        if retry is not None:
            self.flood_refusals += 1
            raise TelegramError(429, f"Too Many Requests: retry after {retry}", retry)
