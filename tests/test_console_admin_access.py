"""Every admin route of the console for every role: only an admin gets a page; anyone
else signed in gets the console's 404 with an `access.denied` audit entry (via web), and a
visitor not signed in is sent home. No invite code reaches a non-admin's page.

Real dispatcher and chat sign-in (/web), real database on both backends.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import FormData
from sqlalchemy import func, select

from storage.db import transaction
from storage.db.models import AuditEntry, Campaign, Invite, Notice
from storage.services.notices import create_notice
from tests.console_admin_world import ROLES, World, make_world


@pytest.fixture
async def world(db, clock, tmp_path: Path):
    async for made in make_world(db, clock, tmp_path):
        yield made


async def _notice(world: World) -> int:
    async with transaction(world.db.sessions) as session:
        campaign = await session.get(Campaign, world.campaign_id)
        assert campaign is not None
        notice = await create_notice(
            session,
            campaign,
            audience="all",
            text="Họp",
            send_at=world.clock.now(),
            now=world.clock.now(),
        )
        return notice.id


def _routes(campaign_id: int, notice_id: int, code: str) -> list[tuple[str, str, dict, int]]:
    """method, path, form fields, and what an admin gets (the upload is a broken file,
    the confirm names no upload: both refused with a page, not an error)."""
    c = f"/admin/c/{campaign_id}"
    return [
        ("GET", "/admin", {}, 200),
        ("GET", "/admin/health", {}, 200),
        ("GET", "/admin/import", {}, 200),
        ("POST", "/admin/import", {}, 422),  # multipart, in _call
        ("POST", "/admin/import/confirm", {"upload": "x"}, 410),
        ("GET", c, {}, 200),
        ("GET", f"{c}/invites", {}, 200),
        ("POST", f"{c}/invites/revoke", {"code": code}, 303),
        ("POST", f"{c}/invites/reissue", {"code": code}, 303),
        ("GET", f"{c}/invites/sheet", {}, 200),
        ("GET", f"{c}/notices", {}, 200),
        ("POST", f"{c}/notices/preview", {"text": "x", "audience": "all", "at": ""}, 200),
        ("POST", f"{c}/notices", {"text": "x", "audience": "all", "at": ""}, 303),
        ("GET", f"{c}/notices/{notice_id}", {}, 200),
        ("POST", f"{c}/notices/{notice_id}/resend", {}, 303),
    ]


async def _call(world: World, role: str, method: str, path: str, fields: dict[str, str]):
    client = world.clients[role]
    if method == "GET":
        return await client.get(path, allow_redirects=False)
    if path == "/admin/import":
        form = FormData()
        form.add_field("csrf", world.csrf[role])
        form.add_field("file", b"code: X\n", filename="x.yaml", content_type="application/x-yaml")
        return await client.post(path, data=form, allow_redirects=False)
    return await client.post(path, data={"csrf": world.csrf[role], **fields}, allow_redirects=False)


@pytest.mark.parametrize("role", ROLES)
async def test_every_admin_route_for_every_role(world: World, role: str) -> None:
    notice_id = await _notice(world)
    code = world.codes["U2"][0]
    routes = _routes(world.campaign_id, notice_id, code)
    async with transaction(world.db.sessions) as session:
        notices_before = await session.scalar(select(func.count()).select_from(Notice))
    for method, path, fields, for_admin in routes:
        response = await _call(world, role, method, path, fields)
        html = await response.text()
        if role == "admin":
            assert response.status == for_admin, (method, path)
        elif role == "anonymous":
            assert response.status == 303, (method, path)
        else:
            assert response.status == 404, (role, method, path)
            assert code not in html and "KT-A" not in html
    async with transaction(world.db.sessions) as session:
        denied = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "access.denied"))
        )
        revoked = await session.scalar(select(Invite.revoked_at).where(Invite.code == code))
        notices_after = await session.scalar(select(func.count()).select_from(Notice))
    if role in ("admin", "anonymous"):
        assert denied == []
    else:
        assert len(denied) == len(routes)
        assert {d.details["via"] for d in denied} == {"web"}
        assert all(d.details["action"].startswith("admin.") for d in denied)
        assert revoked is None and notices_after == notices_before  # nothing was done


async def test_unknown_campaign_is_refused_like_a_forbidden_one(world: World) -> None:
    admin = world.clients["admin"]
    for path in ("/admin/c/999999", "/admin/c/999999/invites", "/admin/c/999999/notices"):
        assert (await admin.get(path)).status == 404
    async with transaction(world.db.sessions) as session:
        subjects = set(
            await session.scalars(
                select(AuditEntry.subject).where(AuditEntry.action == "access.denied")
            )
        )
    assert subjects == {"campaign:999999"}


async def test_admin_forms_need_the_csrf_token(world: World) -> None:
    admin = world.clients["admin"]
    code = world.codes["U2"][0]
    path = f"/admin/c/{world.campaign_id}/invites/revoke"
    assert (await admin.post(path, data={"code": code, "csrf": "forged"})).status == 403
    form = FormData()
    form.add_field("file", b"code: X\n", filename="x.yaml")
    assert (await admin.post("/admin/import", data=form)).status == 403
    async with transaction(world.db.sessions) as session:
        assert await session.scalar(select(Invite.revoked_at).where(Invite.code == code)) is None


async def test_only_admins_see_the_admin_link(world: World) -> None:
    assert 'href="/admin"' in await (await world.clients["admin"].get("/")).text()
    for role in ("contact", "member", "leader"):
        assert 'href="/admin"' not in await (await world.clients[role].get("/")).text()


async def test_an_upload_that_is_not_the_consoles_form_is_refused(world: World) -> None:
    admin, csrf = world.clients["admin"], world.csrf["admin"]
    plain = await admin.post("/admin/import", data={"csrf": csrf, "file": "code: X"})
    assert plain.status == 403
    broken = await admin.post(
        "/admin/import",
        data=b"--nothing\r\n",
        headers={"Content-Type": "multipart/form-data"},  # no boundary
    )
    assert broken.status == 400
    assert "Traceback" not in await broken.text()
