"""Asking for an item's evidence: the prompt after an answer (handlers/checklist.py) and
the evidence buttons (handlers/evidence.py). Its own module so that both can use it while
evidence.py goes back to the checklist after a file or an explanation."""

from __future__ import annotations

from html import escape

from common.messages import Capabilities, Choice
from handlers.context import Turn
from handlers.tokens import make
from storage.services.checklist import ItemInfo


def evidence_buttons(turn: Turn, item: ItemInfo) -> list[list[Choice]]:
    rows = [[turn.button("evidence.next", make("n", item.id))]]
    if not turn.deps.capabilities.get(turn.account.platform, Capabilities()).documents:
        # Zalo carries no documents: a personal upload link does (handlers/upload_link.py)
        rows.append([turn.button("contact.upload_button", make("ul", item.id))])
    if item.evidence == "required":
        rows.append([turn.button("evidence.explain", make("x", item.id))])
    rows.append([turn.button("evidence.back_to_item", make("g", item.id))])
    return rows


def ask_evidence(
    turn: Turn, item: ItemInfo, *, prefix: str = "", edit: bool = False, toast: str | None = None
) -> None:
    turn.set_state("evidence", item=item.id)
    key = "evidence.ask_required" if item.evidence == "required" else "evidence.ask_optional"
    turn.say(
        prefix + turn.t(key, code=escape(item.code)),
        evidence_buttons(turn, item),
        edit=edit,
        toast=toast,
    )
