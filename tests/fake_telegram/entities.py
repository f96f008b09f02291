"""What the fake checks in a text: Telegram-HTML entities, text limits, inline keyboards.

Stricter than Telegram where the difference does not matter to a well-behaved bot: a bare
`&` that does not start a supported entity (`&lt; &gt; &amp; &quot;` or numeric) is
rejected, where Telegram sometimes lets it through. Limits count the visible text after HTML
parsing, in Unicode code points; MarkdownV2 is not parsed at all.
"""

from __future__ import annotations

import re
from typing import Any

from tests.fake_telegram.errors import JSON, TelegramError, bad_request

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64  # bytes, UTF-8

ALLOWED_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "a",
        "code",
        "pre",
        "tg-spoiler",
        "span",
        "blockquote",
        "tg-emoji",
    }
)
_TAG_RE = re.compile(r"<(/?)([^\s<>/]*)([^<>]*)>")
_ENTITY_RE = re.compile(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|lt|gt|amp|quot);")
_SPECIAL_RE = re.compile(r"[<&]")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPOILER_CLASS_RE = re.compile(r"""class\s*=\s*(["']?)tg-spoiler\1""")


def _entity_error(text: str, pos: int, detail: str) -> TelegramError:
    offset = len(text[:pos].encode())
    return bad_request(f"can't parse entities: {detail} at byte offset {offset}")


def _decode_entity(token: str) -> str:
    if token.startswith("#x") or token.startswith("#X"):
        return chr(int(token[2:], 16))
    if token.startswith("#"):
        return chr(int(token[1:]))
    return _NAMED[token]


def parse_html(text: str) -> str:
    """Return the visible text of a Telegram-HTML string or raise a 400 like Telegram."""
    visible: list[str] = []
    stack: list[tuple[str, int]] = []
    pos = 0
    while pos < len(text):
        special = _SPECIAL_RE.search(text, pos)
        end = special.start() if special else len(text)
        visible.append(text[pos:end])  # plain text up to the next tag or entity
        pos = end
        if special is None:
            break
        if special.group() == "<":
            pos = _parse_tag(text, pos, stack)
        else:
            match = _ENTITY_RE.match(text, pos)
            if match is None:
                raise _entity_error(text, pos, "Unsupported HTML entity or bare '&'")
            visible.append(_decode_entity(match.group(1)))
            pos = match.end()
    if stack:
        name, start = stack[-1]
        raise _entity_error(text, start, f'Can\'t find end tag corresponding to start tag "{name}"')
    return "".join(visible)


def _parse_tag(text: str, pos: int, stack: list[tuple[str, int]]) -> int:
    match = _TAG_RE.match(text, pos)
    if match is None or not match.group(2):
        raise _entity_error(text, pos, 'Unsupported start tag ""')
    closing, name, attrs = match.group(1) == "/", match.group(2).lower(), match.group(3)
    if closing:
        if not stack:
            raise _entity_error(text, pos, f'Unexpected end tag "</{name}>"')
        if stack[-1][0] != name:
            expected = stack[-1][0]
            raise _entity_error(
                text, pos, f'Unmatched end tag, expected "</{expected}>", found "</{name}>"'
            )
        stack.pop()
    else:
        if name not in ALLOWED_TAGS:
            raise _entity_error(text, pos, f'Unsupported start tag "{name}"')
        if name == "span" and not _SPOILER_CLASS_RE.search(attrs):
            raise _entity_error(text, pos, 'Tag "span" must have class "tg-spoiler"')
        stack.append((name, pos))
    return match.end()


def check_text(text: str, parse_mode: Any, limit: int, *, caption: bool) -> None:
    visible = parse_html(text) if str(parse_mode or "").lower() == "html" else text
    if not caption and not visible.strip():
        raise bad_request("message text is empty")
    if len(visible) > limit:
        raise bad_request("message caption is too long" if caption else "message is too long")


def check_markup(markup: Any) -> JSON | None:
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not str(button.get("text") or "").strip():
                raise bad_request("text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                raise bad_request("BUTTON_DATA_INVALID")
    return markup
