"""Every Bot API call of a Bot, seen by an aiogram request middleware: the health of the
Telegram channel for the console (bot/channel_status.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods.base import Response, TelegramMethod, TelegramType

from bot.channel_status import BotStatus


def watch(bot: Bot, status: BotStatus, now: Callable[[], datetime]) -> None:
    bot.session.middleware(TelegramCalls(status, now))


class TelegramCalls(BaseRequestMiddleware):
    def __init__(self, status: BotStatus, now: Callable[[], datetime]) -> None:
        self.status, self.now = status, now

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            response = await make_request(bot, method)
        except (TelegramNetworkError, TelegramUnauthorizedError, TelegramServerError) as error:
            self.status.failed(self.now(), type(error).__name__)
            raise
        except TelegramAPIError:
            self.status.ok(self.now())  # Telegram answered (e.g. a chat that blocked the bot)
            raise
        except Exception as error:  # a proxy or a connection that failed before Telegram
            self.status.failed(self.now(), type(error).__name__)
            raise
        self.status.ok(self.now())
        return response
