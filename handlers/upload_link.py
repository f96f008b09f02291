"""Documents from a chat that cannot carry them (Zalo): a personal upload link.

Zalo's bots take photos but no PDF, Word or Excel files. On such a channel the evidence
buttons (handlers/evidence_ask.py) offer "send a document"; pressing it (typing its number)
gives the person a link to the desk console's upload page for that one item, signed for
them, their unit and the item, valid 24 hours (storage/services/upload_links.py). Without
PUBLIC_URL there is no page to link to: the bot says so and offers photos or an
explanation instead. The chat is told what arrived once files are uploaded
(bot/console/contact_routes.py).
"""

from __future__ import annotations

from html import escape

from common.localtime import fmt_datetime
from handlers.context import Turn
from handlers.evidence_ask import evidence_buttons
from handlers.onboarding import stale_button
from handlers.reopened_evidence import accepts_evidence
from handlers.tokens import Token
from handlers.unit import active_unit
from storage.services.submissions import edit_refusal
from storage.services.upload_links import UPLOAD_LINK_TTL, issue_upload_link


def upload_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/up/{token}"


async def pressed_upload(turn: Turn, token: Token) -> None:
    ctx = await active_unit(turn)
    if ctx is None:
        return
    item = ctx.checklist.by_id(token.int_arg(0) or 0)
    if item is None or not await accepts_evidence(turn, ctx, item):
        await stale_button(turn)
        return
    if await edit_refusal(turn.session, ctx.submission, item.id) is not None:
        turn.say(turn.t("evidence.locked"))
        return
    turn.set_state("evidence", item=item.id)  # a photo sent now is still this item's
    code = escape(item.code)
    base = turn.deps.upload_url
    if not base:
        turn.say(turn.t("contact.upload_unavailable", code=code), evidence_buttons(turn, item))
        return
    assert ctx.role.assignment_id is not None
    secret = await issue_upload_link(
        turn.session,
        person_id=turn.person.id,
        chat_account_id=turn.account.account_id,
        assignment_id=ctx.role.assignment_id,
        item_id=item.id,
        now=turn.now,
    )
    until = fmt_datetime(turn.now + UPLOAD_LINK_TTL, ctx.role.timezone)
    turn.say(
        turn.t("contact.upload_link", code=code, url=escape(upload_url(base, secret)), until=until),
        evidence_buttons(turn, item),
    )


CHOICES = {"ul": pressed_upload}
