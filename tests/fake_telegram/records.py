"""What the bot asked of the fake, kept for tests to read and wait on.

Waiting is woken by each recorded call (`wait_for`, `wait_until`): no polling sleeps.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fake_telegram.errors import JSON
from tests.fake_telegram.files import UploadedFile
from tests.fake_telegram.limits import EDIT_METHODS, MESSAGE_METHODS

Predicate = Callable[["RecordedCall"], bool]
ArrivalHook = Callable[["RecordedCall"], None]


@dataclass
class RecordedCall:
    """One Bot API request and the answer the fake gave."""

    index: int  # position in FakeTelegram.calls; pass as `since` to wait only for later calls
    method: str
    params: JSON
    files: dict[str, UploadedFile]
    at: float  # time.perf_counter() when the request arrived
    status: int = 0
    response: JSON = field(default_factory=dict)
    content_type: str = ""  # how the parameters came: JSON, url-encoded or multipart
    peer: tuple[str, int] | None = None  # the address the request came from

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return value if isinstance(value, int) else None

    @property
    def text(self) -> str:
        """The text or caption sent, "" when there is none."""
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def reply_markup(self) -> JSON | None:
        markup = self.params.get("reply_markup")
        return markup if isinstance(markup, dict) else None

    @property
    def result_message_id(self) -> int | None:
        result = self.response.get("result")
        return result.get("message_id") if isinstance(result, dict) else None


@dataclass
class Stats:
    rate_limited: int = 0  # 429 answers served (limits and scripted)
    statuses: Counter[int] = field(default_factory=Counter)  # every status served
    webhook_deliveries: list[tuple[int, int]] = field(default_factory=list)  # (update, status)


class CallLog:
    """Every recorded call, in order and by chat; what the bot sent, read back."""

    def __init__(self) -> None:
        self.calls: list[RecordedCall] = []
        self.stats = Stats()
        self._by_chat: dict[int, list[RecordedCall]] = defaultdict(list)
        self._waiters: dict[int | None, set[asyncio.Future[None]]] = defaultdict(set)
        self._arrival_hooks: list[ArrivalHook] = []

    def on_arrival(self, hook: ArrivalHook) -> None:
        """Call `hook(call)` as each request arrives, before it is answered (no status, no
        response, index -1 yet): what a test does there happens while that request is in
        flight, e.g. kill the bot's process (tests/test_crash.py)."""
        self._arrival_hooks.append(hook)

    def arrived(self, call: RecordedCall) -> None:
        for hook in list(self._arrival_hooks):
            hook(call)

    def record(self, call: RecordedCall) -> None:
        call.index = len(self.calls)
        self.calls.append(call)
        self.stats.statuses[call.status] += 1
        if call.status == 429:
            self.stats.rate_limited += 1
        wake(self._waiters[None])
        if call.chat_id is not None:
            self._by_chat[call.chat_id].append(call)
            wake(self._waiters[call.chat_id])

    # ---- reading what the bot did ----------------------------------------------------------

    def mark(self) -> int:
        """The index the next recorded call will get: `wait_for(..., since=fake.mark())`."""
        return len(self.calls)

    def calls_to(
        self, method: str | None = None, chat_id: int | None = None, *, ok_only: bool = False
    ) -> list[RecordedCall]:
        source = self.calls if chat_id is None else self._by_chat[chat_id]
        return [
            c for c in source if (method is None or c.method == method) and (c.ok or not ok_only)
        ]

    def sent(self, chat_id: int) -> list[RecordedCall]:
        """Successful new messages (text, document, photo) to a chat, in order."""
        return [c for c in self._by_chat[chat_id] if c.ok and c.method in MESSAGE_METHODS]

    def texts(self, chat_id: int) -> list[str]:
        """Texts (or captions) of the messages sent to a chat, in order."""
        return [c.text for c in self.sent(chat_id)]

    def keyboards(self, chat_id: int) -> list[list[list[JSON]] | None]:
        """Inline keyboards (rows of button objects) of the messages sent, None if none."""
        return [(c.reply_markup or {}).get("inline_keyboard") for c in self.sent(chat_id)]

    def edits(self, chat_id: int) -> list[RecordedCall]:
        return [c for c in self._by_chat[chat_id] if c.ok and c.method in EDIT_METHODS]

    def callback_answers(self) -> list[RecordedCall]:
        return self.calls_to("answerCallbackQuery")

    # ---- waiting -------------------------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Predicate,
        timeout: float = 5.0,
        *,
        since: int = 0,
        chat_id: int | None = None,
    ) -> RecordedCall:
        """The first recorded call (index >= since, to chat_id if given) matching predicate.

        Woken by each new call (only calls to `chat_id` when given, which keeps hundreds of
        concurrent waiters cheap); raises TimeoutError listing the last calls.
        """
        source = self.calls if chat_id is None else self._by_chat[chat_id]
        position = 0 if chat_id is not None else since
        try:
            async with asyncio.timeout(timeout):
                while True:
                    while position < len(source):
                        call = source[position]
                        position += 1
                        if call.index >= since and predicate(call):
                            return call
                    await self._next_call(chat_id)
        except TimeoutError:
            raise TimeoutError(self._timeout_report(timeout, since)) from None

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `condition()` holds, re-checked after every recorded call."""
        try:
            async with asyncio.timeout(timeout):
                while not condition():
                    await self._next_call(None)
        except TimeoutError:
            raise TimeoutError(self._timeout_report(timeout, 0)) from None

    async def _next_call(self, chat_id: int | None) -> None:
        waiter = asyncio.get_running_loop().create_future()
        waiters = self._waiters[chat_id]
        waiters.add(waiter)
        try:
            await waiter
        finally:
            waiters.discard(waiter)

    def _timeout_report(self, timeout: float, since: int) -> str:
        recent = [
            f"{c.index}:{c.method}({c.chat_id}) {c.status} {c.text[:60]!r}"
            for c in self.calls[max(since, len(self.calls) - 10) :]
        ]
        return f"no matching call within {timeout}s; calls since {since}: {recent}"


def wake(waiters: set[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
