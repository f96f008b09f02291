"""A scoring rule in one cell: the Excel spelling, read into the YAML value
(`scoring_value`) and written from the normalised rule (`rule_text`)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from storage.rules.scoring import plain

# The scoring forms as the guide lists them: name, rule it normalises to, example.
SCORING_FORMS = (
    ("yes", "yes", "yes"),
    ("answered", "answered", "answered"),
    ("thresholds", "at_least", "thresholds: 90=2; 70=1"),
    ("at_most", "at_most", "at_most: 0=1; 2=0,5"),
    ("on_or_before", "on_or_before", "on_or_before: 31/12/2020; late=0,5"),
    ("choices", "choices", "choices: Đã áp dụng=0,5; Đang xây dựng=0,25"),
    ("each", "each", "each: 0,25"),
    ("proportional", "proportional", "proportional: 70"),
)


def scoring_value(text: str) -> tuple[Any, list[str]]:
    """The Excel spelling of a rule as the YAML value `parse_scoring` reads, and the keys
    written twice.

        yes | answered                           -> "yes" | "answered"
        thresholds: 90=2; 70=1                   -> {"thresholds": {"90": "2", "70": "1"}}
        on_or_before: 31/12/2020; late=0,5       -> {"on_or_before": "31/12/2020", "late": "0,5"}
        each: 0,25                               -> {"each": "0,25"}
        {thresholds: {90: 2}}                    -> the YAML flow form, copied from a file

    Steps are threshold=points separated by ";"; a part without "=" is the form's own value,
    and "key=value" parts next to it are its extra keys (late).
    """
    text = text.strip()
    if text.startswith("{"):
        try:
            return YAML(typ="safe").load(text), []
        except YAMLError:
            return text, []
    form, colon, body = text.partition(":")
    if not colon:
        return text, []
    pairs: dict[str, str] = {}
    repeated: list[str] = []
    values: list[str] = []
    for part in (p.strip() for p in re.split(r"[;\n]", body)):
        key, equals, value = part.rpartition("=")  # option texts may hold "=", points not
        if equals and key.strip() in pairs:
            repeated.append(key.strip())
        if equals:
            pairs[key.strip()] = value.strip()
        elif part:
            values.append(part)
    form = form.strip()
    if not values:
        return {form: pairs}, repeated
    return {form: "; ".join(values), **pairs}, repeated


def number_text(number: float) -> str:
    """1.125 -> "1,125": a decimal comma, which the readers never take for thousands."""
    return str(plain(number)).replace(".", ",")


def rule_text(rule: dict[str, Any] | None) -> str:
    """A normalised scoring rule in the Excel spelling (see `scoring_value`)."""
    if rule is None:
        return ""
    name = rule["rule"]
    if name in ("yes", "answered"):
        return str(name)
    if name in ("at_least", "at_most"):
        steps = "; ".join(f"{number_text(t)}={number_text(p)}" for t, p in rule["steps"])
        return f"{'thresholds' if name == 'at_least' else 'at_most'}: {steps}"
    if name == "on_or_before":
        day = date.fromisoformat(rule["date"]).strftime("%d/%m/%Y")
        late = f"; late={number_text(rule['late'])}" if rule.get("late") else ""
        return f"on_or_before: {day}{late}"
    if name == "choices":
        gains = "; ".join(f"{o}={number_text(p)}" for o, p in rule["points"].items())
        return f"choices: {gains}"
    if name == "each":
        return f"each: {number_text(rule['points'])}"
    return f"proportional: {number_text(rule['target'])}"
