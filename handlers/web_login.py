"""/web: a one-time link to the desk console for the person asking; /web off: sign out of
every browser. The link is bound to the person, so it is only ever sent in a private chat
(the dispatcher sends group events elsewhere before any handler runs)."""

from __future__ import annotations

from html import escape

from handlers.context import Turn
from storage.services.web_sessions import LINK_TTL, issue_link, revoke_all

OFF_WORDS = frozenset({"off", "tat", "tắt", "thoat", "thoát"})


def login_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/login/{token}"


async def web(turn: Turn) -> None:
    if turn.inbound.text.strip().lower() in OFF_WORDS:
        closed = await revoke_all(turn.session, turn.person.id, now=turn.now)
        turn.say(turn.t("console.signed_out_chat", count=closed))
        return
    base = turn.deps.console_url
    if not base:
        turn.say(turn.t("console.not_served"))
        return
    token = await issue_link(turn.session, turn.person.id, now=turn.now)
    minutes = int(LINK_TTL.total_seconds() // 60)
    url = escape(login_url(base, token))
    turn.say(turn.t("console.link", url=url, minutes=minutes))
