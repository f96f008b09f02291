"""The people writing to the bot and the messages of each chat, as Telegram keeps them."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from tests.fake_telegram.errors import JSON, bad_request


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


def chat_json(chat_id: int, user: FakeUser | None = None) -> JSON:
    if chat_id > 0:
        chat: JSON = {"id": chat_id, "type": "private"}
        if user is not None:
            chat["first_name"] = user.first_name
        return chat
    return {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}


class ChatStore:
    """Every message of every chat, the bot's and the people's, with its current content."""

    def __init__(self, bot_id: int, bot_username: str) -> None:
        self.bot_id = bot_id
        self.bot_username = bot_username
        self._messages: dict[int, dict[int, StoredMessage]] = defaultdict(dict)
        self._next_id: dict[int, int] = defaultdict(lambda: 1)

    def store(
        self,
        chat_id: int,
        *,
        from_bot: bool,
        text: str | None = None,
        caption: str | None = None,
        markup: JSON | None = None,
    ) -> StoredMessage:
        # In a private chat the user's and the bot's messages share one id sequence.
        message_id = self._next_id[chat_id]
        self._next_id[chat_id] = message_id + 1
        message = StoredMessage(
            chat_id, message_id, from_bot, int(time.time()), text, caption, markup
        )
        self._messages[chat_id][message_id] = message
        return message

    def get(self, chat_id: int, message_id: int) -> StoredMessage | None:
        return self._messages[chat_id].get(message_id)

    def delete(self, chat_id: int, message_id: int) -> None:
        self._messages[chat_id].pop(message_id, None)

    def editable(self, chat_id: int, message_id: int) -> StoredMessage:
        message = self._messages[chat_id].get(message_id)
        if message is None:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return message

    def with_button(self, chat_id: int, data: str, message_id: int | None) -> StoredMessage:
        """The bot message carrying a button with `data`: `message_id`, or the newest."""
        messages = self._messages[chat_id]
        candidates = [messages[message_id]] if message_id in messages else []
        if message_id is None:
            candidates = sorted(messages.values(), key=lambda m: m.message_id, reverse=True)
        for message in candidates:
            rows = (message.reply_markup or {}).get("inline_keyboard", [])
            if message.from_bot and any(b.get("callback_data") == data for r in rows for b in r):
                return message
        raise LookupError(f"no button {data!r} on a bot message in chat {chat_id}")

    def to_json(self, message: StoredMessage) -> JSON:
        payload: JSON = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": chat_json(message.chat_id),
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
