"""`cchc-bot web-link PERSON`: the first admin's way in, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from click.testing import CliRunner, Result
from sqlalchemy import select

from bot.cli import cli
from storage import db as storage_db
from storage.db.models import Person, WebLoginLink
from storage.services.web_sessions import token_hash


def run(url: str, *args: str, **env: str) -> Result:
    env = {"DATABASE_URL": url, "CCHC_LANG": "vi", **env}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


async def _add_admin(url: str) -> int:
    engine = storage_db.create_engine(url)
    try:
        async with storage_db.transaction(storage_db.session_factory(engine)) as session:
            person = Person(full_name="Phạm Quản Trị", is_admin=True, created_at=datetime.now(UTC))
            session.add(person)
            await session.flush()
            return person.id
    finally:
        await engine.dispose()


async def _hashes(url: str) -> list[str]:
    engine = storage_db.create_engine(url)
    try:
        async with storage_db.transaction(storage_db.session_factory(engine)) as session:
            return list((await session.scalars(select(WebLoginLink.token_hash))).all())
    finally:
        await engine.dispose()


def test_web_link_for_a_person_by_id_and_by_name(backend_url: str) -> None:
    off = run(backend_url, "web-link", "1")
    assert off.exit_code == 2 and "WEB_PORT" in off.output
    missing = run(backend_url, "web-link", "Không Ai", WEB_PORT="8090")
    assert missing.exit_code == 1 and "Không tìm thấy" in missing.output
    person_id = asyncio.run(_add_admin(backend_url))
    env = {"WEB_PORT": "8090", "PUBLIC_URL": "https://ban.example.vn/"}
    links = []
    for spec in (str(person_id), "Phạm Quản Trị"):
        result = run(backend_url, "web-link", spec, **env)
        assert result.exit_code == 0, result.output
        assert "Phạm Quản Trị" in result.output and "10 phút" in result.output
        match = re.search(
            r"https://ban\.example\.vn/login/([A-Za-z0-9_-]{43})$", result.output.strip()
        )
        assert match, result.output
        links.append(match.group(1))
    assert links[0] != links[1]
    assert sorted(asyncio.run(_hashes(backend_url))) == sorted(token_hash(t) for t in links)


async def test_run_serves_the_console_on_web_port(tmp_path) -> None:
    import socket

    import aiohttp

    from bot.app import open_app
    from bot.console.serve import serving_console
    from bot.settings import Settings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'c.sqlite3'}", web_port=port, web_host="127.0.0.1"
    )
    app = await open_app(settings)
    try:
        async with (
            serving_console(app),
            aiohttp.ClientSession() as client,
            client.get(f"http://127.0.0.1:{port}/") as response,
        ):
            assert response.status == 401
            assert "/web" in await response.text()
    finally:
        await app.close()
    assert settings.console_url() == f"http://127.0.0.1:{port}"
