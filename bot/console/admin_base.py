"""What every admin page of the desk console shares: its options, who may open it, how it
is rendered (bot/console/admin_routes.py lists the pages).

Only admins (handlers/access.py's Scope.admin: the person's flag or ADMIN_*_IDS) get them.
Anyone else signed in gets the console's 404, the same as for a page that does not exist,
after an `access.denied` audit entry is committed; a visitor not signed in goes home.
Every form carries the session's CSRF token; every form that writes answers with a
redirect (POST-redirect-GET), and the page it leads to tells what was done.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.channel_status import ChannelStatus
from bot.console.host import ConsoleHost, SignedIn
from handlers.console_access import deny_web, person_scope
from storage.db import transaction
from storage.db.models import Campaign

Viewer = SignedIn  # the signed-in person of a request
Console = ConsoleHost  # what these routes use of bot.console.app.Console

# The words a redirect may ask the next page to show: a fixed list, never text from the URL.
DONE = frozenset({"imported", "revoked", "reissued", "resent", "nothing_resent"})
ERRORS = frozenset({"unknown_code", "already_revoked", "invite_failed"})


@dataclass(frozen=True)
class AdminOptions:
    """What the admin pages need from the process that serves them (bot/console/serve.py)."""

    status: ChannelStatus | None = None  # None: this process runs no bot (console only)
    bot_username: str | None = None  # for t.me deep links; the runner's status knows it too
    zalo_link: str | None = None  # ZALO_BOT_LINK: where a person finds the Zalo bot
    invite_ttl: timedelta = timedelta(days=30)
    upload_dir: Path = field(
        default_factory=lambda: Path(tempfile.gettempdir()) / "cchc-console-imports"
    )
    max_upload_bytes: int = 10 * 1024 * 1024

    def username(self) -> str | None:
        if self.status is not None and self.status.telegram_username:
            return self.status.telegram_username
        return self.bot_username


class AdminPages:
    """The shared part of every admin page: who may see it, and how it is rendered."""

    def __init__(self, console: Console, options: AdminOptions) -> None:
        self.console = console
        self.options = options

    # -- access ------------------------------------------------------------------------------

    async def guard(
        self, request: web.Request, action: str, campaign_id: int | None = None
    ) -> Viewer:
        """The signed-in admin, or the refusal: home for a visitor, else 404 with the
        audit entry committed first (its own short transaction). An unknown campaign is
        refused the same way as a forbidden page."""
        console = self.console
        async with transaction(console.sessions) as session:
            viewer = await console.viewer(request, session)
            if viewer is None:
                refused = "anonymous"
            else:
                scope, _ = await person_scope(session, viewer.person, console.admin_ids)
                missing = campaign_id is not None and (
                    await session.get(Campaign, campaign_id) is None
                )
                refused = "" if scope.admin and not missing else "denied"
                if refused:
                    await deny_web(
                        session,
                        now=console.clock.now(),
                        person_id=viewer.person.id,
                        action=action,
                        subject=f"campaign:{campaign_id}" if campaign_id else "admin",
                    )
        if refused == "anonymous" or viewer is None:
            raise web.HTTPSeeOther(f"{console.root}/")
        if refused:
            raise web.HTTPNotFound()
        return viewer

    def page(
        self, request: web.Request, viewer: Viewer, template: str, status: int = 200, **context: Any
    ) -> web.Response:
        done = request.query.get("done", "")
        error = request.query.get("error", "")
        return self.console.page(
            request,
            template,
            viewer.locale,
            status,
            viewer=viewer,
            csrf=viewer.web_session.csrf_token,
            admin_nav=True,
            done=done if done in DONE else "",
            error=error if error in ERRORS else "",
            **context,
        )

    def redirect(self, path: str, **query: str) -> web.HTTPSeeOther:
        tail = "&".join(f"{key}={value}" for key, value in query.items())
        return web.HTTPSeeOther(f"{self.console.root}{path}{'?' + tail if tail else ''}")
