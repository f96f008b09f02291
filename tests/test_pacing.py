"""The bot's send budget (schedules/pacing.py): replies first, what a 429 pauses, the pause
after a restart. Times are plain seconds."""

from __future__ import annotations

import pytest

from schedules.pacing import Pacer, RateLimits

LIMITS = RateLimits(margin=0.0)  # 30/s, 1/s per chat: easy numbers


def test_a_reply_skips_the_chat_spacing_but_not_the_bot_grid() -> None:
    pacer = Pacer(LIMITS)
    pacer.take("7", 100.0)  # an outbox message to chat 7
    assert pacer.earliest("7", 100.0) == pytest.approx(101.0)
    assert pacer.earliest("7", 100.0, reply=True) == pytest.approx(100 + 1 / 30)
    pacer.take("7", 100 + 1 / 30, reply=True)
    # the reply took the bot's next slot: the outbox waits one slot more
    assert pacer.earliest("8", 100.0) == pytest.approx(100 + 2 / 30)


def test_a_429_on_one_chat_pauses_that_chat_only() -> None:
    pacer = Pacer(LIMITS)
    pacer.limited("7", 2.0, 100.0)
    assert pacer.earliest("7", 100.0) == 102.0
    assert pacer.earliest("7", 100.0, reply=True) == 102.0  # a reply waits too
    assert pacer.earliest("8", 100.0) == 100.0
    assert not pacer.is_paused(100.0)


def test_scattered_429s_never_pause_the_bot() -> None:
    pacer = Pacer(LIMITS)
    for n in range(200):  # one refusal in twenty, as with 5% random 429s
        if n % 20 == 0:
            pacer.limited(str(n), 2.0, 100.0 + n / 30)
        else:
            pacer.delivered(str(n), 100.0 + n / 30)
        assert not pacer.is_paused(100.0 + n / 30)


def test_most_recent_sends_refused_is_a_flood_that_pauses_everything() -> None:
    pacer = Pacer(LIMITS)
    for n in range(4):
        pacer.delivered(str(n), 100.0)
    for n in range(3):
        pacer.limited(str(10 + n), 5.0, 100.0)
    assert not pacer.is_paused(100.0)
    pacer.limited("13", 5.0, 100.0)  # 4 of the last 8
    assert pacer.is_paused(100.0) and pacer.earliest("99", 100.0) == 105.0


def test_a_new_pacer_keeps_the_first_window_free() -> None:
    pacer = Pacer(LIMITS, started=50.0)  # a restarted process
    assert pacer.earliest("1", 50.0) == 51.0
    assert pacer.earliest("1", 50.0, reply=True) == 51.0
    assert Pacer(LIMITS).earliest("1", 50.0) == 50.0  # no start given: no pause
