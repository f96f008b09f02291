"""A fake Telegram Bot API server (aiohttp) for tests and benchmarks.

It listens on 127.0.0.1 with an ephemeral port and behaves like api.telegram.org where our
bot touches it: the same routes (`/bot<token>/<method>`, `/file/bot<token>/<path>`), the same
request encodings (JSON, form-urlencoded, multipart uploads), the same validation and the same
error JSON (`{"ok": false, "error_code": 400, "description": "Bad Request: ..."}`), so the
real aiogram client and our adapter run unmodified against it.

Deliberate approximations, so nobody mistakes them for Telegram facts:
- Text limits (4096 for text, 1024 for captions) are checked on the visible text after HTML
  parsing, counted in Unicode code points; MarkdownV2 is not parsed at all.
- The HTML parser is stricter than Telegram's: a bare `&` that does not start a supported
  entity (`&lt; &gt; &amp; &quot;` or numeric) is rejected, where Telegram sometimes lets it
  through. Producing only escaped text keeps a bot valid on both.
- "message is not modified" compares the raw new text and markup with the stored ones.
- Per-chat flood limits count sends (sendMessage/Document/Photo) only, not edits.
- Webhook deliveries are made once; a failed delivery is recorded and not retried. Plain
  http URLs on any port are accepted (Telegram demands https on 443/80/88/8443).
- All photo sizes of an injected photo carry the same bytes.

Test code injects updates (`send_text`, `send_command`, `press`, `send_document`, ...),
waits on recorded calls with `wait_for` (woken by each call, no polling sleeps) and reads
what the bot sent with `texts`, `keyboards`, `documents`, `edits`.

No pytest imports here: `bench/` uses this module too.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import mimetypes
import re
import socket
import time
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

JSON = dict[str, Any]
Predicate = Callable[["RecordedCall"], bool]

DEFAULT_TOKEN = "123456789:AAFakeTokenForTestsOnly-abcdefghijkl"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64  # bytes, UTF-8
TOAST_LIMIT = 200
BOT_FILE_LIMIT = 20 * 1024 * 1024  # getFile refuses bigger files for bots
UPLOAD_LIMIT = 50 * 1024 * 1024

# Methods that deliver a new message: they count against the flood limits.
MESSAGE_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto"})
EDIT_METHODS = frozenset({"editMessageText", "editMessageReplyMarkup"})
# Scripted faults ("the next N sends fail") hit these unless told otherwise.
SEND_METHODS = MESSAGE_METHODS | EDIT_METHODS
# Methods refused for blocked or missing chats.
CHAT_METHODS = SEND_METHODS | {"sendChatAction"}


class TelegramError(Exception):
    """An error answer of the Bot API; `description` already has the Telegram prefix."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> TelegramError:
    return TelegramError(400, f"Bad Request: {detail}")


# --------------------------------------------------------------------------------------------
# HTML parse_mode validation
# --------------------------------------------------------------------------------------------

ALLOWED_TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
        "tg-spoiler", "span", "blockquote", "tg-emoji",
    }
)  # fmt: skip
_TAG_RE = re.compile(r"<(/?)([^\s<>/]*)([^<>]*)>")
_ENTITY_RE = re.compile(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|lt|gt|amp|quot);")
_SPECIAL_RE = re.compile(r"[<&]")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPOILER_CLASS_RE = re.compile(r"""class\s*=\s*(["']?)tg-spoiler\1""")


def _entity_error(text: str, pos: int, detail: str) -> TelegramError:
    offset = len(text[:pos].encode())
    return bad_request(f"can't parse entities: {detail} at byte offset {offset}")


def _decode_entity(token: str) -> str:
    if token.startswith("#x") or token.startswith("#X"):
        return chr(int(token[2:], 16))
    if token.startswith("#"):
        return chr(int(token[1:]))
    return _NAMED[token]


def parse_html(text: str) -> str:
    """Return the visible text of a Telegram-HTML string or raise a 400 like Telegram."""
    visible: list[str] = []
    stack: list[tuple[str, int]] = []
    pos = 0
    while pos < len(text):
        special = _SPECIAL_RE.search(text, pos)
        end = special.start() if special else len(text)
        visible.append(text[pos:end])  # plain text up to the next tag or entity
        pos = end
        if special is None:
            break
        if special.group() == "<":
            pos = _parse_tag(text, pos, stack)
        else:
            match = _ENTITY_RE.match(text, pos)
            if match is None:
                raise _entity_error(text, pos, "Unsupported HTML entity or bare '&'")
            visible.append(_decode_entity(match.group(1)))
            pos = match.end()
    if stack:
        name, start = stack[-1]
        raise _entity_error(text, start, f'Can\'t find end tag corresponding to start tag "{name}"')
    return "".join(visible)


def _parse_tag(text: str, pos: int, stack: list[tuple[str, int]]) -> int:
    match = _TAG_RE.match(text, pos)
    if match is None or not match.group(2):
        raise _entity_error(text, pos, 'Unsupported start tag ""')
    closing, name, attrs = match.group(1) == "/", match.group(2).lower(), match.group(3)
    if closing:
        if not stack:
            raise _entity_error(text, pos, f'Unexpected end tag "</{name}>"')
        if stack[-1][0] != name:
            expected = stack[-1][0]
            raise _entity_error(
                text, pos, f'Unmatched end tag, expected "</{expected}>", found "</{name}>"'
            )
        stack.pop()
    else:
        if name not in ALLOWED_TAGS:
            raise _entity_error(text, pos, f'Unsupported start tag "{name}"')
        if name == "span" and not _SPOILER_CLASS_RE.search(attrs):
            raise _entity_error(text, pos, 'Tag "span" must have class "tg-spoiler"')
        stack.append((name, pos))
    return match.end()


# --------------------------------------------------------------------------------------------
# Data kept by the fake
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeUser:
    """A person writing to the bot; in a private chat the chat id is the user id."""

    user_id: int
    first_name: str = "Test"
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "vi"
    chat_id: int | None = None  # None: private chat with this user

    @property
    def chat(self) -> int:
        return self.user_id if self.chat_id is None else self.chat_id

    def to_json(self) -> JSON:
        data: JSON = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        return data


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    field: str
    file_name: str
    data: bytes
    content_type: str


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class StoredMessage:
    chat_id: int
    message_id: int
    from_bot: bool
    date: int
    text: str | None = None
    caption: str | None = None
    reply_markup: JSON | None = None
    extra: JSON = field(default_factory=dict)  # document / photo / sticker / entities...


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


@dataclass(frozen=True)
class SentFile:
    """A document or photo the bot uploaded (or re-sent by file_id)."""

    method: str
    chat_id: int
    message_id: int
    file_name: str
    data: bytes
    caption: str | None
    reply_markup: JSON | None


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


@dataclass
class Stats:
    rate_limited: int = 0  # 429 answers served (limits and scripted)
    statuses: Counter[int] = field(default_factory=Counter)  # every status served
    webhook_deliveries: list[tuple[int, int]] = field(default_factory=list)  # (update, status)


# Form fields that Telegram decodes as JSON, and those that are numbers.
_JSON_FIELDS = frozenset(
    {
        "reply_markup", "entities", "caption_entities", "allowed_updates", "commands", "scope",
        "link_preview_options", "reply_parameters",
    }
)  # fmt: skip
_INT_FIELDS = frozenset(
    {"chat_id", "message_id", "offset", "limit", "timeout", "user_id", "cache_time",
     "max_connections", "reply_to_message_id", "message_thread_id"}
)  # fmt: skip
_INT_RE = re.compile(r"-?\d+")


def _decode_form_value(key: str, value: str) -> Any:
    if key in _JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {key} JSON object") from None
    if key in _INT_FIELDS and _INT_RE.fullmatch(value):
        return int(value)
    if value in ("true", "false"):
        return value == "true"
    return value


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now, for servers that must know their URL before listening
    (a webhook registers its URL); tiny race, acceptable in tests and benchmarks."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _chat_json(chat_id: int, user: FakeUser | None = None) -> JSON:
    if chat_id > 0:
        chat: JSON = {"id": chat_id, "type": "private"}
        if user is not None:
            chat["first_name"] = user.first_name
        return chat
    return {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------

Handler = Callable[[JSON, dict[str, UploadedFile]], Awaitable[Any]]


class FakeTelegram:
    """The fake Bot API. Use `async with FakeTelegram() as fake:`; then `fake.base_url`."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "cchc_test_bot",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.clock = clock  # drives the flood limits; tests may pass a fake one
        self.host = "127.0.0.1"
        self.port = 0
        self.calls: list[RecordedCall] = []
        self.stats = Stats()
        self.commands: dict[tuple[str, str], list[JSON]] = {}  # (scope type, lang) -> list
        self.webhook: JSON | None = None  # url, secret_token, max_connections, allowed_updates
        self.blocked: set[int] = set()
        self.deactivated: set[int] = set()
        self.missing_chats: set[int] = set()

        self._messages: dict[int, dict[int, StoredMessage]] = defaultdict(dict)
        self._next_message_id: dict[int, int] = defaultdict(lambda: 1)
        self._files: dict[str, StoredFile] = {}
        self._file_paths: dict[str, StoredFile] = {}
        self._callbacks: dict[str, bool] = {}  # query id -> answered
        self._pending: list[JSON] = []  # updates not yet confirmed by getUpdates offset
        self._allowed_updates: list[str] | None = None
        self._update_ids = itertools.count(1)
        self._ids = itertools.count(1)  # file ids, callback ids
        self._faults: list[Fault] = []
        self._global_limit: SlidingWindow | None = None
        self._chat_limit: tuple[int, float] | None = None
        self._chat_windows: dict[int, SlidingWindow] = {}
        self._update_waiters: set[asyncio.Future[None]] = set()
        self._call_waiters: dict[int | None, set[asyncio.Future[None]]] = defaultdict(set)
        self._calls_by_chat: dict[int, list[RecordedCall]] = defaultdict(list)
        self._polling = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self._webhook_slots: asyncio.Semaphore | None = None
        self._handlers: dict[str, Handler] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "answercallbackquery": self._answer_callback_query,
            "senddocument": self._send_document,
            "sendphoto": self._send_photo,
            "getfile": self._get_file,
            "sendchataction": self._send_chat_action,
        }
        self._canonical = {
            name.lower(): name
            for name in (
                "getMe", "getUpdates", "deleteWebhook", "setWebhook", "getWebhookInfo",
                "setMyCommands", "sendMessage", "editMessageText", "editMessageReplyMarkup",
                "answerCallbackQuery", "sendDocument", "sendPhoto", "getFile", "sendChatAction",
            )
        }  # fmt: skip

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> FakeTelegram:
        app = web.Application(client_max_size=UPLOAD_LIMIT + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        # A short shutdown timeout: long polls are woken on stop, nothing else lingers.
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]  # the ephemeral port the OS chose
        self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self

    async def stop(self) -> None:
        self._closing = True
        self._wake(self._update_waiters)
        for task in list(self._deliveries):
            task.cancel()
        await asyncio.gather(*self._deliveries, return_exceptions=True)
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What `TelegramAPIServer.from_base` wants, e.g. "http://127.0.0.1:41234"."""
        return f"http://{self.host}:{self.port}"

    # ---- configuration and fault injection ---------------------------------------------------

    def set_rate_limits(
        self,
        *,
        global_per_second: int | None = None,
        per_chat: tuple[int, float] | None = None,
    ) -> None:
        """Flood limits (off by default): e.g. global 30 msg/s and per chat (1, 1.0) = 1 msg/s.

        Exceeding one answers 429 "Too Many Requests: retry after N" with parameters.retry_after.
        """
        self._global_limit = SlidingWindow(global_per_second, 1.0) if global_per_second else None
        self._chat_limit = per_chat
        self._chat_windows.clear()

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 429,
        retry_after: int | None = None,
        description: str | None = None,
        methods: Iterable[str] = SEND_METHODS,
        chat_id: int | None = None,
    ) -> None:
        """Make the next `count` matching calls fail with `status` (429, 500, 502, ...).

        429 defaults to retry_after=1. 502 answers an HTML page like Telegram's nginx does.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        self._faults.append(
            Fault(count, status, retry_after, description, frozenset(methods), chat_id)
        )

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: sends answer 403 "Forbidden: bot was blocked by the user"."""
        self.blocked.add(chat_id)

    def deactivate(self, chat_id: int) -> None:
        """The account was deleted: 403 "Forbidden: user is deactivated"."""
        self.deactivated.add(chat_id)

    def forget_chat(self, chat_id: int) -> None:
        """The chat does not exist for the bot: 400 "Bad Request: chat not found"."""
        self.missing_chats.add(chat_id)

    def delete_message(self, chat_id: int, message_id: int) -> None:
        """The user deleted a message: editing it then fails like on Telegram."""
        self._messages[chat_id].pop(message_id, None)

    # ---- injection ---------------------------------------------------------------------------

    def user(self, user_id: int, **details: Any) -> FakeUser:
        return FakeUser(user_id, **details)

    def queue_update(self, update: JSON) -> JSON:
        """Queue a raw update (an `update_id` is assigned) for getUpdates or the webhook."""
        update = {"update_id": next(self._update_ids), **update}
        self._pending.append(update)
        self._wake(self._update_waiters)
        if self.webhook is not None:
            self._deliver_soon(update)
        return update

    def send_text(
        self, user: FakeUser | int, text: str, *, entities: list[JSON] | None = None
    ) -> JSON:
        extra: JSON = {"entities": entities} if entities else {}
        return self._user_message(user, text=text, extra=extra)

    def send_command(
        self, user: FakeUser | int, command: str, args: str = "", *, mention: bool = False
    ) -> JSON:
        """`/command args` with its bot_command entity; `mention` adds @botusername."""
        head = f"/{command}" + (f"@{self.bot_username}" if mention else "")
        text = f"{head} {args}" if args else head
        entity = {"type": "bot_command", "offset": 0, "length": len(head.encode("utf-16-le")) // 2}
        return self.send_text(user, text, entities=[entity])

    def send_document(
        self,
        user: FakeUser | int,
        data: bytes,
        file_name: str,
        mime_type: str = "application/pdf",
        *,
        caption: str | None = None,
        file_size: int | None = None,
    ) -> JSON:
        """A document message; `file_size` may lie about the size (a "too big" file)."""
        stored = self._store_file(data, "documents", file_name, mime_type)
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": stored.size if file_size is None else file_size,
        }
        extra: JSON = {"document": document}
        if caption is not None:
            extra["caption"] = caption
        return self._user_message(user, extra=extra)

    def send_photo(
        self,
        user: FakeUser | int,
        data: bytes,
        *,
        width: int = 1280,
        height: int = 960,
        caption: str | None = None,
    ) -> JSON:
        """A photo with three sizes, smallest first like Telegram; the last is the original."""
        sizes = []
        for scale in (90, 320, max(width, height)):
            factor = min(1.0, scale / max(width, height))
            stored = self._store_file(data, "photos", None, "image/jpeg")
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": max(1, round(width * factor)),
                    "height": max(1, round(height * factor)),
                    "file_size": stored.size,
                }
            )
        extra: JSON = {"photo": sizes}
        if caption is not None:
            extra["caption"] = caption
        return self._user_message(user, extra=extra)

    def send_sticker(self, user: FakeUser | int, emoji: str = "👍") -> JSON:
        stored = self._store_file(b"RIFF-webp", "stickers", None, "image/webp")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._user_message(user, extra={"sticker": sticker})

    def send_other(self, user: FakeUser | int, **fields: Any) -> JSON:
        """Any other message content, e.g. `location={"latitude": 21.0, "longitude": 105.8}`."""
        return self._user_message(user, extra=fields)

    def press(
        self, user: FakeUser | int, callback_data: str, *, message_id: int | None = None
    ) -> JSON:
        """Press the button carrying `callback_data` on the newest bot message that has it."""
        user = self._as_user(user)
        message = self._find_button(user.chat, callback_data, message_id)
        query_id = str(next(self._ids))
        self._callbacks[query_id] = False
        query = {
            "id": query_id,
            "from": user.to_json(),
            "message": self._message_json(message),
            "chat_instance": str(abs(hash((self.bot_id, user.chat)))),
            "data": callback_data,
        }
        return self.queue_update({"callback_query": query})

    def _as_user(self, user: FakeUser | int) -> FakeUser:
        return user if isinstance(user, FakeUser) else FakeUser(user)

    def _user_message(
        self, user: FakeUser | int, *, text: str | None = None, extra: JSON | None = None
    ) -> JSON:
        user = self._as_user(user)
        extra = dict(extra or {})
        caption = extra.pop("caption", None)
        message = self._store_message(user.chat, from_bot=False, text=text, caption=caption)
        message.extra = {"from": user.to_json(), **extra}
        payload = self._message_json(message)
        payload["chat"] = _chat_json(user.chat, user)
        return self.queue_update({"message": payload})

    def _find_button(self, chat_id: int, data: str, message_id: int | None) -> StoredMessage:
        messages = self._messages[chat_id]
        candidates = [messages[message_id]] if message_id in messages else []
        if message_id is None:
            candidates = sorted(messages.values(), key=lambda m: m.message_id, reverse=True)
        for message in candidates:
            rows = (message.reply_markup or {}).get("inline_keyboard", [])
            if message.from_bot and any(b.get("callback_data") == data for r in rows for b in r):
                return message
        raise LookupError(f"no button {data!r} on a bot message in chat {chat_id}")

    # ---- reading what the bot did --------------------------------------------------------------

    def mark(self) -> int:
        """The index the next recorded call will get: `wait_for(..., since=fake.mark())`."""
        return len(self.calls)

    def calls_to(
        self, method: str | None = None, chat_id: int | None = None, *, ok_only: bool = False
    ) -> list[RecordedCall]:
        source = self.calls if chat_id is None else self._calls_by_chat[chat_id]
        return [
            c for c in source if (method is None or c.method == method) and (c.ok or not ok_only)
        ]

    def sent(self, chat_id: int) -> list[RecordedCall]:
        """Successful new messages (text, document, photo) to a chat, in order."""
        return [c for c in self._calls_by_chat[chat_id] if c.ok and c.method in MESSAGE_METHODS]

    def texts(self, chat_id: int) -> list[str]:
        """Texts (or captions) of the messages sent to a chat, in order."""
        return [c.text for c in self.sent(chat_id)]

    def keyboards(self, chat_id: int) -> list[list[list[JSON]] | None]:
        """Inline keyboards (rows of button objects) of the messages sent, None if none."""
        return [(c.reply_markup or {}).get("inline_keyboard") for c in self.sent(chat_id)]

    def edits(self, chat_id: int) -> list[RecordedCall]:
        return [c for c in self._calls_by_chat[chat_id] if c.ok and c.method in EDIT_METHODS]

    def documents(self, chat_id: int) -> list[SentFile]:
        return self._sent_files(chat_id, "sendDocument", "document")

    def photos(self, chat_id: int) -> list[SentFile]:
        return self._sent_files(chat_id, "sendPhoto", "photo")

    def callback_answers(self) -> list[RecordedCall]:
        return self.calls_to("answerCallbackQuery")

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates the bot has not confirmed yet (a getUpdates offset past them)."""
        return list(self._pending)

    def unanswered_callbacks(self) -> list[str]:
        return [query_id for query_id, answered in self._callbacks.items() if not answered]

    def message(self, chat_id: int, message_id: int) -> StoredMessage | None:
        """The current state of a message (after edits)."""
        return self._messages[chat_id].get(message_id)

    def file_bytes(self, file_id: str) -> bytes:
        return self._files[file_id].data

    def _sent_files(self, chat_id: int, method: str, kind: str) -> list[SentFile]:
        out = []
        for call in self.calls_to(method, chat_id, ok_only=True):
            message = call.response["result"]
            obj = message[kind][-1] if kind == "photo" else message[kind]
            stored = self._files[obj["file_id"]]
            out.append(
                SentFile(
                    method=method,
                    chat_id=chat_id,
                    message_id=message["message_id"],
                    file_name=stored.file_name or "",
                    data=stored.data,
                    caption=call.params.get("caption"),
                    reply_markup=call.reply_markup,
                )
            )
        return out

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
        source = self.calls if chat_id is None else self._calls_by_chat[chat_id]
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

    async def wait_polling(self, timeout: float = 5.0) -> None:
        """Until a bot has made its first getUpdates request."""
        async with asyncio.timeout(timeout):
            await self._polling.wait()

    async def _next_call(self, chat_id: int | None) -> None:
        waiter = asyncio.get_running_loop().create_future()
        waiters = self._call_waiters[chat_id]
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

    @staticmethod
    def _wake(waiters: set[asyncio.Future[None]]) -> None:
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _record(self, call: RecordedCall) -> None:
        call.index = len(self.calls)
        self.calls.append(call)
        self.stats.statuses[call.status] += 1
        if call.status == 429:
            self.stats.rate_limited += 1
        self._wake(self._call_waiters[None])
        if call.chat_id is not None:
            self._calls_by_chat[call.chat_id].append(call)
            self._wake(self._call_waiters[call.chat_id])

    # ---- HTTP entry points ---------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(TelegramError(401, "Unauthorized").body(), status=401)
        method = self._canonical.get(request.match_info["method"].lower())
        if method is None:
            return web.json_response(TelegramError(404, "Not Found").body(), status=404)
        at = time.perf_counter()
        try:
            params, files = await self._read_params(request)
        except TelegramError as error:
            return web.json_response(error.body(), status=error.status)
        call = RecordedCall(-1, method, params, files, at, content_type=request.content_type)
        if method == "getUpdates":
            self._polling.set()
        response = await self._answer(call)
        self._record(call)
        return response

    async def _answer(self, call: RecordedCall) -> web.StreamResponse:
        try:
            self._check_gates(call.method, call.chat_id)
            result = await self._handlers[call.method.lower()](call.params, call.files)
        except TelegramError as error:
            call.status, call.response = error.status, error.body()
            if error.status == 502:
                return web.Response(status=502, text=_NGINX_502, content_type="text/html")
            return web.json_response(call.response, status=error.status)
        call.status, call.response = 200, {"ok": True, "result": result}
        return web.json_response(call.response)

    async def _read_params(self, request: web.Request) -> tuple[JSON, dict[str, UploadedFile]]:
        params: JSON = {k: _decode_form_value(k, v) for k, v in request.query.items()}
        files: dict[str, UploadedFile] = {}
        if request.content_type == "application/json" and request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON") from None
            params.update(body if isinstance(body, dict) else {})
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    files[key] = UploadedFile(key, value.filename, data, value.content_type)
                else:
                    params[key] = _decode_form_value(key, str(value))
        if isinstance(params.get("chat_id"), str) and _INT_RE.fullmatch(params["chat_id"]):
            params["chat_id"] = int(params["chat_id"])  # JSON callers may send "42"
        return params, files

    async def _download(self, request: web.Request) -> web.StreamResponse:
        stored = self._file_paths.get(request.match_info["path"])
        if request.match_info["token"] != self.token or stored is None:
            return web.json_response(TelegramError(404, "Not Found").body(), status=404)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    def _check_gates(self, method: str, chat_id: int | None) -> None:
        """Scripted faults, flood limits and unreachable chats, in that order."""
        for fault in self._faults:
            if fault.remaining > 0 and fault.matches(method, chat_id):
                fault.remaining -= 1
                raise _fault_error(fault)
        self._faults = [f for f in self._faults if f.remaining > 0]
        if method in MESSAGE_METHODS:
            self._check_flood(chat_id)
        if method in CHAT_METHODS and chat_id is not None:
            if chat_id in self.missing_chats:
                raise bad_request("chat not found")
            if chat_id in self.blocked:
                raise TelegramError(403, "Forbidden: bot was blocked by the user")
            if chat_id in self.deactivated:
                raise TelegramError(403, "Forbidden: user is deactivated")

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
            raise TelegramError(429, f"Too Many Requests: retry after {retry}", retry)

    # ---- Bot API methods -----------------------------------------------------------------------

    async def _get_me(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "CCHC Test Bot",
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _get_updates(self, params: JSON, files: dict[str, UploadedFile]) -> list[JSON]:
        if self.webhook is not None:
            raise TelegramError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        if "allowed_updates" in params:
            self._allowed_updates = params["allowed_updates"] or None
        if offset > 0:  # confirms every update before it
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._closing:
            ready = [u for u in self._pending if self._is_allowed(u)]
            remaining = deadline - asyncio.get_running_loop().time()
            if ready or remaining <= 0:
                return ready[:limit]
            waiter = asyncio.get_running_loop().create_future()
            self._update_waiters.add(waiter)
            try:
                async with asyncio.timeout(remaining):
                    await waiter
            except TimeoutError:
                pass
            finally:
                self._update_waiters.discard(waiter)
        return []

    def _is_allowed(self, update: JSON) -> bool:
        allowed = self._allowed_updates
        return not allowed or any(kind in update for kind in allowed)

    async def _set_webhook(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        url = str(params.get("url") or "")
        if not url:  # Telegram treats an empty url as "remove the webhook"
            return await self._delete_webhook(params, files)
        if not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        max_connections = int(params.get("max_connections") or 40)
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": max_connections,
            "allowed_updates": params.get("allowed_updates"),
        }
        self._allowed_updates = params.get("allowed_updates") or self._allowed_updates
        self._webhook_slots = asyncio.Semaphore(max_connections)
        self._wake(self._update_waiters)  # a pending getUpdates now conflicts
        for update in list(self._pending):
            self._deliver_soon(update)
        return True

    async def _delete_webhook(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _get_webhook_info(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        hook = self.webhook or {}
        return {
            "url": hook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
            "max_connections": hook.get("max_connections", 40),
        }

    async def _set_my_commands(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request("commands must be an array")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        scope = (params.get("scope") or {}).get("type", "default")
        self.commands[(scope, str(params.get("language_code") or ""))] = commands
        return True

    async def _send_message(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat_id = _require_chat(params)
        text = str(params.get("text") or "")
        _check_text(text, params.get("parse_mode"), TEXT_LIMIT, caption=False)
        markup = _check_markup(params.get("reply_markup"))
        message = self._store_message(chat_id, from_bot=True, text=text, markup=markup)
        return self._message_json(message)

    async def _send_document(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        return self._send_file(params, files, "document")

    async def _send_photo(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        return self._send_file(params, files, "photo")

    def _send_file(self, params: JSON, files: dict[str, UploadedFile], kind: str) -> JSON:
        chat_id = _require_chat(params)
        caption = params.get("caption")
        if caption:
            _check_text(str(caption), params.get("parse_mode"), CAPTION_LIMIT, caption=True)
        markup = _check_markup(params.get("reply_markup"))
        stored = self._resolve_upload(params.get(kind), files, kind)
        message = self._store_message(
            chat_id, from_bot=True, caption=caption or None, markup=markup
        )
        if kind == "photo":
            message.extra["photo"] = [
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": 800,
                    "height": 600,
                    "file_size": stored.size,
                }
            ]
        else:
            message.extra["document"] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": stored.file_name,
                "mime_type": stored.mime_type,
                "file_size": stored.size,
            }
        return self._message_json(message)

    def _resolve_upload(self, value: Any, files: dict[str, UploadedFile], kind: str) -> StoredFile:
        upload = files.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
        if upload is not None:
            if len(upload.data) > UPLOAD_LIMIT:
                raise TelegramError(413, "Request Entity Too Large")
            if not upload.data:
                raise bad_request("file must be non-empty")
            mime = mimetypes.guess_type(upload.file_name)[0] or "application/octet-stream"
            folder = "photos" if kind == "photo" else "documents"
            return self._store_file(upload.data, folder, upload.file_name, mime)
        if isinstance(value, str) and value in self._files:
            return self._files[value]
        if value:
            raise bad_request("wrong file identifier/HTTP URL specified")
        raise bad_request(f"there is no {kind} in the request")

    async def _edit_message_text(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        message = self._editable(params)
        text = str(params.get("text") or "")
        _check_text(text, params.get("parse_mode"), TEXT_LIMIT, caption=False)
        markup = _check_markup(params.get("reply_markup"))
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        if message.text == text and message.reply_markup == markup:
            raise _not_modified()
        message.text, message.reply_markup = text, markup
        return self._message_json(message)

    async def _edit_message_reply_markup(
        self, params: JSON, files: dict[str, UploadedFile]
    ) -> JSON:
        message = self._editable(params)
        markup = _check_markup(params.get("reply_markup"))
        if message.reply_markup == markup:
            raise _not_modified()
        message.reply_markup = markup
        return self._message_json(message)

    def _editable(self, params: JSON) -> StoredMessage:
        if "inline_message_id" in params:
            raise bad_request("inline messages are not supported by the fake")
        chat_id = _require_chat(params)
        message = self._messages[chat_id].get(int(params.get("message_id") or 0))
        if message is None:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return message

    async def _answer_callback_query(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if self._callbacks.get(query_id, True):  # unknown or already answered
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if len(str(params.get("text") or "")) > TOAST_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        self._callbacks[query_id] = True
        return True

    async def _get_file(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.size > BOT_FILE_LIMIT:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    async def _send_chat_action(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        _require_chat(params)
        if not params.get("action"):
            raise bad_request("action is empty")
        return True

    # ---- storage -------------------------------------------------------------------------------

    def _store_message(
        self,
        chat_id: int,
        *,
        from_bot: bool,
        text: str | None = None,
        caption: str | None = None,
        markup: JSON | None = None,
    ) -> StoredMessage:
        # In a private chat the user's and the bot's messages share one id sequence.
        message_id = self._next_message_id[chat_id]
        self._next_message_id[chat_id] = message_id + 1
        message = StoredMessage(
            chat_id, message_id, from_bot, int(time.time()), text, caption, markup
        )
        self._messages[chat_id][message_id] = message
        return message

    def _store_file(
        self, data: bytes, folder: str, file_name: str | None, mime_type: str | None
    ) -> StoredFile:
        number = next(self._ids)
        suffix = ("." + file_name.rsplit(".", 1)[-1]) if file_name and "." in file_name else ""
        if folder == "photos":
            suffix = ".jpg"
        stored = StoredFile(
            file_id=f"BQACAgIAAx-fake-{number}",
            file_unique_id=f"AgAD{number:06d}",
            data=data,
            file_path=f"{folder}/file_{number}{suffix}",
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files[stored.file_id] = stored
        self._file_paths[stored.file_path] = stored
        return stored

    def _message_json(self, message: StoredMessage) -> JSON:
        payload: JSON = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": _chat_json(message.chat_id),
        }
        if message.from_bot:
            payload["from"] = {
                "id": self.bot_id,
                "is_bot": True,
                "first_name": "CCHC Test Bot",
                "username": self.bot_username,
            }
        if message.text is not None:
            payload["text"] = message.text
        if message.caption is not None:
            payload["caption"] = message.caption
        if message.reply_markup is not None:
            payload["reply_markup"] = message.reply_markup
        payload.update(message.extra)
        return payload

    # ---- webhook -------------------------------------------------------------------------------

    async def post_update(
        self, update: JSON, *, url: str | None = None, secret_token: str | None = None
    ) -> int:
        """POST one update to a webhook like Telegram does; returns the HTTP status.

        Without `url` the registered webhook is used, and its secret unless one is given.
        """
        hook = self.webhook or {}
        target = url or hook.get("url")
        if not target or self._client is None:
            raise RuntimeError("no webhook URL (setWebhook not called) or fake not started")
        secret = secret_token if secret_token is not None else hook.get("secret_token")
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        async with self._client.post(target, json=update, headers=headers) as response:
            await response.read()
            return response.status

    def _deliver_soon(self, update: JSON) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(update))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, update: JSON) -> None:
        slots = self._webhook_slots or asyncio.Semaphore(40)
        async with slots:
            if self.webhook is None or update not in self._pending:
                return
            if not self._is_allowed(update):  # Telegram drops what was not asked for
                self._pending.remove(update)
                return
            try:
                status = await self.post_update(update)
            except aiohttp.ClientError:
                status = 0  # connection refused/reset: recorded as 0
            self.stats.webhook_deliveries.append((update["update_id"], status))
            if update in self._pending:
                self._pending.remove(update)


_NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_STATUS_TEXT = {
    400: "Bad Request",
    403: "Forbidden",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _fault_error(fault: Fault) -> TelegramError:
    if fault.status == 429:
        retry = fault.retry_after or 1
        return TelegramError(
            429, fault.description or f"Too Many Requests: retry after {retry}", retry
        )
    description = fault.description or _STATUS_TEXT.get(fault.status, "Error")
    return TelegramError(fault.status, description)


def _not_modified() -> TelegramError:
    return bad_request(
        "message is not modified: specified new message content and reply markup are "
        "exactly the same as a current content and reply markup of the message"
    )


def _require_chat(params: JSON) -> int:
    chat_id = params.get("chat_id")
    if chat_id is None or chat_id == "":
        raise bad_request("chat_id is empty")
    if not isinstance(chat_id, int):
        raise bad_request("chat not found")  # @usernames of channels are not simulated
    return chat_id


def _check_text(text: str, parse_mode: Any, limit: int, *, caption: bool) -> None:
    visible = parse_html(text) if str(parse_mode or "").lower() == "html" else text
    if not caption and not visible.strip():
        raise bad_request("message text is empty")
    if len(visible) > limit:
        raise bad_request("message caption is too long" if caption else "message is too long")


def _check_markup(markup: Any) -> JSON | None:
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not str(button.get("text") or "").strip():
                raise bad_request("text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                raise bad_request("BUTTON_DATA_INVALID")
    return markup
