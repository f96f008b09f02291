"""What the running process knows about each of its bots, for the console's health page.

`cchc-bot run` makes one `ChannelStatus` and hands it to the console (bot/console/serve.py).
Each bot's last successful call to its platform and last failure are recorded where the
calls are made, through the libraries' own hooks: an aiogram request middleware on the
Bot's session (every Bot API call: getUpdates, sendMessage...; bot/channels/
telegram_watch.py) and an httpx response hook on the Zalo client. With a webhook, a bot
may stay silent for hours when nobody writes: it counts as connected until a call fails.
Nothing here imports aiogram: the console (and the demo, which may run without Telegram)
loads this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

# Long polling calls the platform at least every minute or so (aiogram's getUpdates waits
# up to 30 s; Zalo's is similar): silence longer than this means the bot is not connected.
STALE_AFTER = timedelta(minutes=3)


@dataclass
class BotStatus:
    platform: str  # "telegram" | "zalo"
    name: str  # @username, or the platform's name when unknown
    mode: str  # "polling" | "webhook"
    last_ok: datetime | None = None
    last_failure: datetime | None = None
    last_error: str = ""

    def connected(self, now: datetime) -> bool:
        if self.last_ok is None:
            return False
        if self.last_failure is not None and self.last_failure > self.last_ok:
            return False
        return self.mode == "webhook" or now - self.last_ok <= STALE_AFTER

    def ok(self, at: datetime) -> None:
        self.last_ok = at

    def failed(self, at: datetime, error: str) -> None:
        self.last_failure, self.last_error = at, error[:200]


@dataclass
class ChannelStatus:
    """Every bot this process serves, by platform; `now` is the campaign clock's."""

    now: Callable[[], datetime]
    bots: dict[str, BotStatus] = field(default_factory=dict)
    telegram_username: str | None = None

    def add(self, platform: str, name: str, mode: str) -> BotStatus:
        self.bots[platform] = BotStatus(platform, name, mode)
        return self.bots[platform]

    def zalo_hook(self, api_host: str) -> Callable[[httpx.Response], Any]:
        """For the Zalo client's responses from `api_host` (photo downloads from Zalo's
        CDN go through the same client and say nothing about the bot)."""
        status, now = self.bots["zalo"], self.now

        async def seen(response: httpx.Response) -> None:
            if response.request.url.netloc.decode() != api_host:
                return
            # Any answer but a server error shows Zalo reachable and the token accepted
            # (an unknown token is 401; 408 is getUpdates' "nothing came").
            if response.status_code < 500 and response.status_code not in (401, 403):
                status.ok(now())
            else:
                status.failed(now(), f"HTTP {response.status_code}")

        return seen
