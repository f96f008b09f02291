"""The Zalo Bot Platform API over one shared `httpx.AsyncClient`.

`https://bot-api.zaloplatforms.com/bot<token>/<method>`: method names are case-sensitive,
answers are `{"ok", "result", "description", "error_code"}`. One client per process, built
in the composition root with explicit timeouts and closed on shutdown (`ZaloApi.close`).
A failed call raises `ZaloApiError`; `delivery_error` maps it onto the delivery error kinds
the outbox worker understands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from common.messages import (
    DeliveryError,
    PermanentError,
    RateLimited,
    TransientError,
    Unreachable,
)

OFFICIAL_ZALO_API = "https://bot-api.zaloplatforms.com"
# Zalo publishes no rate limit and sends no retry-after with its 429 "Quota exceeded".
QUOTA_PAUSE = 1.0  # seconds; the outbox worker pauses the whole bot this long
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class ZaloApiError(Exception):
    def __init__(self, method: str, error_code: int, description: str) -> None:
        super().__init__(f"{method}: {error_code} {description}")
        self.method, self.error_code, self.description = method, error_code, description


def build_client(*, timeout: httpx.Timeout = TIMEOUT) -> httpx.AsyncClient:
    """The process's one HTTP client for Zalo (API calls and photo downloads)."""
    return httpx.AsyncClient(timeout=timeout, follow_redirects=True)


class ZaloApi:
    def __init__(self, client: httpx.AsyncClient, token: str, base_url: str = OFFICIAL_ZALO_API):
        self.client = client
        self._url = f"{base_url.rstrip('/')}/bot{token}/"

    async def call(self, method: str, *, wait: float | None = None, **params: Any) -> Any:
        """POST `params` as JSON; the `result`, or ZaloApiError (0 for no answer at all).

        `wait`: seconds to wait for the answer (a long poll waits longer than a send)."""
        timeout = httpx.USE_CLIENT_DEFAULT if wait is None else httpx.Timeout(wait, connect=5.0)
        try:
            response = await self.client.post(self._url + method, json=params, timeout=timeout)
        except httpx.HTTPError as error:
            raise ZaloApiError(method, 0, f"{type(error).__name__}") from error
        try:
            body = response.json()
        except ValueError:
            raise ZaloApiError(method, response.status_code, "not JSON") from None
        if not isinstance(body, dict) or not body.get("ok"):
            body = body if isinstance(body, dict) else {}
            code = int(body.get("error_code") or response.status_code)
            raise ZaloApiError(method, code, str(body.get("description") or ""))
        return body.get("result")

    async def download(self, url: str, path: Path, max_bytes: int) -> None:
        """Save a photo the person sent (a URL on Zalo's CDN) to `path`, at most
        `max_bytes` + 1 bytes: the handler refuses what is over the limit by its size."""
        path.parent.mkdir(parents=True, exist_ok=True)
        async with self.client.stream("GET", url) as response:
            response.raise_for_status()
            written = 0
            with path.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    out.write(chunk[: max_bytes + 1 - written])
                    written += len(chunk)
                    if written > max_bytes:
                        break


def delivery_error(error: ZaloApiError) -> DeliveryError:
    """Zalo's error codes as the outbox worker's kinds: retry later, unreachable, refused.

    Zalo's Bot API documents no list of codes; what its clients report: 429 "Quota
    exceeded", 403 for a person who blocked the bot, 404 for a chat the bot does not know,
    400 for a malformed request, 401 for a wrong or reset token, 408 for a timeout."""
    code, text = error.error_code, str(error)
    if code == 429:
        return RateLimited(QUOTA_PAUSE, text)
    if code == 0 or code >= 500 or code == 408:
        return TransientError(text)
    if code in (403, 404):  # the person blocked the bot, or the chat is not known to it
        return Unreachable(text)
    return PermanentError(text)
