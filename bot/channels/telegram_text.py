"""Splitting Telegram-HTML texts at the message limit without breaking the markup.

Telegram counts the limit (4096 for messages, 1024 for captions) on the visible text after
entity parsing, so tags are free and `&lt;` counts as one character. A split prefers line
boundaries, then spaces, and only cuts inside a word when a word alone is over the limit.
Tags open across a cut are closed at the end of one part and reopened at the start of the
next, so every part parses on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

_TOKEN_RE = re.compile(
    r"(?P<tag><(?P<close>/?)(?P<name>[a-zA-Z][\w-]*)[^<>]*>)"
    r"|(?P<entity>&(?:#\d+|#[xX][0-9a-fA-F]+|[a-zA-Z]+);)"
    r"|(?P<newline>\n)"
    r"|(?P<space>[^\S\n]+)"
    r"|(?P<word>[^\s<&]+)"
    r"|(?P<stray>[<&])"
)

# How good a place to cut right after a token is.
_NO_BREAK, _WORD_BREAK, _LINE_BREAK = 0, 1, 2


@dataclass(frozen=True)
class _Token:
    raw: str
    visible: int  # characters this token shows
    breaks: int  # quality of a cut right after it
    open_tag: str | None = None  # name, for an opening tag
    close_tag: str | None = None  # name, for a closing tag


def _tokens(text: str, limit: int) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _TOKEN_RE.finditer(text):
        raw = match.group()
        if match.group("tag"):
            name = match.group("name").lower()
            closing = bool(match.group("close"))
            tokens.append(
                _Token(raw, 0, _NO_BREAK, None if closing else name, name if closing else None)
            )
        elif match.group("newline"):
            tokens.append(_Token(raw, 1, _LINE_BREAK))
        elif match.group("space"):
            tokens.append(_Token(raw, len(raw), _WORD_BREAK))
        elif match.group("word"):
            # A word longer than a whole message is cut in pieces; no markup inside a word.
            tokens.extend(
                _Token(raw[i : i + limit], len(raw[i : i + limit]), _NO_BREAK)
                for i in range(0, len(raw), limit)
            )
        else:  # an entity, or a stray "<"/"&" (invalid HTML, kept as is)
            tokens.append(_Token(raw, 1, _NO_BREAK))
    return tokens


def visible_length(text: str) -> int:
    """Length of a Telegram-HTML text as Telegram counts it (code points, tags excluded)."""
    if "<" not in text and "&" not in text:
        return len(text)
    return sum(token.visible for token in _tokens(text, TEXT_LIMIT))


def split_html(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Parts of at most `limit` visible characters each; [text] when it already fits."""
    if len(text) <= limit:  # visible length never exceeds the raw length: nothing to cut
        return [text]
    tokens = _tokens(text, limit)
    if sum(t.visible for t in tokens) <= limit:
        return [text]
    parts: list[list[_Token]] = []
    current: list[_Token] = []
    size = 0
    for token in tokens:
        while current and size + token.visible > limit:
            cut = _best_cut(current)
            parts.append(current[:cut])
            current = current[cut:]
            size = sum(t.visible for t in current)
        current.append(token)
        size += token.visible
    parts.append(current)
    return _render(parts)


def _best_cut(tokens: list[_Token]) -> int:
    """Index after the last line break, else the last space, else everything."""
    for quality in (_LINE_BREAK, _WORD_BREAK):
        for index in range(len(tokens) - 1, -1, -1):
            if tokens[index].breaks == quality:
                return index + 1
    return len(tokens)


def _render(parts: list[list[_Token]]) -> list[str]:
    """Join tokens, closing the tags left open at each cut and reopening them after it."""
    rendered: list[str] = []
    open_tags: list[_Token] = []
    for part in parts:
        prefix = "".join(t.raw for t in open_tags)
        for token in part:
            if token.open_tag:
                open_tags.append(token)
            elif token.close_tag and open_tags and open_tags[-1].open_tag == token.close_tag:
                open_tags.pop()
        suffix = "".join(f"</{t.open_tag}>" for t in reversed(open_tags))
        body = "".join(t.raw for t in part)
        # Parts that show nothing (only newlines or tags) would be refused as empty.
        if "".join(t.raw for t in part if t.visible and not t.raw.isspace()):
            rendered.append(prefix + body.strip("\n") + suffix)
    return rendered
