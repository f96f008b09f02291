"""Numbers in button tokens: one that no id of ours can be (a forged or corrupt button) is
answered as a stale button, never passed to the database."""

from __future__ import annotations

import pytest

from handlers.dispatcher import CHOICES
from handlers.tokens import MAX_ID, StaleToken, Token
from tests.chat_harness import CATALOG
from tests.test_handlers_team import people  # noqa: F401 (the fixture)

HUGE = "1000000000000000000000000000000"
STALE = CATALOG.t("vi", "onboarding.stale_button")
APOLOGY = CATALOG.t("vi", "common.error")


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("0", 0),
        ("17", 17),
        (str(MAX_ID), MAX_ID),
        *[(arg, None) for arg in ("abc", "", "٣", " 5", "+5", "1_0", "1.0")],
    ],
)
def test_int_arg_takes_plain_ascii_numbers(arg: str, expected: int | None) -> None:
    assert Token("g", (arg,)).int_arg(0) == expected


def test_a_missing_argument_is_none() -> None:
    assert Token("g").int_arg(0) is None and Token("g", ("1",)).int_arg(1) is None


@pytest.mark.parametrize("arg", [str(MAX_ID + 1), HUGE, "-1", "-" + HUGE])
def test_a_number_no_id_can_be_is_stale(arg: str) -> None:
    with pytest.raises(StaleToken):
        Token("ap", (arg,)).int_arg(0)


@pytest.mark.parametrize("who", ["leader", "admin"])
async def test_the_issue_s_forged_appraisal_button_is_stale(people, who):  # noqa: F811
    [reply] = await people[who].press(f"ap:{HUGE}")
    assert reply.text == STALE and reply.toast == STALE


@pytest.mark.parametrize("action", sorted(CHOICES))
async def test_no_button_with_a_huge_number_reaches_the_database(people, action):  # noqa: F811
    for chat in (people["lan"], people["admin"]):
        for token in (f"{action}:{HUGE}", f"{action}:1:{HUGE}", f"{action}:{HUGE}:{HUGE}"):
            replies = await chat.press(token)
            texts = " ".join(f"{r.text} {r.toast}" for r in replies)
            assert APOLOGY not in texts, token
            assert "Phường 3" not in texts or chat is people["admin"], token
