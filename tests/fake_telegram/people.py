"""What people do in their chats with the bot, turned into the updates Telegram would send:
texts, commands, documents, photos (three sizes, all with the same bytes), stickers, other
content, and presses of inline buttons."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.fake_telegram.chats import ChatStore, FakeUser, StoredMessage, chat_json
from tests.fake_telegram.errors import JSON
from tests.fake_telegram.files import FileStore, document_json, photo_size_json
from tests.fake_telegram.updates import UpdateQueue
from tests.fake_telegram.webhook import Webhook


class People:
    """The injecting half of FakeTelegram (mixed into it): each method queues an update and
    returns it (what `feed_raw_update` takes, too)."""

    bot_id: int
    bot_username: str
    chats: ChatStore
    files: FileStore
    callbacks: dict[str, bool]
    updates: UpdateQueue
    hook: Webhook
    query_ids: Iterator[int]

    def queue_update(self, update: JSON) -> JSON:
        """Queue a raw update (an `update_id` is assigned) for getUpdates or the webhook."""
        update = self.updates.add(update)
        if self.hook.config is not None:
            self.hook.deliver_soon(update)
        return update

    def user(self, user_id: int, **details: Any) -> FakeUser:
        return FakeUser(user_id, **details)

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
        stored = self.files.store(data, "documents", file_name, mime_type)
        extra: JSON = {"document": document_json(stored, file_size)}
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
            stored = self.files.store(data, "photos", None, "image/jpeg")
            sizes.append(
                photo_size_json(
                    stored, max(1, round(width * factor)), max(1, round(height * factor))
                )
            )
        extra: JSON = {"photo": sizes}
        if caption is not None:
            extra["caption"] = caption
        return self._user_message(user, extra=extra)

    def send_sticker(self, user: FakeUser | int, emoji: str = "👍") -> JSON:
        stored = self.files.store(b"RIFF-webp", "stickers", None, "image/webp")
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
        user = _as_user(user)
        message: StoredMessage = self.chats.with_button(user.chat, callback_data, message_id)
        query_id = str(next(self.query_ids))
        self.callbacks[query_id] = False
        query = {
            "id": query_id,
            "from": user.to_json(),
            "message": self.chats.to_json(message),
            "chat_instance": str(abs(hash((self.bot_id, user.chat)))),
            "data": callback_data,
        }
        return self.queue_update({"callback_query": query})

    def _user_message(
        self, user: FakeUser | int, *, text: str | None = None, extra: JSON | None = None
    ) -> JSON:
        user = _as_user(user)
        extra = dict(extra or {})
        caption = extra.pop("caption", None)
        message = self.chats.store(user.chat, from_bot=False, text=text, caption=caption)
        message.extra = {"from": user.to_json(), **extra}
        payload = self.chats.to_json(message)
        payload["chat"] = chat_json(user.chat, user)
        return self.queue_update({"message": payload})


def _as_user(user: FakeUser | int) -> FakeUser:
    return user if isinstance(user, FakeUser) else FakeUser(user)
