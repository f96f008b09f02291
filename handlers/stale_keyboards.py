"""Old buttons do not act on the past.

Each event that sends new keyboards starts a new keyboard generation, kept in the chat's
state (`GENERATION`, a sticky key). Every button of the event's replies carries it as a
suffix ("v:12:y~7"); a press whose generation is not the chat's current one is answered
"this button is from an earlier message" and changes nothing. The channels also take the
old keyboards away (Telegram edits the old message's markup; the web chat greys them out),
so such a press is rare; this check is what holds when they could not (a restart, a
failed edit, two devices).

Presses on unstamped buttons (outbox messages: alerts and reminders, whose buttons open
what is current anyway; tokens too long to stamp) are not checked. An edit of the pressed
message keeps its generation, unless that message was not the current one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from common.messages import Choice, InboundKind, Reply
from handlers.tokens import MAX_BYTES

GENERATION = "kb"
SEPARATOR = "~"


def split(raw: str | None) -> tuple[str | None, int | None]:
    """The token without its stamp, and the stamp (None when there is none)."""
    if raw is None or SEPARATOR not in raw:
        return raw, None
    token, _, stamp = raw.rpartition(SEPARATOR)
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 9:
        return raw, None
    return token, int(stamp)


def is_stale(stamp: int | None, data: dict[str, Any]) -> bool:
    return stamp is not None and stamp != data.get(GENERATION, 0)


def stamp_replies(
    replies: list[Reply], data: dict[str, Any], kind: InboundKind, pressed_stamp: int | None
) -> dict[str, Any]:
    """Stamp every button of `replies` (in place); the state data with the new generation."""
    on_current = kind is InboundKind.CHOICE and pressed_stamp is not None
    fresh = any(r.choices and not (r.edit and on_current) for r in replies)
    if not any(r.choices for r in replies):
        return data
    generation = int(data.get(GENERATION, 0)) + (1 if fresh else 0)
    for reply in replies:
        reply.choices = [[_stamped(c, generation) for c in row] for row in reply.choices]
    return {**data, GENERATION: generation} if fresh else data


def _stamped(choice: Choice, generation: int) -> Choice:
    token = f"{choice.token}{SEPARATOR}{generation}"
    return replace(choice, token=token) if len(token.encode()) <= MAX_BYTES else choice
