"""The conversation's long-lived dependencies, built once from the App.

Shared by every runtime that composes a Dispatcher (`cchc-bot run`, `cchc-bot demo`) and
free of any chat platform's library: the web-only demo starts without loading aiogram,
whose import alone costs seconds.
"""

from __future__ import annotations

from bot.app import App
from bot.channels.zalo_text import CAPABILITIES as ZALO_CAPABILITIES
from common.messages import Capabilities
from handlers.context import Deps
from handlers.invite_guard import InviteGuard
from schedules.pacing import RateLimits
from storage.services.evidence import EvidenceStore


def build_deps(app: App, username: str | None = None) -> Deps:
    settings = app.settings
    return Deps(
        sessions=app.sessions,
        catalog=app.catalog,
        clock=app.clock,
        evidence=EvidenceStore(settings.evidence_dir),
        capabilities={
            "telegram": Capabilities(),
            "zalo": ZALO_CAPABILITIES,
        },
        admin_ids={
            "telegram": frozenset(str(i) for i in settings.admin_telegram_ids),
            "zalo": frozenset(settings.admin_zalo_ids),
        },
        max_evidence_bytes=settings.evidence_max_bytes,
        invite_guard=InviteGuard(limit=settings.invite_wrong_codes_per_minute),
        bot_username=username,
        console_url=settings.console_url(),
        notice=settings.notice_settings(),
        upload_url=settings.console_url() if settings.public_url else None,
    )


def telegram_limits(app: App) -> RateLimits:
    s = app.settings
    return RateLimits(
        per_bot=s.telegram_rate_per_second,
        per_chat=s.telegram_rate_per_chat,
        per_group_per_minute=s.telegram_group_per_minute,
    )


def zalo_limits(app: App) -> RateLimits:
    return RateLimits(per_bot=app.settings.zalo_rate_per_second, per_chat=1.0)
