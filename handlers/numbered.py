"""Choices for channels without buttons: shown as "1. Có / 2. Không", answered by number.

The numbers of the latest replies are kept in the conversation state, so "2" means the
second choice of the last message, whatever process handles it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from common.messages import Reply


def number_choices(
    replies: list[Reply], hint: str, *, prefix: str = ""
) -> tuple[list[Reply], dict[str, str]]:
    """`prefix` ("#") marks choice numbers when the person is asked to type a number."""
    mapping: dict[str, str] = {}
    presented = []
    for reply in replies:
        if not reply.choices:
            presented.append(reply)
            continue
        lines = []
        for row in reply.choices:
            for choice in row:
                number = str(len(mapping) + 1)
                mapping[number] = choice.token
                lines.append(f"{prefix}{number}. {choice.label}")
        text = f"{reply.text}\n\n" + "\n".join(lines) + f"\n<i>{hint}</i>"
        presented.append(replace(reply, text=text, choices=[]))
    return presented, mapping


def numbered_choice(data: Mapping[str, Any], text: str) -> str | None:
    """The token a typed number stands for, if the last message offered numbered choices.

    While a number, percent or date is asked for (`typed` in the state), only "#2" picks a
    choice: a plain "2" is the answer itself.
    """
    mapping = data.get("numbered") or {}
    typed = text.strip().rstrip(".")
    if typed.startswith("#"):
        typed = typed[1:].strip()
    elif data.get("typed"):
        return None
    token = mapping.get(typed)
    return token if isinstance(token, str) else None
