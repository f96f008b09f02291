"""Which messages of a chat carry the current keyboard, so a channel can take the earlier
ones away once the conversation has moved on (issue 19: old buttons do not act on the
past). Telegram removes the old message's markup; the web chat greys the old buttons out.

Only replies in the conversation count (not alerts or reminders from the outbox, whose
buttons stay). Kept in memory, best effort: after a restart an old keyboard may stay, and
the conversation itself still answers its press as stale (handlers/stale_keyboards.py).
"""

from __future__ import annotations

from collections import OrderedDict

CHATS_KEPT = 50_000  # chats remembered; the oldest are forgotten first


class KeyboardTracker:
    def __init__(self, limit: int = CHATS_KEPT) -> None:
        self.limit = limit
        self._current: OrderedDict[str, set[str]] = OrderedDict()

    def replace(self, chat_id: str, message_ids: list[str]) -> list[str]:
        """`message_ids`: this event's messages with buttons. Returns the messages whose
        keyboards are now out of date (none when this event sent no keyboard)."""
        if not message_ids:
            return []
        old = self._current.pop(chat_id, set())
        self._current[chat_id] = set(message_ids)
        while len(self._current) > self.limit:
            self._current.popitem(last=False)
        return sorted(old - set(message_ids))
