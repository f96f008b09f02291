"""aiogram's aiohttp session, sending JSON bodies when a call carries no file.

aiogram posts every call as a url-encoded form: each field is percent-encoded character by
character in Python, which for our messages (Vietnamese HTML, inline keyboards) cost more
than the rest of the request. The Bot API takes the same fields as a JSON body, which
`json.dumps` writes in C, and those calls go out on our own keep-alive connections
(telegram_http: a fraction of what aiohttp's client costs per request). Uploads (documents,
photos) and file downloads still go as aiogram sends them, through aiohttp.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import ClientDecodeError, TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType

from bot.channels.telegram_http import JsonPoster

if TYPE_CHECKING:
    from aiogram import Bot

class JsonSession(AiohttpSession):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._posters: dict[str, JsonPoster] = {}  # by origin (scheme://host:port)
        self._targets: dict[tuple[str, str], tuple[JsonPoster, str]] = {}

    def _payload(self, bot: Bot, method: TelegramMethod[Any]) -> tuple[dict[str, Any], bool]:
        """The call's fields as JSON-ready values (defaults such as parse_mode filled in),
        and whether it carries a file. `exclude_none`: None fields are never sent anyway."""
        files: dict[str, Any] = {}
        payload = {
            key: value
            for key, item in method.model_dump(warnings=False, exclude_none=True).items()
            if (value := self.prepare_value(item, bot=bot, files=files, _dumps_json=False))
            is not None
        }
        return payload, bool(files)

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        payload, has_files = self._payload(bot, method)
        if has_files:
            return await super().make_request(bot, method, timeout)
        status, raw = await self._post(bot, method.__api_method__, payload, timeout,
                                       lambda: method)  # fmt: skip
        response = self.check_response(bot=bot, method=method, status_code=status, content=raw)
        return cast(TelegramType, response.result)

    async def post(self, bot: Bot, api_method: str, payload: dict[str, Any],
                   method: Callable[[], TelegramMethod[Any]], timeout: int | None = None
                   ) -> Any:  # fmt: skip
        """The conversation's own calls (send or edit a text, answer a button press):
        `payload` is already JSON-ready and the result comes back as plain JSON, so none of
        aiogram's models are built for a call that succeeds (that validation was about a
        third of a call's cost). A failure raises exactly what aiogram would: `method`
        builds the aiogram call the error names, only then."""
        status, raw = await self._post(bot, api_method, payload, timeout, method)
        try:
            answer = self.json_loads(raw)
        except ValueError:
            answer = None
        if HTTPStatus.OK <= status <= HTTPStatus.IM_USED and isinstance(answer, dict) \
                and answer.get("ok") is True:
            return answer.get("result")
        self.check_response(bot=bot, method=method(), status_code=status, content=raw)
        raise ClientDecodeError("Telegram answered ok without a result", ValueError(raw), raw)

    async def _post(self, bot: Bot, api_method: str, payload: dict[str, Any],
                    timeout: int | None, method: Callable[[], TelegramMethod[Any]]
                    ) -> tuple[int, str]:  # fmt: skip
        poster, path = self._target(bot.token, api_method)
        body = self.json_dumps(payload).encode()
        try:
            answer = await poster.post(path, body, self.timeout if timeout is None else timeout)
        except TimeoutError as e:
            raise TelegramNetworkError(method=method(), message="Request timeout error") from e
        except OSError as e:  # HttpError included
            raise TelegramNetworkError(method=method(), message=f"{type(e).__name__}: {e}") from e
        return answer.status, answer.body.decode("utf-8", errors="replace")

    def _target(self, token: str, api_method: str) -> tuple[JsonPoster, str]:
        """The poster of the method's origin and the path to post to (kept per method)."""
        key = (token, api_method)
        target = self._targets.get(key)
        if target is None:
            url = urlsplit(self.api.api_url(token=token, method=api_method))
            origin = f"{url.scheme}://{url.netloc}"
            poster = self._posters.get(origin)
            if poster is None:
                poster = self._posters[origin] = JsonPoster(origin)
            path = url.path + (f"?{url.query}" if url.query else "")
            target = self._targets[key] = (poster, path)
        return target

    async def close(self) -> None:
        for poster in self._posters.values():
            poster.close()
        await super().close()
