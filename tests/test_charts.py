"""The leaders' chart, read on a phone (issue 19): a burn-up toward the deadline and units
by share answered, every text at least as large as the chat's own at 390 px wide."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from matplotlib import pyplot as plt
from matplotlib.text import Text
from PIL import Image

from common.localtime import zone
from handlers.charts import (
    CHAT_FONT_PX,
    DPI,
    PHONE_WIDTH_PX,
    ChartData,
    progress_figure,
    render_progress_chart,
)
from storage.rules.burnup import burnup, share_counts
from tests.chat_harness import CATALOG

TZ = zone("Asia/Ho_Chi_Minh")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def _at(day: int, hour: int = 9) -> datetime:
    return datetime(2021, 9, day, hour, tzinfo=TZ).astimezone(UTC)


# (started, submitted) for 8 units over a fortnight; the deadline is 30/09.
UNITS = [
    (_at(10), _at(14)),
    (_at(11), _at(17)),
    (_at(12), _at(20)),
    (_at(12), None),
    (_at(15), None),
    (_at(18), None),
    (None, None),
    (None, None),
]


def test_burnup_counts_submitted_and_in_progress_per_day() -> None:
    b = burnup(UNITS, first_day=date(2021, 9, 9), today=date(2021, 9, 21), tz=TZ)
    assert b.days[0] == date(2021, 9, 9) and b.days[-1] == date(2021, 9, 21)
    by_day = dict(zip(b.days, zip(b.submitted, b.in_progress, strict=True), strict=True))
    assert by_day[date(2021, 9, 9)] == (0, 0)
    assert by_day[date(2021, 9, 12)] == (0, 4)
    assert by_day[date(2021, 9, 14)] == (1, 3)  # submitted the same day it is counted
    assert by_day[date(2021, 9, 21)] == (3, 3)


def test_a_unit_that_submitted_without_answers_on_record_counts_as_started() -> None:
    b = burnup([(None, _at(5))], first_day=date(2021, 9, 4), today=date(2021, 9, 5), tz=TZ)
    assert (b.submitted, b.in_progress) == ([0, 1], [0, 0])


@pytest.mark.parametrize(
    ("answered", "counts"),
    [
        ([0, 0], [2, 0, 0, 0]),
        ([1], [0, 1, 0, 0]),  # 1 of 300 is not "0%"
        ([150, 299], [0, 0, 2, 0]),  # 299 of 300 is not "100%"
        ([300, 400], [0, 0, 0, 2]),
    ],
)
def test_share_counts(answered: list[int], counts: list[int]) -> None:
    assert share_counts(answered, 300) == counts


def _data() -> ChartData:
    return ChartData(
        burnup=burnup(UNITS, first_day=date(2021, 9, 9), today=date(2021, 9, 21), tz=TZ),
        total=len(UNITS),
        deadline=date(2021, 9, 30),
        shares=share_counts([24, 24, 24, 20, 9, 3, 0, 0], 24),
    )


@pytest.mark.parametrize("locale", ["vi", "en"])
def test_every_text_is_as_large_as_the_chats_at_phone_width(locale: str) -> None:
    tr = CATALOG.for_locale(locale)
    fig = progress_figure(_data(), tr)
    try:
        width_px = fig.get_figwidth() * DPI
        scale = PHONE_WIDTH_PX / width_px  # the picture shown 390 px wide
        texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
        shown = {t.get_text() for t in texts}
        assert tr("team.chart.deadline", day="30/09") in shown  # the deadline is marked
        assert tr("team.chart.title", submitted=3, total=8) in shown
        for text in texts:
            px_on_phone = text.get_fontsize() * DPI / 72 * scale
            assert px_on_phone >= CHAT_FONT_PX, (text.get_text(), px_on_phone)
    finally:
        plt.close(fig)


def test_the_png_is_sharp_and_fits_a_phone(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for locale in ("vi", "en"):
        path = render_progress_chart(
            _data(), ARTIFACTS / f"chart-{locale}.png", CATALOG.for_locale(locale)
        )
        with Image.open(path) as image:
            width, height = image.size
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert 700 <= width <= 1280  # sharp at 390 px (2x), within Telegram's 1280 px
        assert height < 2.5 * width  # one phone screen, about
    # The deadline in the past: late reports still show, up to today.
    late = burnup(UNITS, first_day=date(2021, 9, 9), today=date(2021, 10, 3), tz=TZ)
    assert late.days[-1] == date(2021, 10, 3) and len(late.days) == 25
    assert timedelta(days=len(late.days) - 1) == date(2021, 10, 3) - date(2021, 9, 9)
