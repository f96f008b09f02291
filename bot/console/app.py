"""The desk console's routes: sign-in by a one-time link, the person's home, sign-out.

    GET  /login/{token}  a page with one button that uses the link (a GET never does: chat
                         apps and mail scanners open links to preview them)
    POST /login/{token}  uses the link, starts a server-side session, goes home
    GET  /               home: who is signed in, what they may open
    POST /logout         signs the person out of every browser (CSRF token checked)
    GET  /static/{name}  the style sheet

Every page is rendered by Jinja2 with autoescaping on, so nothing a person typed (a name,
an answer, a browser's own description of itself) reaches a page unescaped. Each request
runs in its own database transaction, like a chat event.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.clock import Clock
from common.i18n import SUPPORTED, Catalog, normalize_locale
from storage.db import transaction
from storage.db.models import Person, WebSession
from storage.services.web_sessions import (
    ABSOLUTE_TTL,
    live_session,
    redeem_link,
    revoke_all,
)

HERE = Path(__file__).parent
STATIC_FILES = {"style.css": "text/css"}
COOKIE = "cchc_console"
LANG_COOKIE = "cchc_lang"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none';"
    " base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Viewer:
    """The signed-in person of one request."""

    web_session: WebSession
    person: Person
    locale: str


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Console:
    """Builds the console's aiohttp application over the shared database and catalog."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        clock: Clock,
        *,
        secure_cookies: bool = False,
    ) -> None:
        self.sessions = sessions
        self.catalog = catalog
        self.clock = clock
        self.secure_cookies = secure_cookies

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._headers])
        env = aiohttp_jinja2.setup(
            app,
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=jinja2.select_autoescape(default=True),
            undefined=jinja2.StrictUndefined,
        )
        env.globals["supported"] = SUPPORTED
        app.router.add_get("/", self.home)
        app.router.add_get("/login/{token}", self.login_page)
        app.router.add_post("/login/{token}", self.login)
        app.router.add_post("/logout", self.logout)
        app.router.add_get("/static/{name}", self.static)
        return app

    @web.middleware
    async def _headers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPNotFound:
            # The same page for "no such thing" and "not yours" (handlers/access.py).
            response = self.page(
                request,
                "message.html",
                self.locale_of(request),
                404,
                title="console.not_found",
                text="console.not_found",
            )
        except web.HTTPException as error:
            error.headers.update(SECURITY_HEADERS)
            raise
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    # -- language, pages ---------------------------------------------------------------------

    def locale_of(self, request: web.Request, person: Person | None = None) -> str:
        """?lang= (remembered in a cookie), else the cookie, else the person's, else vi."""
        asked = request.query.get("lang") or request.cookies.get(LANG_COOKIE)
        if asked:
            return normalize_locale(asked)
        return normalize_locale(person.locale if person else None)

    def page(
        self, request: web.Request, template: str, locale: str, status: int = 200, **context: Any
    ) -> web.Response:
        tr = self.catalog.for_locale(locale)
        response = aiohttp_jinja2.render_template(
            template, request, {"t": tr, "lang": locale, **context}, status=status
        )
        if "lang" in request.query:
            response.set_cookie(LANG_COOKIE, locale, path="/", httponly=True, samesite="Lax")
        return response

    # -- sessions ----------------------------------------------------------------------------

    def set_cookie(self, response: web.StreamResponse, token: str) -> None:
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(ABSOLUTE_TTL.total_seconds()),
            path="/",
            httponly=True,
            samesite="Lax",
            secure=self.secure_cookies,
        )

    async def viewer(self, request: web.Request, session: AsyncSession) -> Viewer | None:
        row = await live_session(session, request.cookies.get(COOKIE), now=self.clock.now())
        if row is None:
            return None
        person = await session.get(Person, row.person_id)
        if person is None:
            return None
        return Viewer(row, person, self.locale_of(request, person))

    @staticmethod
    async def check_csrf(request: web.Request, viewer: Viewer) -> dict[str, str]:
        form = await request.post()
        given = form.get("csrf")
        if not isinstance(given, str) or not hmac.compare_digest(
            given, viewer.web_session.csrf_token
        ):
            raise web.HTTPForbidden(text="bad form")
        return {k: v for k, v in form.items() if isinstance(v, str)}

    # -- routes ------------------------------------------------------------------------------

    async def login_page(self, request: web.Request) -> web.Response:
        return self.page(
            request, "login.html", self.locale_of(request), token=request.match_info["token"]
        )

    async def login(self, request: web.Request) -> web.StreamResponse:
        browser = request.headers.get("User-Agent", "")
        async with transaction(self.sessions) as session:
            opened = await redeem_link(
                session, request.match_info["token"], now=self.clock.now(), browser=browser
            )
        if opened is None:
            locale = self.locale_of(request)
            return self.page(
                request,
                "message.html",
                locale,
                410,
                title="console.link_invalid_title",
                text="console.link_invalid",
            )
        moved = web.HTTPSeeOther("/")
        self.set_cookie(moved, opened.token)
        raise moved

    async def home(self, request: web.Request) -> web.Response:
        async with transaction(self.sessions) as session:
            viewer = await self.viewer(request, session)
        if viewer is None:
            locale = self.locale_of(request)
            return self.page(
                request,
                "message.html",
                locale,
                401,
                title="console.title",
                text="console.need_sign_in",
            )
        return self.page(
            request, "home.html", viewer.locale, viewer=viewer, csrf=viewer.web_session.csrf_token
        )

    async def logout(self, request: web.Request) -> web.StreamResponse:
        async with transaction(self.sessions) as session:
            viewer = await self.viewer(request, session)
            if viewer is None:
                raise web.HTTPSeeOther("/")
            await self.check_csrf(request, viewer)
            await revoke_all(session, viewer.person.id, now=self.clock.now())
        response = self.page(
            request,
            "message.html",
            viewer.locale,
            title="console.signed_out_title",
            text="console.signed_out",
        )
        response.del_cookie(COOKIE, path="/")
        return response

    async def static(self, request: web.Request) -> web.FileResponse:
        name = request.match_info["name"]
        if name not in STATIC_FILES:  # a fixed list: never a path from the request
            raise web.HTTPNotFound()
        return web.FileResponse(
            HERE / "static" / name, headers={"Content-Type": STATIC_FILES[name]}
        )
