"""Property-based fuzz of the Dispatcher (issue 15): random sequences of hostile events from
several people (unit contact, team leader, admin, stranger; private and group chats) on a
real SQLite database, and with fewer examples on PostgreSQL. Whatever arrives: no exception
escapes, every private event gets a reply (a redelivered update gets none), every reply is
one Telegram would accept once rendered as the Telegram channel renders it, no user HTML
comes back raw, and a unit contact never sees another unit's data.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.telegram_text import CAPTION_LIMIT, TEXT_LIMIT, split_html
from common.clock import FrozenClock
from common.messages import Attachment, Inbound, InboundKind, Reply, Sender
from handlers.dispatcher import CHOICES, COMMANDS, Dispatcher
from storage import db as storage_db
from tests import factories
from tests.chat_harness import CATALOG, import_and_codes, make_deps
from tests.conftest import Db, truncate_all
from tests.fake_telegram.entities import check_markup, parse_html

PEOPLE = ("lan", "leader", "admin", "stranger")
MARK = "<i>pwn</i>"  # user HTML that must never come back as markup
OTHER_UNITS = ("Phường 2", "Phường 3")
TOAST_LIMIT = 200
CRASHED = CATALOG.t("vi", "common.error")  # answerCallbackQuery text

hostile_text = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=4000, max_size=5000),
    st.sampled_from(
        [
            MARK,
            f"<script>alert(1)</script>{MARK}",
            "&amp; & &#0; </b> <b>",
            "\x00\x1b[31m\u202e\ufeff",
            "A7K2-9QXP-MM3Z",
            "9" * 70,
            "1",
            "#1",
            "   ",
        ]
    ),
)
huge_id = st.one_of(
    st.integers(-(2**70), 2**100), st.just(10**30), st.just(2**31), st.just(-1), st.just(0)
)
forged_token = st.builds(
    lambda action, numbers: ":".join([action, *map(str, numbers)]),
    st.sampled_from(sorted(CHOICES)),
    st.lists(huge_id, min_size=1, max_size=3),
)
attachment = st.tuples(
    st.one_of(
        st.sampled_from(["a.pdf", "../../etc/passwd.pdf", "x/y.docx", "ảnh.jpg", ".pdf", "a"]),
        st.text(min_size=200, max_size=400).map(lambda s: s + ".pdf"),
    ),
    st.sampled_from(
        [b"", b"%PDF-1.4\n", b"MZ\x90\x00 not a pdf", b"\x89PNG\r\n\x1a\n" + b"0" * 64]
    ),
)
event = st.tuples(
    st.sampled_from(PEOPLE),
    st.sampled_from([True, True, True, False]),  # private, or the same person in a group
    st.one_of(
        st.tuples(st.just("text"), hostile_text),
        st.tuples(
            st.just("command"), st.sampled_from([*COMMANDS, "start", "x" * 40]), hostile_text
        ),
        st.tuples(st.just("forged"), forged_token),
        st.tuples(st.just("seen"), st.integers(0, 10**6), st.integers(0, 64)),  # a real button
        st.tuples(st.just("file"), attachment),
        st.tuples(
            st.just("again"),
        ),  # the previous update delivered again
    ),
)


def _check_reply(who: str, reply: Reply) -> None:
    """What the Telegram channel would send for this reply, checked as Telegram checks it."""
    # The dispatcher turns a handler's exception into this apology: none may happen.
    assert reply.text != CRASHED, "a handler raised (see the log)"
    assert reply.text or reply.toast or reply.document or reply.photo, reply
    if reply.text:
        for part in split_html(reply.text, TEXT_LIMIT):
            visible = parse_html(part)  # raises on HTML Telegram refuses
            assert visible.strip() and len(visible) <= TEXT_LIMIT
        assert MARK not in reply.text and "<script" not in reply.text
    if reply.toast:
        assert len(reply.toast) <= TOAST_LIMIT
    for out in (reply.document, reply.photo):
        if out is not None:
            assert out.path.exists() and len(out.file_name.encode()) <= 255
    if reply.text and (reply.document or reply.photo):
        for part in split_html(reply.text, CAPTION_LIMIT):
            parse_html(part)
    rows = [[{"text": c.label, "callback_data": c.token} for c in row] for row in reply.choices]
    check_markup({"inline_keyboard": rows})
    if who == "lan":  # the contact of Phường 1
        shown = reply.text + " ".join(c.label for row in reply.choices for c in row)
        assert not any(unit in shown for unit in OTHER_UNITS), shown


async def _scenario(template: Path, events: list) -> None:
    """One example on a fresh copy of the migrated SQLite template."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.sqlite3"
        shutil.copyfile(template, path)
        await _scenario_on(f"sqlite:///{path}", Path(tmp), events)


async def _scenario_pg(url: str, events: list) -> None:
    """One example on the session's PostgreSQL database, emptied first."""
    engine = storage_db.create_engine(url)
    try:
        await truncate_all(engine)
    finally:
        await engine.dispose()
    with tempfile.TemporaryDirectory() as tmp:
        await _scenario_on(url, Path(tmp), events)


async def _scenario_on(url: str, folder: Path, events: list) -> None:
    engine = storage_db.create_engine(url)
    backend = "sqlite" if storage_db.is_sqlite(url) else "postgres"
    try:
        db = Db(backend, url, engine, storage_db.session_factory(engine))
        clock = FrozenClock(datetime(2021, 9, 1, 1, 0, tzinfo=UTC))
        codes = await import_and_codes(db, clock, factories.campaign())
        deps = make_deps(db, clock, folder, bot_username="cchc_bot")
        deps.admin_ids = {"telegram": frozenset({"3"})}
        dispatcher = Dispatcher(deps)
        await _run(dispatcher, clock, codes, events)
    finally:
        await engine.dispose()


async def _run(dispatcher: Dispatcher, clock: FrozenClock, codes: dict, events: list) -> None:
    ids = {"lan": "1", "leader": "2", "admin": "3", "stranger": "4"}
    seen: list[str] = []
    updates = itertools.count(1)
    last: Inbound | None = None

    async def send(who: str, inbound: Inbound, expect_reply: bool) -> None:
        nonlocal last
        replies = await dispatcher.handle(inbound)  # nothing may escape
        if expect_reply:
            assert replies, inbound
        for reply in replies:
            _check_reply(who, reply)
            seen.extend(c.token for row in reply.choices for c in row)
        last = inbound

    def inbound(who: str, private: bool, kind: InboundKind, **fields: object) -> Inbound:
        user = ids[who]
        sender = Sender(
            "telegram", user, user if private else "-100777", who, None, "vi", private=private
        )
        return Inbound(kind, sender, clock.now(), update_key=f"u{next(updates)}", **fields)

    for who, code in (("lan", codes["U1"][0]), ("leader", codes["team_leader:D1"][0])):
        await send(who, inbound(who, True, InboundKind.COMMAND, command="start", text=code), True)
    for who, private, (kind, *args) in events:
        if kind == "again":
            if last is not None:
                assert await dispatcher.handle(last) == []  # handled once only
            continue
        if kind == "text":
            ev = inbound(who, private, InboundKind.TEXT, text=args[0])
        elif kind == "command":
            ev = inbound(who, private, InboundKind.COMMAND, command=args[0], text=args[1])
        elif kind == "forged":
            ev = inbound(who, private, InboundKind.CHOICE, choice=args[0], message_id="1")
        elif kind == "seen":
            token = seen[args[0] % len(seen)][: args[1] or None] if seen else "k"
            ev = inbound(who, private, InboundKind.CHOICE, choice=token, message_id="1")
        else:
            (name, data) = args[0]

            async def download(path: Path, data: bytes = data) -> None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)

            ev = inbound(
                who,
                private,
                InboundKind.FILE,
                attachment=Attachment(name, "application/pdf", len(data), download),
            )
        await send(who, ev, expect_reply=private)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(events=st.lists(event, min_size=1, max_size=12))
def test_random_events_never_escape_and_every_reply_is_sendable(
    sqlite_template: Path, events: list
) -> None:
    asyncio.run(_scenario(sqlite_template, events))


@pytest.mark.postgres
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # the database is emptied per example
    ],
)
@given(events=st.lists(event, min_size=1, max_size=12))
def test_random_events_on_postgresql(pg_database: str, events: list) -> None:
    """The same property on PostgreSQL (fewer examples: each one empties the database)."""
    asyncio.run(_scenario_pg(pg_database, events))
