"""A fake Telegram Bot API server (aiohttp) for tests and benchmarks.

It listens on 127.0.0.1 with an ephemeral port and behaves like api.telegram.org where our
bot touches it: the same routes (`/bot<token>/<method>`, `/file/bot<token>/<path>`), the same
request encodings (JSON, form-urlencoded, multipart uploads), the same validation and the same
error JSON (`{"ok": false, "error_code": 400, "description": "Bad Request: ..."}`), so the
real aiogram client and our adapter run unmodified against it.

    from tests.fake_telegram import FakeTelegram

    async with FakeTelegram() as fake:
        bot = build_bot(fake.token, fake.base_url)

Test code injects updates (`send_text`, `send_command`, `press`, `send_document`, ...),
waits on recorded calls with `wait_for` (woken by each call, no polling sleeps), acts while
a request is in flight with `on_arrival` (e.g. kills the bot) and reads what the bot sent
with `texts`, `keyboards`, `documents`, `edits`; each call and each file download also
records the address it came from (`peer`), to tell a proxied bot's requests.

The pieces, one concern each: server (HTTP, routes, configuration, inspection), methods
(what each Bot API method does), people (updates injected as people's actions), updates
(getUpdates' queue), webhook, limits (scripted faults, flood limits, unreachable chats),
entities (HTML and text checks), files, chats (messages), records (recorded calls, waiting).
Deliberate approximations, so nobody mistakes them for Telegram facts, are told in the
docstrings of entities, limits, methods and webhook.

No pytest imports here: `bench/` uses this package too.
"""

from tests.fake_telegram.chats import FakeUser, StoredMessage
from tests.fake_telegram.entities import parse_html
from tests.fake_telegram.errors import TelegramError
from tests.fake_telegram.files import Download, SentFile
from tests.fake_telegram.records import RecordedCall, Stats
from tests.fake_telegram.server import DEFAULT_TOKEN, FakeTelegram, free_port

__all__ = [
    "DEFAULT_TOKEN",
    "Download",
    "FakeTelegram",
    "FakeUser",
    "RecordedCall",
    "SentFile",
    "Stats",
    "StoredMessage",
    "TelegramError",
    "free_port",
    "parse_html",
]
