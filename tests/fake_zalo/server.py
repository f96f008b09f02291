"""A fake Zalo Bot API server on 127.0.0.1 (aiohttp), enforcing what Zalo enforces.

`/bot<token>/<method>`, GET or POST, parameters as query, form or JSON; answers
`{"ok", "result"}` or `{"ok": false, "error_code", "description"}`. Enforced: the token in
the path; method names case-sensitive; sendMessage text of 1-2000 characters, shown as
typed (no parse mode exists: a tag would reach the person as "<b>"); a chat known only
after its person wrote; one event per getUpdates, 408 "Request timeout" when none came
within its timeout; getUpdates refused while a webhook is set; setWebhook's secret_token
8-256 characters, sent back in X-Bot-Api-Secret-Token with every event POSTed to it.
A webhook event answered other than 200 (or not at all) is kept and POSTed again at the
next setWebhook (the bot's next start), as the Telegram fake does; Zalo's own schedule for
trying again is not published.
Photos people send are served from /photos/<name> as Zalo's CDN would; a photo the bot
sends by URL (sendPhoto) is fetched from that URL, as Zalo does, and kept (`photos_sent`).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

JSON = dict[str, Any]
METHODS = frozenset(
    {
        "getMe",
        "getUpdates",
        "setWebhook",
        "deleteWebhook",
        "getWebhookInfo",
        "sendMessage",
        "sendPhoto",
        "sendSticker",
        "sendChatAction",
    }
)
SECRET_HEADER = "X-Bot-Api-Secret-Token"


@dataclass(frozen=True)
class ZaloUser:
    user_id: str
    display_name: str

    @property
    def chat(self) -> str:
        return self.user_id  # a private chat's id is the person's id


@dataclass
class ZaloCall:
    method: str
    params: JSON
    status: int
    ok: bool

    @property
    def text(self) -> str:
        return str(self.params.get("text") or "")

    @property
    def chat_id(self) -> str:
        return str(self.params.get("chat_id") or "")


@dataclass
class _Failure:
    count: int
    code: int
    description: str


@dataclass
class FakeZalo:
    token: str = field(default_factory=lambda: f"1234567890:{secrets.token_urlsafe(24)}")
    calls: list[ZaloCall] = field(default_factory=list)
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_statuses: list[int] = field(default_factory=list)
    # (message id, HTTP status) of every webhook POST; 0 when the connection failed.
    webhook_deliveries: list[tuple[str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._events: collections.deque[JSON] = collections.deque()
        self.undelivered: list[JSON] = []  # webhook events not answered 200, kept
        self.photos_sent: list[tuple[str, bytes]] = []  # (chat, bytes) fetched by sendPhoto
        self._posts: set[asyncio.Task[None]] = set()
        self._arrived = asyncio.Event()
        self._closing = False  # set on exit: a long poll in progress answers at once
        self._known: set[str] = set()
        self._blocked: set[str] = set()
        self._photos: dict[str, bytes] = {}
        self._failures: list[_Failure] = []
        self._changed = asyncio.Condition()
        self._ids = itertools.count(1)
        self._arrival_hooks: list[Callable[[ZaloCall], None]] = []
        self.polled = asyncio.Event()
        self.rate_limited = 0
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.base_url = ""

    async def __aenter__(self) -> FakeZalo:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/photos/{name}", self._photo)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        self._http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        self._arrived.set()  # a getUpdates still waiting answers now, not after its timeout
        for task in list(self._posts):
            task.cancel()
        await asyncio.gather(*self._posts, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- what a test does as the people on Zalo -----------------------------------------

    def user(self, user_id: str, display_name: str) -> ZaloUser:
        return ZaloUser(user_id, display_name)

    def _message(self, user: ZaloUser, **content: Any) -> JSON:
        self._known.add(user.chat)
        return {
            "from": {"id": user.user_id, "display_name": user.display_name, "is_bot": False},
            "chat": {"id": user.chat, "chat_type": "PRIVATE"},
            "message_id": secrets.token_hex(16),
            "date": 1_700_000_000_000 + next(self._ids),
            **content,
        }

    def send_text(self, user: ZaloUser, text: str) -> JSON:
        return self._emit(
            {"event_name": "message.text.received", "message": self._message(user, text=text)}
        )

    def send_photo(self, user: ZaloUser, data: bytes, caption: str = "") -> JSON:
        name = f"{secrets.token_hex(8)}.jpg"
        self._photos[name] = data
        message = self._message(user, photo=f"{self.base_url}/photos/{name}", caption=caption)
        return self._emit({"event_name": "message.image.received", "message": message})

    def send_sticker(self, user: ZaloUser) -> JSON:
        message = self._message(user, sticker="abc123", url="https://zalo.example/sticker.png")
        return self._emit({"event_name": "message.sticker.received", "message": message})

    def resend(self, event: JSON) -> None:
        """The same event once more (a redelivery: same message id)."""
        self._emit(event)

    def _emit(self, event: JSON) -> JSON:
        if self.webhook_url is not None:
            self._post_soon(event)
        else:
            self._events.append(event)
            self._arrived.set()
        return event

    def block(self, chat: str) -> None:
        self._blocked.add(chat)

    def fail_next(self, count: int, code: int = 429, description: str = "Quota exceeded") -> None:
        self._failures.append(_Failure(count, code, description))

    def _post_soon(self, event: JSON) -> None:
        task = asyncio.get_running_loop().create_task(self._post(event))
        self._posts.add(task)
        task.add_done_callback(self._posts.discard)

    async def _post(self, event: JSON) -> None:
        assert self._http is not None and self.webhook_url is not None
        headers = {SECRET_HEADER: self.webhook_secret or ""}
        try:
            async with self._http.post(self.webhook_url, json=event, headers=headers) as response:
                status = response.status
        except aiohttp.ClientError:
            status = 0
        async with self._changed:
            self.webhook_statuses.append(status)
            self.webhook_deliveries.append((str(event["message"]["message_id"]), status))
            if status != 200:
                self.undelivered.append(event)
            self._changed.notify_all()

    async def wait_delivered(
        self, event: JSON, *, times: int = 1, timeout: float = 10
    ) -> list[int]:
        """Until the webhook got `event` POSTed `times` times: the status of each POST."""
        message_id = str(event["message"]["message_id"])

        def statuses() -> list[int]:
            return [s for m, s in self.webhook_deliveries if m == message_id]

        await self.wait_until(lambda: len(statuses()) >= times, timeout)
        return statuses()

    def on_arrival(self, hook: Callable[[ZaloCall], None]) -> None:
        """Call `hook(call)` as each request arrives, before it is answered (status 0, not
        ok yet): what a test does there happens while that request is in flight, e.g. kill
        the bot's process (tests/test_crash.py)."""
        self._arrival_hooks.append(hook)

    @property
    def pending_message_ids(self) -> list[str]:
        """The messages waiting for a getUpdates, oldest first."""
        return [str(event["message"]["message_id"]) for event in self._events]

    # ---- what a test reads ----------------------------------------------------------------

    def mark(self) -> int:
        return len(self.calls)

    def texts(self, chat: str) -> list[str]:
        return [
            c.text for c in self.calls if c.ok and c.method == "sendMessage" and c.chat_id == chat
        ]

    async def wait_for(
        self, predicate: Callable[[ZaloCall], bool], *, since: int = 0, timeout: float = 10
    ) -> ZaloCall:
        async with asyncio.timeout(timeout), self._changed:
            while True:
                for call in self.calls[since:]:
                    if predicate(call):
                        return call
                await self._changed.wait()

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 10) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(condition)

    async def wait_polling(self, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            await self.polled.wait()

    # ---- the API ----------------------------------------------------------------------------

    async def _photo(self, request: web.Request) -> web.Response:
        data = self._photos.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="image/jpeg")

    async def _params(self, request: web.Request) -> JSON:
        params: JSON = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                params.update(await request.post())
        return params

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        if method not in METHODS:  # case-sensitive: "sendmessage" is not a method
            return _error(404, "Not Found")
        params = await self._params(request)
        for hook in list(self._arrival_hooks):
            hook(ZaloCall(method, params, 0, False))
        if method == "getUpdates":
            response = await self._get_updates(request, params)
        elif method == "sendPhoto" and not await self._fetch_photo(params):
            response = _error(400, "photo: the URL could not be fetched as an image")
        else:
            response = self._answer(method, params)
        async with self._changed:
            ok = bool(json.loads(response.text or "{}").get("ok"))
            self.calls.append(ZaloCall(method, params, response.status, ok))
            self._changed.notify_all()
        return response

    async def _get_updates(self, request: web.Request, params: JSON) -> web.Response:
        if self.webhook_url is not None:
            return _error(400, "Webhook is active: call deleteWebhook to use getUpdates")
        self.polled.set()
        timeout = float(params.get("timeout") or 0)
        try:
            async with asyncio.timeout(timeout):
                while not self._events and not self._closing:
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            return _error(408, "Request timeout")
        if self._closing:
            return _error(408, "Request timeout")
        transport = request.transport
        if transport is None or transport.is_closing():
            return _error(499, "client went away")  # the event stays for the next call
        return _ok(self._events.popleft())  # one event, never a list

    async def _fetch_photo(self, params: JSON) -> bool:
        """Zalo fetches a photo sent by URL: the fake does too, and keeps what it got."""
        url = str(params.get("photo") or "")
        assert self._http is not None
        try:
            async with self._http.get(url) as response:
                data = await response.read()
                kind = response.content_type
        except (aiohttp.ClientError, ValueError):
            return False
        if response.status != 200 or not kind.startswith("image/"):
            return False
        self.photos_sent.append((str(params.get("chat_id") or ""), data))
        return True

    def _answer(self, method: str, params: JSON) -> web.Response:
        if method == "getMe":
            return _ok({"id": self.token.split(":")[0], "account_name": "bot.cchc"})
        if method == "setWebhook":
            url, secret = str(params.get("url") or ""), str(params.get("secret_token") or "")
            if not url.startswith(("https://", "http://127.0.0.1")):
                return _error(400, "url must be HTTPS")
            if not 8 <= len(secret) <= 256:
                return _error(400, "secret_token must be 8-256 characters")
            self.webhook_url, self.webhook_secret = url, secret
            kept, self.undelivered = self.undelivered, []
            for event in kept:  # tried again now that the bot says it is back
                self._post_soon(event)
            return _ok({"url": url})
        if method == "deleteWebhook":
            self.webhook_url = self.webhook_secret = None
            return _ok({"url": ""})
        if method == "getWebhookInfo":
            return _ok({"url": self.webhook_url or ""})
        return self._send(method, params)

    def _send(self, method: str, params: JSON) -> web.Response:
        chat = str(params.get("chat_id") or "")
        if not chat:
            return _error(400, "chat_id is required")
        if chat not in self._known:
            return _error(404, "Chat not found: the person has not written to the bot")
        if chat in self._blocked:
            return _error(403, "The person blocked the bot")
        if method == "sendMessage":
            text = params.get("text")
            if not isinstance(text, str) or not 1 <= len(text) <= 2000:
                return _error(400, "text must be 1-2000 characters")
        if method in ("sendMessage", "sendPhoto", "sendSticker") and self._failures:
            failure = self._failures[0]
            failure.count -= 1
            if failure.count <= 0:
                self._failures.pop(0)
            if failure.code == 429:
                self.rate_limited += 1
            return _error(failure.code, failure.description)
        if method == "sendChatAction":
            return _ok(True)
        return _ok({"message_id": secrets.token_hex(16), "date": 1_700_000_000_000})


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(code: int, description: str) -> web.Response:
    # Zalo answers errors with HTTP 200 and the code in the body, except what the HTTP
    # layer itself refuses; the client must read the body either way.
    return web.json_response(
        {"ok": False, "error_code": code, "description": description},
        status=code if code in (401, 404) else 200,
    )
