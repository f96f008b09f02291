"""Settings: one typed object read from the environment and `.env` (see .env.example)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storage.formats.conclusion_docx import NoticeSettings

OFFICIAL_TELEGRAM_API = "https://api.telegram.org"
OFFICIAL_ZALO_API = "https://bot-api.zaloplatforms.com"
# What aiogram's session can reach Telegram through (aiohttp-socks): an HTTP proxy (CONNECT)
# or SOCKS. A proxy spoken to over TLS (https://) is not among them.
PROXY_SCHEMES = ("http", "socks5", "socks4")


class Settings(BaseSettings):
    # An error names the setting, never its value: BOT_TOKEN and TELEGRAM_PROXY are secrets.
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,
    )

    bot_token: SecretStr | None = None
    bot_username: str | None = None  # for t.me deep links; asked from Telegram when unset
    telegram_api_url: str = OFFICIAL_TELEGRAM_API
    # e.g. socks5://user:password@10.0.0.1:1080: a secret, since it may carry a password.
    telegram_proxy: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    database_url: str = "sqlite:///data/cchc.sqlite3"
    timezone: str = "Asia/Ho_Chi_Minh"
    admin_telegram_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    # The Zalo Bot Platform (a bot made in "Zalo Bot Manager"): served when the token is set.
    zalo_bot_token: SecretStr | None = None
    zalo_bot_api_url: str = OFFICIAL_ZALO_API
    zalo_webhook_secret: SecretStr | None = None  # 8-256 characters; random when unset
    admin_zalo_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Where a person finds the Zalo bot (e.g. https://zalo.me/...): printed as a QR code
    # on the console's invite sheet beside the Telegram one. Unset: no Zalo QR code.
    zalo_bot_link: str | None = None
    # Zalo publishes no rate limit: a conservative pace, lowered further by a 429.
    zalo_rate_per_second: float = Field(default=5.0, gt=0)
    evidence_dir: Path = Path("data/evidence")
    evidence_max_bytes: int = 20 * 1024 * 1024  # Telegram lets bots download up to 20 MB
    invite_ttl_days: int = 30
    # Wrong invite codes per minute from all chats together (per process) before every
    # code check is refused until the minute ends; the admins get an alert.
    invite_wrong_codes_per_minute: int = Field(default=30, ge=1)
    log_level: str = "INFO"
    # The desk console (bot/console): served by `cchc-bot run` on WEB_PORT when set; the
    # sign-in links it sends start with PUBLIC_URL (https:// makes its cookies Secure).
    web_port: int | None = Field(default=None, ge=1, le=65535)
    web_host: str = "0.0.0.0"
    public_url: str | None = None
    # Outbox delivery limits (Telegram's documented defaults).
    telegram_rate_per_second: float = 30.0
    telegram_rate_per_chat: float = 1.0
    telegram_group_per_minute: int = 20
    # Names this process for the outbox (default: the host name). At most one running
    # process per name: at start, claims of an earlier process of the same name are its
    # predecessor's, left by a crash, and are taken back at once.
    outbox_instance: str | None = None
    # The conclusion notice (docs/conclusions.md): a .docx template with placeholders
    # (unset: the built-in one), the issuing body and the place of the date line.
    conclusion_template: Path | None = None
    conclusion_issuer: str = "Sở Nội vụ"
    conclusion_place: str = "Thành phố Hồ Chí Minh"

    def notice_settings(self) -> NoticeSettings:
        return NoticeSettings(
            self.conclusion_template, self.conclusion_issuer, self.conclusion_place
        )

    @field_validator("admin_telegram_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        # "123, 456" in the environment; a list when built in code.
        if isinstance(value, str):
            return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("admin_zalo_ids", mode="before")
    @classmethod
    def _split_zalo_ids(cls, value: object) -> object:
        if isinstance(value, str):  # Zalo user ids are long digit strings: kept as text
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("telegram_proxy")
    @classmethod
    def _check_proxy(cls, value: SecretStr | None) -> SecretStr | None:
        # The messages never repeat the URL: it may hold a password.
        url = value.get_secret_value().strip() if value is not None else ""
        if not url:
            return None  # TELEGRAM_PROXY= left empty: no proxy
        parts = urlsplit(url)
        if parts.scheme not in PROXY_SCHEMES:
            raise ValueError(
                f"TELEGRAM_PROXY must start with {', '.join(PROXY_SCHEMES)}://"
                " (a proxy reached over TLS is not supported)"
            )
        if not parts.hostname or parts.port is None:
            raise ValueError(
                "TELEGRAM_PROXY needs a host and a port, "
                "e.g. http://10.0.0.1:3128 or socks5://10.0.0.1:1080"
            )
        credentials = unquote(parts.username or "") + unquote(parts.password or "")
        if parts.scheme == "http" and not credentials.isascii():
            # aiohttp-socks sends HTTP Basic credentials as Latin-1: keep them plain ASCII.
            raise ValueError(
                "TELEGRAM_PROXY: the user and password of an http:// proxy "
                "must be ASCII (letters without diacritics, digits, symbols)"
            )
        return SecretStr(url)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @field_validator("log_level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    def console_url(self) -> str | None:
        """Where the console's links point: PUBLIC_URL, else this host's WEB_PORT."""
        if self.web_port is None:
            return None
        return (self.public_url or f"http://127.0.0.1:{self.web_port}").rstrip("/")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def token(self) -> str | None:
        return self.bot_token.get_secret_value() if self.bot_token else None

    def zalo_token(self) -> str | None:
        return self.zalo_bot_token.get_secret_value() if self.zalo_bot_token else None

    def proxy(self) -> str | None:
        """The proxy URL every Bot API call goes through, None for a direct connection."""
        return self.telegram_proxy.get_secret_value() if self.telegram_proxy else None
