"""Typed text longer than any platform lets a person send (Telegram's 4096 characters) gets
one clear answer on every channel, before any state handler sees it.

The web chat could otherwise carry a text of any length; refusing it here, with its length
and the limit, keeps the channels alike and nothing is dropped without a word (the typed
text stays in the person's own bubble to shorten and send again).
"""

from __future__ import annotations

from common.messages import InboundKind
from handlers.context import Turn

TYPED_LIMIT = 4096


def refused_as_too_long(turn: Turn) -> bool:
    """True (and the reply said) when the event's text is over the limit."""
    inbound = turn.inbound
    if inbound.kind not in (InboundKind.TEXT, InboundKind.COMMAND):
        return False
    length = len(inbound.text)
    if length <= TYPED_LIMIT:
        return False
    turn.say(turn.t("edges.text_too_long", length=length, max=TYPED_LIMIT))
    return True
