"""Wrong invite codes across every chat: a limit per bot per minute.

The per-chat limit (handlers/onboarding.py: 5 wrong codes per 10 minutes, kept in the
chat's state) stops one chat guessing, not 40 chats guessing 5 times each. This counts the
wrong codes of every chat in fixed windows of `window_s` seconds (a minute, from the
injected clock). Once `limit` are counted in a window, every code check until the window
ends is refused without looking the code up, right ones too. The wrong code that closes a
window alerts the admins (storage.services.invites.alert_invite_flood, keyed by the window).

The count is in-process: each bot process counts its own (with several processes on
PostgreSQL, each has the whole limit; the alert's key is the same in all, so the admins hear
of a window once). Codes keep their 65 random bits:
at 30 guesses a minute, hitting one of a thousand live codes takes two billion years
(expected).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass
class InviteGuard:
    limit: int = 30  # wrong codes per window, across every chat
    window_s: int = 60
    _window: int = field(default=-1, repr=False)  # the current window's number
    _wrong_chats: list[str] = field(default_factory=list, repr=False)  # one per wrong code

    def _current(self, now: datetime) -> int:
        window = int(now.timestamp()) // self.window_s
        if window != self._window:
            self._window, self._wrong_chats = window, []
        return window

    def closed(self, now: datetime) -> bool:
        """Whether code checks are refused now (the window's wrong codes reached the limit)."""
        self._current(now)
        return len(self._wrong_chats) >= self.limit

    def count_wrong(self, now: datetime, chat: str) -> bool:
        """Count a wrong code from `chat`; True for the one that closes the window (the
        admins are alerted then: once per window)."""
        self._current(now)
        self._wrong_chats.append(chat)
        return len(self._wrong_chats) == self.limit

    def window_start(self, now: datetime) -> datetime:
        return datetime.fromtimestamp(self._current(now) * self.window_s, UTC)

    def reopens_in(self, now: datetime) -> timedelta:
        return self.window_start(now) + timedelta(seconds=self.window_s) - now

    def chats(self, now: datetime) -> int:
        """How many chats sent the window's wrong codes."""
        self._current(now)
        return len(set(self._wrong_chats))
