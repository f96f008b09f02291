"""FakeTelegram: the HTTP server, its routes, and the configuration and inspection helpers
tests use (the pieces it is made of live in the modules beside this one)."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from tests.fake_telegram.chats import ChatStore, StoredMessage
from tests.fake_telegram.errors import JSON, NGINX_502, TelegramError, bad_request
from tests.fake_telegram.files import UPLOAD_LIMIT, Download, FileStore, SentFile, UploadedFile
from tests.fake_telegram.limits import SEND_METHODS, Gates
from tests.fake_telegram.methods import BotApi
from tests.fake_telegram.people import People
from tests.fake_telegram.records import CallLog, RecordedCall
from tests.fake_telegram.updates import UpdateQueue
from tests.fake_telegram.webhook import Webhook

DEFAULT_TOKEN = "123456789:AAFakeTokenForTestsOnly-abcdefghijkl"

# Form fields that Telegram decodes as JSON, and those that are numbers.
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "reply_parameters",
    }
)
_INT_FIELDS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "cache_time",
        "max_connections",
        "reply_to_message_id",
        "message_thread_id",
    }
)
_INT_RE = re.compile(r"-?\d+")


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now, for servers that must know their URL before listening
    (a webhook registers its URL); tiny race, acceptable in tests and benchmarks."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class FakeTelegram(CallLog, People):
    """The fake Bot API. Use `async with FakeTelegram() as fake:`; then `fake.base_url`."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "cchc_test_bot",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.clock = clock  # drives the flood limits; tests may pass (or set) a fake one
        self.host = "127.0.0.1"
        self.port = 0
        self.downloads: list[Download] = []
        self.gates = Gates(lambda: self.clock())
        self.chats = ChatStore(self.bot_id, bot_username)
        self.files = FileStore()
        self.updates = UpdateQueue()
        self.hook = Webhook(self.updates, self.stats)
        self.api = BotApi(
            self.bot_id, bot_username, self.chats, self.files, self.updates, self.hook
        )
        self.callbacks = self.api.callbacks
        self.query_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

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
        await self.hook.start()
        return self

    async def stop(self) -> None:
        self.updates.close()
        await self.hook.stop()
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
        self.gates.set_rate_limits(global_per_second, per_chat)

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
        self.gates.fail_next(count, status, retry_after, description, methods, chat_id)

    def inject_429(self, share: float, *, retry_after: int = 2, seed: int = 1) -> None:
        """Refuse `share` (0-1) of message sends at random with 429 retry_after; the
        counts are `gates.injected_refusals`, apart from `gates.flood_refusals`."""
        self.gates.inject_429(share, retry_after, seed)

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: sends answer 403 "Forbidden: bot was blocked by the user"."""
        self.gates.blocked.add(chat_id)

    def deactivate(self, chat_id: int) -> None:
        """The account was deleted: 403 "Forbidden: user is deactivated"."""
        self.gates.deactivated.add(chat_id)

    def forget_chat(self, chat_id: int) -> None:
        """The chat does not exist for the bot: 400 "Bad Request: chat not found"."""
        self.gates.missing_chats.add(chat_id)

    def delete_message(self, chat_id: int, message_id: int) -> None:
        """The user deleted a message: editing it then fails like on Telegram."""
        self.chats.delete(chat_id, message_id)

    # ---- reading the fake's state (the calls themselves: CallLog) ----------------------------

    @property
    def webhook(self) -> JSON | None:
        """The registered webhook (url, secret_token, max_connections, allowed_updates)."""
        return self.hook.config

    @property
    def commands(self) -> dict[tuple[str, str], list[JSON]]:
        """setMyCommands menus by (scope type, language code)."""
        return self.api.commands

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates the bot has not confirmed yet (a getUpdates offset past them)."""
        return list(self.updates.pending)

    def unanswered_callbacks(self) -> list[str]:
        return [query_id for query_id, answered in self.callbacks.items() if not answered]

    def message(self, chat_id: int, message_id: int) -> StoredMessage | None:
        """The current state of a message (after edits)."""
        return self.chats.get(chat_id, message_id)

    def file_bytes(self, file_id: str) -> bytes:
        stored = self.files.by_id(file_id)
        if stored is None:
            raise KeyError(file_id)
        return stored.data

    def documents(self, chat_id: int) -> list[SentFile]:
        return self._sent_files(chat_id, "sendDocument", "document")

    def photos(self, chat_id: int) -> list[SentFile]:
        return self._sent_files(chat_id, "sendPhoto", "photo")

    def _sent_files(self, chat_id: int, method: str, kind: str) -> list[SentFile]:
        out = []
        for call in self.calls_to(method, chat_id, ok_only=True):
            message = call.response["result"]
            obj = message[kind][-1] if kind == "photo" else message[kind]
            stored = self.files.by_id(obj["file_id"])
            assert stored is not None
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

    async def wait_polling(self, timeout: float = 5.0) -> None:
        """Until a bot has made its first getUpdates request."""
        async with asyncio.timeout(timeout):
            await self.updates.polled.wait()

    async def post_update(
        self, update: JSON, *, url: str | None = None, secret_token: str | None = None
    ) -> int:
        """POST one update to a webhook like Telegram does (see Webhook.post_update)."""
        return await self.hook.post_update(update, url=url, secret_token=secret_token)

    async def wait_delivered(
        self, update_id: int, *, times: int = 1, timeout: float = 5.0
    ) -> list[int]:
        """Until the webhook delivered an update `times` times: the HTTP status of each
        delivery (0: the connection failed)."""
        return await self.hook.wait_delivered(update_id, times=times, timeout=timeout)

    # ---- HTTP entry points ---------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(TelegramError(401, "Unauthorized").body(), status=401)
        method = self.api.canonical(request.match_info["method"])
        if method is None:
            return web.json_response(TelegramError(404, "Not Found").body(), status=404)
        at = time.perf_counter()
        try:
            params, files = await _read_params(request)
        except TelegramError as error:
            return web.json_response(error.body(), status=error.status)
        call = RecordedCall(
            -1, method, params, files, at, content_type=request.content_type, peer=_peer(request)
        )
        if method == "getUpdates":
            self.updates.polled.set()
        self.arrived(call)
        response = await self._answer(call)
        self.record(call)
        return response

    async def _answer(self, call: RecordedCall) -> web.StreamResponse:
        try:
            self.gates.check(call.method, call.chat_id)
            result = await self.api.call(call.method, call.params, call.files)
        except TelegramError as error:
            call.status, call.response = error.status, error.body()
            if error.status == 502:
                return web.Response(status=502, text=NGINX_502, content_type="text/html")
            return web.json_response(call.response, status=error.status)
        call.status, call.response = 200, {"ok": True, "result": result}
        return web.json_response(call.response)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        stored = self.files.by_path(path)
        found = request.match_info["token"] == self.token and stored is not None
        self.downloads.append(Download(path, 200 if found else 404, _peer(request)))
        if stored is None or not found:
            return web.json_response(TelegramError(404, "Not Found").body(), status=404)
        return web.Response(body=stored.data, content_type="application/octet-stream")


def _peer(request: web.Request) -> tuple[str, int] | None:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return (peer[0], peer[1]) if peer else None


async def _read_params(request: web.Request) -> tuple[JSON, dict[str, UploadedFile]]:
    """A call's parameters, however they came: query string, JSON, url-encoded or multipart."""
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
