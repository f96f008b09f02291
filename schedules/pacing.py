"""Pacing of outgoing messages so that our own speed never earns a 429.

A platform counts messages in sliding windows (Telegram: about 30 per second per bot, 1 per
second per chat, 20 per minute per group). A token bucket with a burst would put burst +
rate messages in one window, so the pacer spaces sends instead: `bot_interval` between
sends of the bot and `chat_interval` between two sends to one chat. Both are kept a
`margin` below the limits, because the server counts arrival times and the network moves
them by a few milliseconds either way.

Times are plain seconds (POSIX timestamps from the injected clock); the pacer never reads a
clock or sleeps itself, the delivery worker does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimits:
    """One bot's limits on one platform (defaults: Telegram's published figures)."""

    per_bot: float = 30.0  # messages per second, all chats together
    per_chat: float = 1.0  # messages per second to one private chat
    per_group_per_minute: float = 20.0  # messages per minute to one group chat
    margin: float = 0.05  # pace this fraction below every limit

    def __post_init__(self) -> None:
        if min(self.per_bot, self.per_chat, self.per_group_per_minute) <= 0:
            raise ValueError("rate limits must be positive")
        if not 0 <= self.margin < 1:
            raise ValueError("margin must be in [0, 1)")

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


class Pacer:
    """When the next message to a chat may go, given what went already and any pause.

    Bot-wide, sends follow a grid of one slot every `bot_interval`. A timer wakes us a
    millisecond or two late; the next slot is counted from the slot we aimed at, not from
    the late instant, so that lateness does not add up into a lower rate. A send further
    behind (a stall, an idle spell) starts the grid afresh: a stall is not paid back,
    because with the pace a margin below a sliding-window limit, paying back would run
    into that window's edge again and again (bursts of sends, then silences).
    """

    GRID_SLACK = 0.25  # of the bot interval: how late a send may be and stay on the grid
    _PRUNE_AT = 10_000  # forget chats whose spacing has long elapsed past this many

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._next_any = -math.inf  # the grid's next slot
        self._next_chat: dict[str, float] = {}
        self.paused_until = -math.inf

    def earliest(self, chat_id: str, now: float) -> float:
        """The first instant >= now a message to `chat_id` may be sent."""
        return max(now, self._next_any, self._next_chat.get(chat_id, -math.inf), self.paused_until)

    def take(self, chat_id: str, at: float) -> None:
        """Record a send at `at` (the caller checked `earliest`)."""
        interval = self.limits.bot_interval()
        late = at - self._next_any
        base = self._next_any if 0 <= late < interval * self.GRID_SLACK else at
        self._next_any = max(base, self._next_any) + interval
        self._next_chat[chat_id] = at + self.limits.chat_interval(chat_id)
        if len(self._next_chat) > self._PRUNE_AT:
            self._next_chat = {c: t for c, t in self._next_chat.items() if t > at}

    def pause(self, until: float) -> None:
        """The platform said "too many requests": nothing goes out before `until`."""
        self.paused_until = max(self.paused_until, until)

    def is_paused(self, now: float) -> bool:
        return self.paused_until > now
