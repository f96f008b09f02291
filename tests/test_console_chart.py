"""The board's chart and team filter as pure functions (bot/console/board_extras.py):
bar widths, numbers in the person's format, which ?team= is honoured."""

from __future__ import annotations

import pytest

from bot.console.board_extras import chart_rows, chosen_team
from handlers.access import Scope
from storage.services.board import BoardStatus
from storage.services.board_chart import TeamBar
from tests.chat_harness import CATALOG


def _bar(team_id: int, **counts: int) -> TeamBar:
    found = dict.fromkeys(BoardStatus, 0)
    found.update({BoardStatus(k): v for k, v in counts.items()})
    return TeamBar(team_id, f"D{team_id}", f"Đoàn {team_id}", found)


@pytest.mark.parametrize(
    ("locale", "done", "total", "late"),
    [("vi", "1.300", "8.000", "66"), ("en", "1,300", "8,000", "66")],
)
def test_counts_are_written_as_the_person_reads_numbers(locale, done, total, late):
    tr = CATALOG.for_locale(locale)
    [row] = chart_rows([_bar(1, submitted=1234, late=66, not_started=6700)], tr)
    assert (row["done"], row["total"]) == (done, total)
    assert [p["count"] for p in row["parts"]] == [
        "1.234" if locale == "vi" else "1,234",
        late,
        "6.700" if locale == "vi" else "6,700",
    ]


def test_bars_are_sized_against_the_largest_team_and_stack_without_gaps():
    tr = CATALOG.for_locale("vi")
    big, small, empty = chart_rows(
        [_bar(1, accepted=2, in_progress=6), _bar(2, returned=2), _bar(3)], tr
    )
    assert [(p["status"], p["x"], p["width"]) for p in big["parts"]] == [
        ("accepted", 0.0, 25.0),
        ("in_progress", 25.0, 75.0),
    ]
    assert [(p["status"], p["width"]) for p in small["parts"]] == [("returned", 25.0)]
    assert empty["parts"] == [] and empty["total"] == "0"


ADMIN = Scope(True, frozenset(), frozenset(), frozenset())
MEMBER = Scope(False, frozenset(), frozenset({1}), frozenset())


@pytest.mark.parametrize(
    ("scope", "allowed", "asked", "expected"),
    [
        (ADMIN, [1, 2], "2", 2),
        (ADMIN, [1, 2], "3", None),  # not a team of this campaign
        (MEMBER, [1], "1", 1),
        (MEMBER, [1], "2", None),  # another team: no filter, never more units
        (MEMBER, [1, 2], "2", None),
        (ADMIN, [1, 2], "", None),
        (ADMIN, [1, 2], "<x>", None),
        (ADMIN, [1, 2], None, None),
    ],
)
def test_the_team_filter_never_widens_what_a_person_sees(scope, allowed, asked, expected):
    assert chosen_team(scope, allowed, asked) == expected
