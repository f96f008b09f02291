"""How far a unit's report is: answered, missing, missing evidence, self-assessed score.

Pure: takes the checklist and what was answered; used by the review screen, /status,
reminders ("còn 7/25 mục chưa trả lời, 3 mục thiếu tài liệu kiểm chứng") and summaries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from storage.rules.scoring import is_by_hand, score


class ProgressItem(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def required(self) -> bool: ...
    @property
    def evidence(self) -> str: ...
    @property
    def points(self) -> float: ...
    @property
    def scoring(self) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True)
class AnswerState:
    value: Any  # None: skipped
    note: str | None = None  # giải trình: why there is no evidence
    evidence_count: int = 0


@dataclass(frozen=True)
class Progress:
    total: int
    answered: int
    missing_required: tuple[int, ...]  # item ids, checklist order
    missing_evidence: tuple[int, ...]  # answered items that require evidence and have none
    unanswered: tuple[int, ...]
    self_score: float
    max_score: float

    @property
    def complete(self) -> bool:
        """Ready to submit: every required item answered, every required proof given."""
        return not self.missing_required and not self.missing_evidence


def is_answered(state: AnswerState | None) -> bool:
    return state is not None and state.value is not None  # [] is a valid "none of these"


def item_self_score(
    item: ProgressItem, state: AnswerState | None, hand: Mapping[int, float] | None = None
) -> float:
    """An answered item's self-score: its rule's, or for an item scored by hand the score
    the unit proposed (tự chấm), 0 until it has."""
    if not is_answered(state):
        return 0.0
    assert state is not None
    if is_by_hand(item):
        return min(item.points, max(0.0, (hand or {}).get(item.id, 0.0)))
    return score(item, state.value)


def compute_progress(
    items: Sequence[ProgressItem],
    answers: Mapping[int, AnswerState],
    hand: Mapping[int, float] | None = None,
) -> Progress:
    """`hand`: item id -> self-score of the items scored by hand (storage.services.self_scores)."""
    missing_required, missing_evidence, unanswered = [], [], []
    total_score = 0.0
    for item in items:
        state = answers.get(item.id)
        if not is_answered(state):
            unanswered.append(item.id)
            if item.required:
                missing_required.append(item.id)
            continue
        assert state is not None
        if item.evidence == "required" and state.evidence_count == 0 and not state.note:
            missing_evidence.append(item.id)
        total_score += item_self_score(item, state, hand)
    return Progress(
        total=len(items),
        answered=len(items) - len(unanswered),
        missing_required=tuple(missing_required),
        missing_evidence=tuple(missing_evidence),
        unanswered=tuple(unanswered),
        self_score=round(total_score, 4),
        max_score=round(sum(item.points for item in items), 4),
    )
