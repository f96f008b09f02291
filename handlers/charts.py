"""The chart leaders get with /summary, made to be read on a phone.

Top: a burn-up of the team's units toward the deadline: per day, the units that had
submitted (green) and those working on their report (blue), stacked, the total as a line
and the deadline marked. Bottom: how many units have answered what share of the items.

Legibility at phone width: chat apps show a photo about 390 CSS px wide on a phone, and
their own text is about 16 px there. The figure is FIGURE_WIDTH_IN "inches" wide where one
inch stands for 100 CSS px, so a font of `pt` points reads as pt * 100 / 72 px on the phone:
MIN_FONT_PT = 12 gives 16.7 px. It is rendered at DPI dots per inch for a sharp picture.

Rendered off-screen (Agg) to a PNG file; matplotlib is imported on first use only, so the
bot starts fast and a process that never draws never pays for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from storage.rules.burnup import SHARE_BUCKETS, Burnup

PHONE_WIDTH_PX = 390
CHAT_FONT_PX = 16
FIGURE_WIDTH_IN = PHONE_WIDTH_PX / 100
MIN_FONT_PT = 12  # 16.7 px at 390 px wide (see the module)
TITLE_FONT_PT = 14
DPI = 200  # 780 px wide: sharp on a phone, quick to draw, under Telegram's 1280 px
SUBMITTED, WORKING, TOTAL, DEADLINE = "#2e7d32", "#1565c0", "#424242", "#c62828"
SHARE_COLOURS = ("#9e9e9e", "#ef6c00", "#1565c0", "#2e7d32")


@dataclass(frozen=True)
class ChartData:
    burnup: Burnup
    total: int  # units in scope
    deadline: date
    shares: list[int]  # units per SHARE_BUCKETS


def render_progress_chart(data: ChartData, path: Path, tr: Callable[..., str]) -> Path:
    from matplotlib import pyplot as plt

    fig = progress_figure(data, tr)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI)
    plt.close(fig)
    return path


def progress_figure(data: ChartData, tr: Callable[..., str]) -> Any:
    """The matplotlib Figure (the caller saves and closes it; tests measure its texts)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    with plt.rc_context({"font.size": MIN_FONT_PT, "axes.titlesize": TITLE_FONT_PT}):
        fig, (top, bottom) = plt.subplots(
            2,
            1,
            figsize=(FIGURE_WIDTH_IN, 7.2),
            height_ratios=(3, 2),
            layout="constrained",
        )
        _burnup(top, data, tr)
        _shares(bottom, data, tr)
    return fig


def _burnup(ax: Any, data: ChartData, tr: Callable[..., str]) -> None:
    b = data.burnup
    ax.stackplot(
        b.days,
        b.submitted,
        b.in_progress,
        colors=(SUBMITTED, WORKING),
        labels=(tr("team.chart.submitted"), tr("team.chart.in_progress")),
        step="post",
        alpha=0.9,
    )
    ax.axhline(data.total, color=TOTAL, linewidth=1.2, linestyle=":")
    ax.axvline(data.deadline, color=DEADLINE, linewidth=2)
    ax.annotate(
        tr("team.chart.deadline", day=f"{data.deadline:%d/%m}"),
        xy=(data.deadline, data.total),
        xytext=(-4, -4),
        textcoords="offset points",
        ha="right",
        va="top",
        color=DEADLINE,
    )
    first = b.days[0] if b.days else data.deadline
    ax.set_xlim(min(first, data.deadline), max(data.deadline, b.days[-1] if b.days else first))
    ax.set_ylim(0, max(1, data.total) * 1.08)
    ax.set_title(
        tr("team.chart.title", submitted=b.submitted[-1] if b.days else 0, total=data.total)
    )
    ax.xaxis.set_major_formatter(_day_format())
    ax.xaxis.set_major_locator(_few_days())
    # Under the dates, in one row: inside the plot it would cover the bars or the total line.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)


def _shares(ax: Any, data: ChartData, tr: Callable[..., str]) -> None:
    labels = [tr(f"team.chart.share.{n}") for n in range(len(SHARE_BUCKETS))]
    bars = ax.bar(labels, data.shares, color=SHARE_COLOURS)
    ax.bar_label(bars, padding=2)
    ax.set_ylim(0, max(1, *data.shares) * 1.25)
    ax.set_title(tr("team.chart.shares"))
    ax.set_yticks([])
    ax.spines[["top", "right", "left"]].set_visible(False)


def _day_format() -> Any:
    from matplotlib.dates import DateFormatter

    return DateFormatter("%d/%m")


def _few_days() -> Any:
    # Three or four dates fit across a phone at this font size.
    from matplotlib.dates import AutoDateLocator

    return AutoDateLocator(minticks=2, maxticks=4)
