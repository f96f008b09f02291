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
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.console.admin_routes import AdminOptions, register_admin
from bot.console.board_extras import board_extras
from bot.console.conclusion_routes import ConclusionRoutes
from bot.console.contact_pages import own_reports
from bot.console.contact_routes import ContactRoutes
from bot.console.export_routes import ExportRoutes
from bot.console.report_routes import ReportRoutes
from common.clock import Clock
from common.i18n import SUPPORTED, Catalog, normalize_locale
from common.localtime import fmt_date, fmt_datetime
from handlers.console_access import campaign_ids, deny_web, person_scope
from storage.db import transaction
from storage.db.models import Campaign, Person, WebSession
from storage.formats.conclusion_docx import NoticeSettings
from storage.rules.answers import format_number
from storage.services.answers_read import (
    evidence_file,
    submission_assignment_id,
)
from storage.services.assignments import assignment_by_id
from storage.services.board import (
    BoardSort,
    BoardStatus,
    board_counts,
    board_page,
    campaigns_by_id,
)
from storage.services.checklist import ChecklistCache
from storage.services.conclusions import local_day
from storage.services.evidence import EvidenceStore
from storage.services.ranking import campaign_ranking
from storage.services.web_sessions import (
    ABSOLUTE_TTL,
    live_session,
    redeem_link,
    revoke_all,
)

HERE = Path(__file__).parent
# Shown in the browser (a preview); every other type is downloaded as an attachment and
# sent as octet-stream, so a browser never runs an uploaded HTML or SVG file as a page.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "application/pdf"})
STATIC_FILES = {"style.css": "text/css", "admin.css": "text/css"}
COOKIE = "cchc_console"
LANG_COOKIE = "cchc_lang"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none';"
    " base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" even on
    # the console's own forms, and the cross-site check below could not tell them apart.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# An image or PDF shown inline may be framed by the console's own report page (its PDF
# preview), by no other site.
INLINE_FILE_CSP = "default-src 'none'; img-src 'self'; frame-ancestors 'self'"


@dataclass(frozen=True)
class Viewer:
    """The signed-in person of one request."""

    web_session: WebSession
    person: Person
    locale: str


E = TypeVar("E", bound=StrEnum)


def _enum(kind: type[E], value: str | None) -> E | None:
    """A query parameter as one of the enum's values; anything else is no filter."""
    try:
        return kind(value) if value else None
    except ValueError:
        return None


def _same_site(request: web.Request) -> None:
    """A POST from another site's page is refused (the sign-in form has no session to
    carry a CSRF token yet: without this, a page elsewhere could sign a visitor in as
    someone else). Browsers send Origin with every cross-site POST ("null" from a page
    that hides its origin: refused too)."""
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise web.HTTPForbidden(text="cross-site request")


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
        admin_ids: Mapping[str, frozenset[str]] | None = None,
        root: str = "",
        evidence: EvidenceStore | None = None,
        admin: AdminOptions | None = None,
        max_evidence_bytes: int = 20 * 1024 * 1024,
        notice: NoticeSettings | None = None,
    ) -> None:
        self.notice = notice or NoticeSettings()  # the conclusion notice's template, issuer
        self.admin_options = admin or AdminOptions()
        self.evidence = evidence
        self.max_evidence_bytes = max_evidence_bytes  # as in chat (EVIDENCE_MAX_BYTES)
        self.root = root.rstrip("/")  # where the app is mounted ("/desk" in the demo)
        self.admin_ids = admin_ids or {}
        self.checklists = ChecklistCache()
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
        app.router.add_get("/c/{campaign_id:[0-9]+}", self.board)
        ReportRoutes(self).register(app)  # /u/{id}: the report and its actions
        ExportRoutes(self, SECURITY_HEADERS).register(app)  # /c/{id}/export.xlsx, .zip
        app.router.add_get("/f/{evidence_id:[0-9]+}", self.evidence_download)
        app.router.add_get("/static/{name}", self.static)
        register_admin(app, self, self.admin_options)  # bot/console/admin_routes.py
        ContactRoutes(self).register(app)  # the unit contact's checklist, upload links
        ConclusionRoutes(self).register(app)  # /u/{id}/conclusion, /r/{id}/khacphuc
        return app

    @web.middleware
    async def _headers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if request.method == "POST":
                _same_site(request)
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
            template,
            request,
            {"t": tr, "lang": locale, "root": self.root, **context},
            status=status,
        )
        if "lang" in request.query:
            response.set_cookie(
                LANG_COOKIE, locale, path=f"{self.root}/", httponly=True, samesite="Lax"
            )
        return response

    # -- sessions ----------------------------------------------------------------------------

    def set_cookie(self, response: web.StreamResponse, token: str) -> None:
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(ABSOLUTE_TTL.total_seconds()),
            path=f"{self.root}/",
            httponly=True,
            samesite="Lax",
            secure=self.secure_cookies,
        )

    def sign_out_cookie(self, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE, path=f"{self.root}/")

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
        moved = web.HTTPSeeOther(f"{self.root}/")
        self.set_cookie(moved, opened.token)
        raise moved

    async def home(self, request: web.Request) -> web.Response:
        async with transaction(self.sessions) as session:
            viewer = await self.viewer(request, session)
            if viewer is None:
                return self.page(
                    request,
                    "message.html",
                    self.locale_of(request),
                    401,
                    title="console.title",
                    text="console.need_sign_in",
                )
            scope, linked = await person_scope(session, viewer.person, self.admin_ids)
            shown = None if scope.admin else campaign_ids(scope, linked)
            found = await campaigns_by_id(session, shown)
        return self.page(
            request,
            "home.html",
            viewer.locale,
            viewer=viewer,
            csrf=viewer.web_session.csrf_token,
            campaigns=found,
            admin_nav=scope.admin,
            reports=own_reports(linked),
        )

    async def board(self, request: web.Request) -> web.Response:
        campaign_id = int(request.match_info["campaign_id"])
        query = request.query
        status = _enum(BoardStatus, query.get("status"))
        sort = _enum(BoardSort, query.get("sort")) or BoardSort.POSITION
        page = int(query["page"]) if query.get("page", "").isdigit() else 1
        search = query.get("q", "")[:100]
        async with transaction(self.sessions) as session:
            viewer = await self.viewer(request, session)
            if viewer is None:
                raise web.HTTPSeeOther(f"{self.root}/")
            scope, linked = await person_scope(session, viewer.person, self.admin_ids)
            campaign = await session.get(Campaign, campaign_id)
            if campaign is None or not (scope.admin or campaign_id in campaign_ids(scope, linked)):
                await deny_web(
                    session,
                    now=self.clock.now(),
                    person_id=viewer.person.id,
                    action="board",
                    subject=f"campaign:{campaign_id}",
                )
                campaign = None  # refused after the commit: the audit entry must stay
            else:
                tr = self.catalog.for_locale(viewer.locale)
                extras = await board_extras(
                    session,
                    campaign_id,
                    scope,
                    query.get("team"),
                    tr,
                    local_day(self.clock.now(), campaign.timezone),
                )
                teams = extras.teams
                counts = await board_counts(session, campaign_id, team_ids=teams)
                rows = await board_page(
                    session,
                    campaign_id,
                    team_ids=teams,
                    status=status,
                    sort=sort,
                    page=page,
                    search=search,
                )
                checklist = await self.checklists.get(session, campaign_id)
                ranked = await campaign_ranking(
                    session, campaign_id, checklist.max_score, self.clock.now(), teams
                )
        if campaign is None:
            raise web.HTTPNotFound()
        done = sum(
            counts[s] for s in (BoardStatus.SUBMITTED, BoardStatus.LATE, BoardStatus.ACCEPTED)
        )
        tz = campaign.timezone
        return self.page(
            request,
            "board.html",
            viewer.locale,
            viewer=viewer,
            campaign=campaign,
            counts=counts,
            total=sum(counts.values()),
            done=done,
            board=rows,
            chosen=status.value if status else "",
            sort=sort.value,
            search=search,
            statuses=list(BoardStatus),
            sorts=list(BoardSort),
            date=lambda value: fmt_date(value, tz),
            datetime=lambda value: fmt_datetime(value, tz),
            **extras.context,
            ranked=[r for r in ranked if r.rank is not None],
            score=lambda value: format_number(
                value, self.catalog.for_locale(viewer.locale), decimals=2
            ),
        )

    async def evidence_download(self, request: web.Request) -> web.StreamResponse:
        """An evidence file by its id: the path comes from the database row, never from
        the request; the person must see the file's unit."""
        evidence_id = int(request.match_info["evidence_id"])
        async with transaction(self.sessions) as session:
            viewer = await self.viewer(request, session)
            if viewer is None:
                raise web.HTTPSeeOther(f"{self.root}/")
            scope, _ = await person_scope(session, viewer.person, self.admin_ids)
            row = await evidence_file(session, evidence_id)
            assignment_id = (
                await submission_assignment_id(session, row.submission_id) if row else None
            )
            assignment = await assignment_by_id(session, assignment_id or 0)
            if (
                row is None
                or row.removed_at is not None
                or assignment is None
                or not scope.sees(assignment)
            ):
                await deny_web(
                    session,
                    now=self.clock.now(),
                    person_id=viewer.person.id,
                    action="evidence",
                    subject=f"evidence:{evidence_id}",
                )
                row = None  # refused after the commit: the audit entry must stay
        if row is None or self.evidence is None:
            raise web.HTTPNotFound()
        path = self.evidence.path_of(row.storage_path)
        if not path.is_file():
            raise web.HTTPNotFound()
        inline = row.mime_type in INLINE_TYPES
        return web.FileResponse(
            path,
            headers={
                "Content-Type": row.mime_type if inline else "application/octet-stream",
                "Content-Disposition": f"{'inline' if inline else 'attachment'}; "
                f"filename*=UTF-8''{quote(row.file_name)}",
                "Cache-Control": "private, no-store",
                **({"Content-Security-Policy": INLINE_FILE_CSP} if inline else {}),
            },
        )

    async def logout(self, request: web.Request) -> web.StreamResponse:
        async with transaction(self.sessions) as session:
            viewer = await self.viewer(request, session)
            if viewer is None:
                raise web.HTTPSeeOther(f"{self.root}/")
            await self.check_csrf(request, viewer)
            await revoke_all(session, viewer.person.id, now=self.clock.now())
        response = self.page(
            request,
            "message.html",
            viewer.locale,
            title="console.signed_out_title",
            text="console.signed_out",
        )
        response.del_cookie(COOKIE, path=f"{self.root}/")
        return response

    async def static(self, request: web.Request) -> web.FileResponse:
        name = request.match_info["name"]
        if name not in STATIC_FILES:  # a fixed list: never a path from the request
            raise web.HTTPNotFound()
        return web.FileResponse(
            HERE / "static" / name, headers={"Content-Type": STATIC_FILES[name]}
        )
