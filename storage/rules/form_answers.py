"""A web form's fields for one item, as the chat would have them typed. Pure.

The console's checklist (bot/console/contact_routes.py) reads answers with the same
`parse_answer` as the chat: a yes/no or choice item's radio buttons carry the option's
number ("1" = the first; for yes/no 1 = yes, 2 = no, as Zalo's numbered lists), a multi
item's ticked boxes become "1, 3" (none ticked: "0", none of them), and typed fields are
taken as typed. So a number, a date or a percentage is refused on the web exactly when it
is refused in chat, with the same message.
"""

from __future__ import annotations

from collections.abc import Sequence

from storage.formats.campaign_spec import ItemType
from storage.rules.answers import AnswerError, AnswerItem, ParsedAnswer, parse_answer


def form_text(item_type: str, values: Sequence[str]) -> str:
    """The `value` fields of the item's form as one typed answer."""
    if ItemType(item_type) is ItemType.MULTI:
        ticked = [v.strip() for v in values if v.strip()]
        return ", ".join(ticked) if ticked else "0"
    return values[0] if values else ""


def read_form(item: AnswerItem, values: Sequence[str]) -> ParsedAnswer | AnswerError:
    return parse_answer(item, form_text(item.type, values))


def option_number(index: int) -> str:
    """The field value of the option at `index` (0-based)."""
    return str(index + 1)
