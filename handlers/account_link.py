"""/link: one person on several channels (Telegram and Zalo).

`/link` gives a one-time code; `/link CODE` typed on the other channel makes that chat the
same person's, with their roles. What the bot sends on its own then goes to the channel the
person used last (storage/services/account_links.py). Only in private chats: the dispatcher
sends group events elsewhere before any handler runs."""

from __future__ import annotations

from handlers.context import Turn
from handlers.unit import roles
from storage.services.account_links import CODE_TTL, Linked, issue_code, redeem_code

PLATFORM_NAMES = {"telegram": "Telegram", "zalo": "Zalo", "web": "web"}


async def link(turn: Turn) -> None:
    typed = turn.inbound.text.strip()
    account = turn.account
    if not typed:
        code = await issue_code(
            turn.session, person_id=account.person_id, account_id=account.account_id, now=turn.now
        )
        minutes = int(CODE_TTL.total_seconds() // 60)
        turn.say(turn.t("link.code", code=code, minutes=minutes))
        return
    result = await redeem_code(
        turn.session,
        typed,
        account_id=account.account_id,
        person_id=account.person_id,
        platform=account.platform,
        has_roles=bool(await roles(turn)),
        now=turn.now,
    )
    if not isinstance(result, Linked):
        turn.say(turn.t(f"link.{result.value}"))
        return
    turn.state.person_id = result.person_id  # the chat now continues as that person
    turn.state.state, turn.state.data = "idle", {}
    other = PLATFORM_NAMES.get(result.other_platform, result.other_platform)
    here = PLATFORM_NAMES.get(account.platform, account.platform)
    turn.say(turn.t("link.done", here=here, other=other))
