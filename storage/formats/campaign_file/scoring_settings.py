"""The appraisal settings at the top of a campaign document: `score_step` and `explain_days`.

`score_step` is the step of a self-score by hand (0.25: 0, 0.25, 0.5 ... up to the item's
points); it must be positive, at most 1, and every item scored by hand must have points that
are a whole number of steps, or the top score could not be chosen. `explain_days` is how many
working days a unit has to explain (giải trình) the items marked down in round 1.
"""

from __future__ import annotations

from storage.formats.campaign_file import values
from storage.formats.campaign_file.nodes import Node
from storage.formats.campaign_spec import ScoringSettings, SectionSpec
from storage.rules.scoring import is_by_hand, plain
from storage.rules.self_score import on_step

MAX_STEP = 1.0
MAX_EXPLAIN_DAYS = 60


def read_scoring_settings(root: Node) -> ScoringSettings:
    base = ScoringSettings()
    step = base.score_step
    value = root.get("score_step")
    if value is not None:
        number = values.number(root.doc, value)
        if number is not None and not 0 < number <= MAX_STEP:
            root.doc.add("bad_score_step", value.where, value.line, value=plain(number))
        elif number is not None:
            step = number
    days = values.count_or(
        root.doc, root.get("explain_days"), base.explain_days, minimum=1, maximum=MAX_EXPLAIN_DAYS
    )
    return ScoringSettings(score_step=step, explain_days=days)


def check_steps(root: Node, settings: ScoringSettings, sections: list[SectionSpec]) -> None:
    """Every item scored by hand has points on the step (1.5 on 0.25: yes; 0.3: no)."""
    value = root.get("score_step")
    for section in sections:
        for item in section.items:
            if is_by_hand(item) and not on_step(item.points, settings.score_step):
                root.doc.add(
                    "points_off_step",
                    value.where if value else "score_step",
                    value.line if value else None,
                    code=item.code,
                    points=plain(item.points),
                    step=plain(settings.score_step),
                )
