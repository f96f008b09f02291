"""Every problem a campaign document can have, and how one reads in the admin's language.

A problem's text is the catalog's `campaign_file.problem.<code>`; `PROBLEM_PARAMS` names
its placeholders (tests/test_locales.py checks each text against them). The scoring and
timing rules report their own codes, merged in here because this reader shows them.
"""

from __future__ import annotations

from storage.formats.campaign_spec import Problem
from storage.rules import scoring, timing_forms
from storage.rules.answers import Translate

PROBLEM_PARAMS: dict[str, tuple[str, ...]] = {
    **scoring.PROBLEM_PARAMS,
    **timing_forms.PROBLEM_PARAMS,
    "cannot_read": ("detail",),
    "not_utf8": (),
    "yaml_syntax": ("detail",),
    "yaml_tab": (),
    "duplicate_key": ("key",),
    "empty_file": (),
    "missing_key": ("key",),
    "unknown_key_did_you_mean": ("key", "suggestion"),
    "expected_text": (),
    "expected_number": (),
    "expected_integer": (),
    "expected_bool": (),
    "expected_list": (),
    "empty_text": (),
    "empty_list": (),
    "empty_checklist": (),
    "empty_section": (),
    "bad_code": ("value",),
    "ambiguous_code": ("value",),
    "duplicate_code": ("code", "first"),
    "bad_datetime": ("value",),
    "visit_needs_time": (),
    "bad_timezone": ("value",),
    "unknown_team": ("team", "known"),
    "bad_item_type": ("value", "allowed"),
    "bad_form": ("value", "allowed"),
    "bad_evidence": ("value", "allowed"),
    "options_required": (),
    "options_too_few": (),
    "options_not_allowed": ("type",),
    "duplicate_option": ("option",),
    "not_positive": ("value",),
    "negative": ("value",),
    "too_many": ("value", "max"),
    "min_above_max": ("min", "max"),
    "not_for_type": ("key", "type"),
    "percent_bound": ("value",),
    "visit_form_mismatch": ("form",),
    "bad_answer_from": ("value", "allowed"),
    "unknown_follow_up": ("code",),
    "bad_score_step": ("value",),
    "points_off_step": ("code", "points", "step"),
}


def format_problem(problem: Problem, tr: Translate) -> str:
    """ "Dòng 12, mục units[3].team: Không có đoàn "D9"..." in the reader's language."""
    message = tr(f"campaign_file.problem.{problem.code}", **problem.params)
    if problem.line is not None and problem.where:
        return tr(
            "campaign_file.problem_at", line=problem.line, where=problem.where, message=message
        )
    if problem.line is not None:
        return tr("campaign_file.problem_line", line=problem.line, message=message)
    if problem.where:
        return tr("campaign_file.problem_at_key", where=problem.where, message=message)
    return message
