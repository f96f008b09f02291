"""The README's example conversation is what the bot says (issue 19: the README must not
drift from the bot). The example card is item 1.3 of the example campaign, shown to a unit
contact; its buttons are compared by label, its text with the HTML markup taken off."""

from __future__ import annotations

import html
import re
from pathlib import Path

from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from storage.formats.campaign_file import load_campaign_file
from tests.chat_harness import Chat, import_and_codes, make_deps
from tests.conftest import EXAMPLE_CAMPAIGN, ROOT, Db

TAG = re.compile(r"<[^>]+>")


def readme_example() -> list[str]:
    """The lines of the fenced block after "What a unit contact sees"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("What a unit contact sees", 1)[1].split("```", 2)[1]
    return [line for line in block.splitlines() if line.strip()]


def plain(text: str) -> list[str]:
    return [html.unescape(TAG.sub("", line)) for line in text.splitlines() if line.strip()]


async def test_the_readme_example_card_is_what_the_bot_shows(
    db: Db, clock: FrozenClock, tmp_path: Path
) -> None:
    spec, problems = load_campaign_file(EXAMPLE_CAMPAIGN)
    assert spec is not None, problems
    codes = await import_and_codes(db, clock, spec)
    chat = Chat(Dispatcher(make_deps(db, clock, tmp_path)), clock)
    unit = next(code for code in codes if ":" not in code)
    await chat.command("start", codes[unit][0])
    await chat.command("checklist")
    await chat.press_label("Bỏ qua")
    replies = await chat.press_label("Bỏ qua")
    card = replies[-1]
    expected = readme_example()
    typed = next(n for n, line in enumerate(expected) if line.startswith("> "))
    card_lines, button_line = expected[: typed - 1], expected[typed - 1]
    assert plain(card.text) == card_lines
    labels = re.findall(r"\[([^\]]+)\]", button_line)
    shown = [c.label for row in card.choices for c in row]
    assert labels == shown
    answer = expected[typed][2:]
    saved = plain((await chat.text(answer))[0].text)
    assert saved[0] == expected[typed + 1]
