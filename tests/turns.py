"""A stand-in for the conversation dispatcher in channel tests (no database).

`InTurns` keeps the dispatcher's contract (handlers.dispatcher.Dispatcher.handle, the
`ConversationHandler` of common/messages.py): one event per chat at a time, and the replies
handed to the channel's `deliver` before that chat's next event starts.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable

from common.messages import Deliver, Inbound, Reply

Answer = Callable[[Inbound], Awaitable[list[Reply]]]


class InTurns:
    """Around `answer` (a function, or a subclass's method): replies to one event."""

    def __init__(self, answer: Answer | None = None) -> None:
        self._answer = answer
        self._turns: defaultdict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)

    async def answer(self, event: Inbound) -> list[Reply]:
        assert self._answer is not None, "give a function or override answer()"
        return await self._answer(event)

    async def __call__(self, event: Inbound, deliver: Deliver | None = None) -> list[Reply]:
        async with self._turns[(event.sender.platform, event.sender.chat_id)]:
            replies = await self.answer(event)  # an error goes to the channel, undelivered
            if deliver is not None:
                await deliver(replies)
            return replies
