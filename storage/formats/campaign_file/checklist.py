"""The `checklist` of a campaign document: sections of items, each item's answer type,
options, bounds and scoring rule (judged by storage/rules/scoring.py)."""

from __future__ import annotations

from typing import Any

from storage.formats.campaign_file import values
from storage.formats.campaign_file.nodes import Codes, Node, Value, line_at, mapping, seq
from storage.formats.campaign_file.roster import unique_code
from storage.formats.campaign_spec import (
    AnswerSource,
    EvidencePolicy,
    ItemSpec,
    ItemType,
    SectionSpec,
)
from storage.rules import scoring
from storage.rules.answers import fold

SECTION_KEYS = ("section", "items")
ITEM_KEYS = (
    "code",
    "text",
    "help",
    "type",
    "options",
    "required",
    "evidence",
    "points",
    "scoring",
    "min",
    "max",
    "max_length",
    "answer_from",
)


def read_checklist(root: Node) -> list[SectionSpec]:
    codes = Codes(root.doc)  # item codes are unique across sections
    sections = []
    for entry in root.entries("checklist", "empty_checklist"):
        node = mapping(root.doc, entry, SECTION_KEYS)
        if node is None:
            continue
        title = node.required("section", values.text)
        items = [
            i
            for e in node.entries("items", "empty_section")
            if (i := _item(node, e, codes)) is not None
        ]
        if title:
            sections.append(SectionSpec(title, tuple(items)))
    return sections


def _item(section: Node, entry: Value, codes: Codes) -> ItemSpec | None:
    doc = section.doc
    node = mapping(doc, entry, ITEM_KEYS)
    if node is None:
        return None
    code = unique_code(node, codes)
    text = node.required("text", values.text)
    type_value = node.require("type")
    kind = values.choice(doc, type_value, ItemType, "bad_item_type") if type_value else None
    help_text = node.optional("help", values.text_or_empty) or ""
    required = values.boolean(doc, node.get("required"), True)
    evidence_value = node.get("evidence")
    evidence = (
        values.choice(doc, evidence_value, EvidencePolicy, "bad_evidence")
        if evidence_value
        else EvidencePolicy.NONE
    )
    points = _points(node)
    options = _options(node, kind)
    low, high = _range(node, kind)
    max_length = _max_length(node, kind)
    rule, rule_ok = _scoring(node, kind, points, options)
    answer_from, source_ok = _answer_from(node, kind)
    if None in (code, text, kind, required, evidence, points, options) or not rule_ok:
        return None
    if not source_ok:
        return None
    assert code and text and kind and evidence and options is not None
    return ItemSpec(
        code=code,
        text=text,
        type=kind,
        help=help_text,
        options=options,
        required=bool(required),
        evidence=evidence,
        points=points or 0.0,
        scoring=rule,
        min=low,
        max=high,
        max_length=max_length,
        answer_from=answer_from,
    )


def _answer_from(node: Node, kind: ItemType | None) -> tuple[str | None, bool]:
    """`answer_from: remediation_rate`: a percent item answered from the earlier campaign."""
    value = node.get("answer_from")
    if value is None:
        return None, True
    source = values.choice(node.doc, value, AnswerSource, "bad_answer_from")
    if source is None:
        return None, False
    if kind is not None and kind != ItemType.PERCENT:
        node.doc.add("not_for_type", value.where, value.line, key="answer_from", type=kind.value)
        return None, False
    return source.value, True


def _points(node: Node) -> float | None:
    value = node.get("points")
    if value is None:
        return 0.0
    points = values.number(node.doc, value)
    if points is not None and points < 0:
        node.doc.add("negative", value.where, value.line, value=scoring.plain(points))
        return None
    return points


def _options(node: Node, kind: ItemType | None) -> tuple[str, ...] | None:
    doc, value = node.doc, node.get("options")
    entries = seq(doc, value)
    if value is not None and entries is None:
        return None
    texts = [t for e in entries or [] if (t := values.text(doc, e)) is not None]
    if len(texts) != len(entries or []):
        return None
    needs = kind in (ItemType.CHOICE, ItemType.MULTI)
    where, line = node.path("options"), value.line if value else node.key_line("options")
    if needs and not texts:
        doc.add("options_required", where, line)
        return None
    if needs and len(texts) < 2:
        doc.add("options_too_few", where, line)
        return None
    if kind is not None and not needs and texts:
        doc.add("options_not_allowed", where, line, type=kind.value)
        return None
    return _unique_options(node, texts, entries or [])


def _unique_options(node: Node, texts: list[str], entries: list[Value]) -> tuple[str, ...] | None:
    seen: set[str] = set()
    for text, entry in zip(texts, entries, strict=True):
        # buttons and typed answers match options without accents, so those must differ
        if fold(text) in seen:
            node.doc.add("duplicate_option", entry.where, entry.line, option=text)
            return None
        seen.add(fold(text))
    return tuple(texts)


def _range(node: Node, kind: ItemType | None) -> tuple[float | None, float | None]:
    doc, bounds = node.doc, []
    for key in ("min", "max"):
        value = node.get(key)
        number = values.number(doc, value) if value is not None else None
        if value is not None and kind not in (ItemType.NUMBER, ItemType.PERCENT, None):
            doc.add("not_for_type", value.where, value.line, key=key, type=str(kind))
            number = None
        elif number is not None and kind is ItemType.PERCENT and not 0 <= number <= 100:
            assert value is not None
            doc.add("percent_bound", value.where, value.line, value=scoring.plain(number))
            number = None
        bounds.append(number)
    low, high = bounds
    if low is not None and high is not None and low > high:
        doc.add(
            "min_above_max",
            node.path("min"),
            node.key_line("min"),
            min=scoring.plain(low),
            max=scoring.plain(high),
        )
    return low, high


def _max_length(node: Node, kind: ItemType | None) -> int | None:
    value = node.get("max_length")
    if value is None:
        return None
    if kind not in (ItemType.TEXT, None):
        node.doc.add("not_for_type", value.where, value.line, key="max_length", type=str(kind))
        return None
    return values.count_or(node.doc, value, None, minimum=1, maximum=None)


def _scoring(
    node: Node, kind: ItemType | None, points: float | None, options: tuple[str, ...] | None
) -> tuple[dict[str, Any] | None, bool]:
    """(the normalised rule or None when not scored, whether the rule is fine)."""
    if kind is None or points is None or options is None:
        return None, False  # the item's own problems are reported; no rule to judge
    value = node.get("scoring")
    rule, problems = scoring.parse_scoring(kind, points, value.raw if value else None, options)
    for problem in problems:
        where, line = _locate(node, value, problem.path)
        node.doc.add(problem.code, where, line, **problem.params)
    return rule, not problems


def _locate(item: Node, value: Value | None, path: tuple[Any, ...]) -> tuple[str, int | None]:
    """Where a scoring problem is: follow its raw keys into the `scoring:` node."""
    if value is None:  # no rule written: point at the item
        return item.path("scoring"), item.line
    where, line, node = value.where, value.line, value.raw
    for key in path:
        if not isinstance(node, dict) or key not in node:
            break
        where = f"{where}.{key}"
        line = line_at(node, key, of_value=node[key] is not None)
        node = node[key]
    return where, line
