"""Replies as Zalo plain text: no markup, split at Zalo's 2000 characters.

The conversation writes the small HTML subset of common.messages (<b>, <i>, <code>, <a>).
Zalo shows text as typed, so the tags go and the entities become their characters; a
link keeps its address in brackets. What Telegram shows in bold stays readable as it is
(the words themselves carry the meaning; asterisks would only be noise on a phone).
"""

from __future__ import annotations

import html
import re

from common.messages import Capabilities

TEXT_LIMIT = 2000
# What Zalo carries, told to the conversation (bot.deps) and used by the channel: text and
# photos, no buttons, no edits, no documents.
CAPABILITIES = Capabilities(buttons=False, edit=False, documents=False, max_text=TEXT_LIMIT)

_LINK_RE = re.compile(r'<a\s[^>]*href="([^"]*)"[^>]*>(.*?)</a>', re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"</?[a-zA-Z][\w-]*(?:\s[^<>]*)?/?>")


def _link(match: re.Match[str]) -> str:
    href, label = match.group(1), match.group(2)
    return label if html.unescape(href) in label else f"{label} ({href})"


def to_plain(text: str) -> str:
    """The visible text of a reply: tags dropped, entities decoded (`&lt;` is "<")."""
    text = _LINK_RE.sub(_link, text)
    return html.unescape(_TAG_RE.sub("", text))


def split_plain(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Parts of 1..limit characters: cut after the last line break that fits, else the last
    space, and inside a word only when a single word is longer than a whole message."""
    parts: list[str] = []
    rest = text.strip("\n")
    while len(rest) > limit:
        window = rest[: limit + 1]  # a break right after the limit still counts
        cut = window.rfind("\n")
        if cut <= 0:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit
        part = rest[:cut].rstrip()
        if part:
            parts.append(part)
        rest = rest[cut:].lstrip("\n ")
    if rest.strip():
        parts.append(rest)
    return parts
