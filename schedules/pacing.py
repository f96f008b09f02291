"""One send budget per bot, shared by conversation replies and the outbox, so that our own
speed never earns a 429.

A platform counts messages in sliding windows (Telegram: about 30 per second per bot, 1 per
second per chat, 20 per minute per group). A token bucket with a burst would put burst +
rate messages in one window, so the pacer spaces sends instead: `bot_interval` between
sends of the bot and `chat_interval` between two outbox sends to one chat. Both are kept a
`margin` below the limits, because the server counts arrival times and the network moves
them by a few milliseconds either way.

Replies come first. A reply takes the bot's next free slot as soon as it is ready; the
outbox worker only plans its sends and takes a slot when the moment comes, so a reply
pushes the outbox back by one slot instead of waiting behind a broadcast. A reply keeps the
bot-wide spacing but not the per-chat one: a person who just wrote is waiting for the answer.

What a 429 pauses. Telegram's 429 does not say which limit was hit. A 429 on one chat while
the others go through is that chat's limit: only that chat waits `retry_after`. When most of
the recent sends met a 429, the bot as a whole is over its limit (a flood wait): everything
pauses. `FLOOD_WINDOW` and `FLOOD_SHARE` decide which; with 5% of sends refused at random,
the odds of half the last 8 being refused are below 1 in 2,000.

A restarted process does not know what its predecessor sent in the last second, so a new
pacer starts as if the last window had been full: nothing goes out before `limits.window`
seconds after it was made.

`RateLimiter` is the interface callers use; `Pacer` is the in-process implementation. A
limiter shared by several processes (Redis) implements the same five methods. Times are
plain seconds (POSIX timestamps from the injected clock); the pacer never reads a clock or
sleeps itself; its callers do.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RateLimits:
    """One bot's limits on one platform (defaults: Telegram's published figures)."""

    per_bot: float = 30.0  # messages per second, all chats together
    per_chat: float = 1.0  # messages per second to one private chat
    per_group_per_minute: float = 20.0  # messages per minute to one group chat
    margin: float = 0.05  # pace this fraction below every limit
    window: float = 1.0  # seconds the platform counts per_bot over (the start-up pause)

    def __post_init__(self) -> None:
        if min(self.per_bot, self.per_chat, self.per_group_per_minute) <= 0:
            raise ValueError("rate limits must be positive")
        if not 0 <= self.margin < 1:
            raise ValueError("margin must be in [0, 1)")
        if self.window < 0:
            raise ValueError("window must not be negative")

    @staticmethod
    def is_group(chat_id: str) -> bool:
        # Telegram group and channel ids are negative; private chats are user ids.
        return chat_id.startswith("-")

    def bot_interval(self) -> float:
        return 1.0 / (self.per_bot * (1 - self.margin))

    def chat_interval(self, chat_id: str) -> float:
        per_second = self.per_chat
        if self.is_group(chat_id):
            per_second = min(per_second, self.per_group_per_minute / 60.0)
        return 1.0 / (per_second * (1 - self.margin))


class RateLimiter(Protocol):
    """What senders ask of a bot's send budget. Replies and the outbox share one."""

    def earliest(self, chat_id: str, now: float, *, reply: bool = False) -> float:
        """The first instant >= now a message to `chat_id` may go (a reply skips the
        per-chat spacing but not a pause)."""
        ...

    def take(self, chat_id: str, at: float, *, reply: bool = False) -> None:
        """Record a send at `at`, which the caller got from `earliest`."""
        ...

    def limited(self, chat_id: str, retry_after: float, now: float) -> None:
        """The platform refused a send to `chat_id` with a 429."""
        ...

    def delivered(self, chat_id: str, now: float) -> None:
        """The platform accepted a send to `chat_id`."""
        ...

    def is_paused(self, now: float) -> bool:
        """Is the whole bot waiting out a flood?"""
        ...


class Pacer:
    """The in-process `RateLimiter` of one bot.

    Bot-wide, sends follow a grid of one slot every `bot_interval`. A timer wakes us a
    millisecond or two late; the next slot is counted from the slot we aimed at, not from
    the late instant, so that lateness does not add up into a lower rate. A send further
    behind (a stall, an idle spell) starts the grid afresh: a stall is not paid back,
    because with the pace a margin below a sliding-window limit, paying back would run
    into that window's edge again and again (bursts of sends, then silences).
    """

    GRID_SLACK = 0.25  # of the bot interval: how late a send may be and stay on the grid
    FLOOD_WINDOW = 8  # recent send outcomes looked at to tell a flood from one chat's limit
    FLOOD_SHARE = 0.5  # at least this share of them refused: the whole bot pauses
    _PRUNE_AT = 10_000  # forget chats whose spacing has long elapsed past this many

    def __init__(self, limits: RateLimits, *, started: float = -math.inf) -> None:
        """`started`: when this process began (its clock's now); the first window after it
        is kept free, as the predecessor may have used it. -inf for no such pause."""
        self.limits = limits
        self._next_any = started + limits.window  # the grid's next slot
        self._next_chat: dict[str, float] = {}
        self._chat_paused: dict[str, float] = {}
        self._outcomes: deque[bool] = deque(maxlen=self.FLOOD_WINDOW)  # True: a 429
        self.paused_until = -math.inf

    def earliest(self, chat_id: str, now: float, *, reply: bool = False) -> float:
        spacing = -math.inf if reply else self._next_chat.get(chat_id, -math.inf)
        chat_pause = self._chat_paused.get(chat_id, -math.inf)
        return max(now, self._next_any, spacing, chat_pause, self.paused_until)

    def take(self, chat_id: str, at: float, *, reply: bool = False) -> None:
        interval = self.limits.bot_interval()
        late = at - self._next_any
        base = self._next_any if 0 <= late < interval * self.GRID_SLACK else at
        self._next_any = max(base, self._next_any) + interval
        # A reply counts for the chat too: the outbox leaves a person who just got an answer
        # a moment before the next notice.
        self._next_chat[chat_id] = at + self.limits.chat_interval(chat_id)
        if len(self._next_chat) > self._PRUNE_AT:
            self._next_chat = {c: t for c, t in self._next_chat.items() if t > at}
            self._chat_paused = {c: t for c, t in self._chat_paused.items() if t > at}

    def limited(self, chat_id: str, retry_after: float, now: float) -> None:
        until = now + max(0.0, retry_after)
        self._chat_paused[chat_id] = max(self._chat_paused.get(chat_id, -math.inf), until)
        self._outcomes.append(True)
        if self.is_flood():
            self.paused_until = max(self.paused_until, until)

    def delivered(self, chat_id: str, now: float) -> None:
        self._outcomes.append(False)

    def is_flood(self) -> bool:
        """Have most of the recent sends met a 429 (at least half a window of them)?"""
        refused = sum(self._outcomes)
        return refused >= self.FLOOD_WINDOW * self.FLOOD_SHARE

    def is_paused(self, now: float) -> bool:
        return self.paused_until > now

    def pause(self, until: float) -> None:
        """Pause the whole bot until `until` (an operator's or a test's decision)."""
        self.paused_until = max(self.paused_until, until)
