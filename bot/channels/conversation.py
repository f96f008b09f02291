"""One event through the conversation handler, as every channel hands it over.

The handler (handlers.dispatcher.Dispatcher.handle) takes one event per chat at a time and
calls `deliver` with the replies while the chat's turn is still held, so the replies to two
quick messages go out in the order of the messages: the channel has no lock of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from common.messages import ConversationHandler, Deliver, Inbound, Reply

log = logging.getLogger(__name__)


async def converse(
    handler: ConversationHandler,
    event: Inbound,
    deliver: Deliver,
    apology: Callable[[Inbound], str],
) -> None:
    """Hand `event` to the handler with `deliver`. A handler that fails before delivering
    anything (the dispatcher apologises itself; this is the last resort) still gets the
    person an apology, delivered the same way."""
    delivered = False

    async def once(replies: list[Reply]) -> None:
        nonlocal delivered
        delivered = True
        await deliver(replies)

    try:
        await handler(event, once)
    except Exception:
        sender = event.sender
        log.exception(
            "conversation handler failed on %s from %s:%s",
            event.kind,
            sender.platform,
            sender.chat_id,
        )
        if not delivered:
            await deliver([Reply(apology(event))])
