"""The progress chart leaders get with /summary: one bar per team, split by status.

Rendered off-screen (Agg) to a PNG file; matplotlib is imported on first use only, so the
bot starts fast and a process that never draws never pays for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from storage.services.team_status import TeamSummary

# Colours a leader reads at a glance: green done, blue working, amber returned, grey idle.
SERIES = (
    ("submitted", "#2e7d32"),
    ("in_progress", "#1565c0"),
    ("returned", "#ef6c00"),
    ("not_started", "#9e9e9e"),
)


def render_progress_chart(
    summaries: Sequence[TeamSummary], path: Path, tr: Callable[..., str]
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    labels = [s.code for s in summaries]
    height = max(2.4, 0.6 * len(summaries) + 1.8)
    fig, ax = plt.subplots(figsize=(7, height), dpi=110)
    left = [0] * len(summaries)
    for key, colour in SERIES:
        values = [int(getattr(s, key)) for s in summaries]
        ax.barh(labels, values, left=left, color=colour, label=tr(f"team.chart.{key}"))
        left = [a + b for a, b in zip(left, values, strict=True)]
    for index, summary in enumerate(summaries):
        ax.text(
            left[index] + 0.2,
            index,
            f"{summary.submitted}/{summary.total}",
            va="center",
            fontsize=9,
        )
    _style(ax, tr, max(left, default=1))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def _style(ax: Any, tr: Callable[..., str], widest: int) -> None:
    ax.set_title(tr("team.chart.title"))
    ax.set_xlabel(tr("team.chart.units"))
    ax.set_xlim(0, widest * 1.15 + 1)
    ax.invert_yaxis()
    # Below the bars, in one row: a legend inside the plot would cover the longest bar.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=4, fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
