"""The Bot API methods the bot uses, as the fake carries them out.

Each takes the call's decoded parameters and uploaded files and returns the `result` of a
successful answer, or raises TelegramError. "message is not modified" compares the raw new
text and markup with the stored ones.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from tests.fake_telegram.chats import ChatStore, StoredMessage
from tests.fake_telegram.entities import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    check_markup,
    check_text,
)
from tests.fake_telegram.errors import JSON, TelegramError, bad_request, not_modified
from tests.fake_telegram.files import FileStore, UploadedFile, document_json, photo_size_json
from tests.fake_telegram.updates import UpdateQueue
from tests.fake_telegram.webhook import Webhook

Files = dict[str, UploadedFile]
Method = Callable[[JSON, Files], Awaitable[Any]]

TOAST_LIMIT = 200


class BotApi:
    def __init__(
        self,
        bot_id: int,
        bot_username: str,
        chats: ChatStore,
        files: FileStore,
        updates: UpdateQueue,
        webhook: Webhook,
    ) -> None:
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.chats = chats
        self.files = files
        self.updates = updates
        self.webhook = webhook
        self.commands: dict[tuple[str, str], list[JSON]] = {}  # (scope type, lang) -> list
        self.callbacks: dict[str, bool] = {}  # query id -> answered
        methods: dict[str, Method] = {
            "getMe": self.get_me,
            "getUpdates": self.get_updates,
            "deleteWebhook": self.delete_webhook,
            "setWebhook": self.set_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "setMyCommands": self.set_my_commands,
            "sendMessage": self.send_message,
            "editMessageText": self.edit_message_text,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "answerCallbackQuery": self.answer_callback_query,
            "sendDocument": self.send_document,
            "sendPhoto": self.send_photo,
            "getFile": self.get_file,
            "sendChatAction": self.send_chat_action,
        }
        # Telegram takes method names in any case: the canonical name, by lower case.
        self.names = {name.lower(): name for name in methods}
        self.methods = methods

    def canonical(self, name: str) -> str | None:
        return self.names.get(name.lower())

    async def call(self, method: str, params: JSON, files: Files) -> Any:
        return await self.methods[method](params, files)

    # ---- the bot and its updates -----------------------------------------------------------

    async def get_me(self, params: JSON, files: Files) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "CCHC Test Bot",
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def get_updates(self, params: JSON, files: Files) -> list[JSON]:
        if self.webhook.config is not None:
            raise TelegramError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in params:
            self.updates.allowed = params["allowed_updates"] or None
        return await self.updates.take(
            offset=int(params.get("offset") or 0),
            limit=min(max(int(params.get("limit") or 100), 1), 100),
            timeout=max(float(params.get("timeout") or 0), 0.0),
        )

    async def set_webhook(self, params: JSON, files: Files) -> bool:
        if not params.get("url"):  # Telegram treats an empty url as "remove the webhook"
            return await self.delete_webhook(params, files)
        self.webhook.set(params)
        return True

    async def delete_webhook(self, params: JSON, files: Files) -> bool:
        self.webhook.delete(params)
        return True

    async def get_webhook_info(self, params: JSON, files: Files) -> JSON:
        return self.webhook.info()

    async def set_my_commands(self, params: JSON, files: Files) -> bool:
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

    # ---- messages --------------------------------------------------------------------------

    async def send_message(self, params: JSON, files: Files) -> JSON:
        chat_id = require_chat(params)
        text = str(params.get("text") or "")
        check_text(text, params.get("parse_mode"), TEXT_LIMIT, caption=False)
        markup = check_markup(params.get("reply_markup"))
        message = self.chats.store(chat_id, from_bot=True, text=text, markup=markup)
        return self.chats.to_json(message)

    async def send_document(self, params: JSON, files: Files) -> JSON:
        return self._send_file(params, files, "document")

    async def send_photo(self, params: JSON, files: Files) -> JSON:
        return self._send_file(params, files, "photo")

    def _send_file(self, params: JSON, files: Files, kind: str) -> JSON:
        chat_id = require_chat(params)
        caption = params.get("caption")
        if caption:
            check_text(str(caption), params.get("parse_mode"), CAPTION_LIMIT, caption=True)
        markup = check_markup(params.get("reply_markup"))
        stored = self.files.upload(params.get(kind), files, kind)
        message = self.chats.store(chat_id, from_bot=True, caption=caption or None, markup=markup)
        if kind == "photo":
            message.extra["photo"] = [photo_size_json(stored, 800, 600)]
        else:
            message.extra["document"] = document_json(stored)
        return self.chats.to_json(message)

    async def edit_message_text(self, params: JSON, files: Files) -> JSON:
        message = self._editable(params)
        text = str(params.get("text") or "")
        check_text(text, params.get("parse_mode"), TEXT_LIMIT, caption=False)
        markup = check_markup(params.get("reply_markup"))
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        if message.text == text and message.reply_markup == markup:
            raise not_modified()
        message.text, message.reply_markup = text, markup
        return self.chats.to_json(message)

    async def edit_message_reply_markup(self, params: JSON, files: Files) -> JSON:
        message = self._editable(params)
        markup = check_markup(params.get("reply_markup"))
        if message.reply_markup == markup:
            raise not_modified()
        message.reply_markup = markup
        return self.chats.to_json(message)

    def _editable(self, params: JSON) -> StoredMessage:
        if "inline_message_id" in params:
            raise bad_request("inline messages are not supported by the fake")
        return self.chats.editable(require_chat(params), int(params.get("message_id") or 0))

    async def answer_callback_query(self, params: JSON, files: Files) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if self.callbacks.get(query_id, True):  # unknown or already answered
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if len(str(params.get("text") or "")) > TOAST_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        self.callbacks[query_id] = True
        return True

    async def get_file(self, params: JSON, files: Files) -> JSON:
        return self.files.get_file(str(params.get("file_id") or ""))

    async def send_chat_action(self, params: JSON, files: Files) -> bool:
        require_chat(params)
        if not params.get("action"):
            raise bad_request("action is empty")
        return True


def require_chat(params: JSON) -> int:
    chat_id = params.get("chat_id")
    if chat_id is None or chat_id == "":
        raise bad_request("chat_id is empty")
    if not isinstance(chat_id, int):
        raise bad_request("chat not found")  # @usernames of channels are not simulated
    return chat_id
