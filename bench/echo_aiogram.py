"""Baseline: a bare aiogram echo bot against the fake Telegram server.

    python bench/echo_aiogram.py --users 200 --messages 10

Measures what aiogram polling plus the fake cost on their own, so the real bot's figures
(same driver) can be read against it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

# Run as a script from anywhere: make the repository root importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message

from bench._driver import BotRunner, chatter, drive
from tests.fake_telegram import FakeTelegram


def echo_bot(fake: FakeTelegram) -> BotRunner:
    async def run(stop: asyncio.Event) -> None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
        bot = Bot(fake.token, session=session)
        dispatcher = Dispatcher()

        @dispatcher.message()
        async def echo(message: Message) -> None:
            await message.answer(message.text or "?")

        polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False))
        await stop.wait()
        await dispatcher.stop_polling()  # closes the bot session too
        await polling

    return run


async def main(users: int, messages: int, telegram_limits: bool) -> None:
    async with FakeTelegram() as fake:
        if telegram_limits:  # Telegram's documented limits: 30 msg/s, 1 msg/s per chat
            fake.set_rate_limits(global_per_second=30, per_chat=(1, 1.0))
        result = await drive(fake, echo_bot(fake), chatter(users, messages))
    print(result.report("echo_aiogram"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument(
        "--telegram-limits",
        action="store_true",
        help="make the fake enforce flood limits (a bare bot then fails)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.users, args.messages, args.telegram_limits))
