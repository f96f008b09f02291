"""The campaign file itself: bytes -> UTF-8 text -> YAML that remembers its lines -> checked.

YAML is loaded round-trip (ruamel), so every key and value keeps its line and column for
the problems; an error of the YAML itself (syntax, a tab, a key written twice) stops
reading there, as nothing after it can be trusted.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.constructor import DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from storage.formats.campaign_file.document import read_campaign
from storage.formats.campaign_file.nodes import Doc, Node, node_line
from storage.formats.campaign_spec import CampaignSpec, Problem


def load_campaign_file(path: str | Path) -> tuple[CampaignSpec | None, list[Problem]]:
    """Read and check a campaign file; (spec, []) or (None, every problem found)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [Problem("cannot_read", "", None, {"detail": exc.strerror or str(exc)})]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [Problem("not_utf8", "", line)]
    return parse_campaign_text(text, str(path))


def parse_campaign_text(text: str, source_name: str) -> tuple[CampaignSpec | None, list[Problem]]:
    """Check campaign YAML text; `source_name` only names it (for logs and messages)."""
    loaded = _load_yaml(text)
    if isinstance(loaded, Problem):
        return None, [loaded]
    if loaded is None:
        return None, [Problem("empty_file", "", None)]
    doc = Doc(text.splitlines())
    if not isinstance(loaded, CommentedMap):
        doc.add("expected_mapping", "", 1)
        return None, doc.problems
    spec = read_campaign(Node(doc, loaded, "", node_line(loaded)))
    if doc.problems:
        return None, sorted(doc.problems, key=lambda p: p.line or 0)  # in reading order
    return spec, []


class _Constructor(RoundTripConstructor):
    """Round-trip loading that keeps an impossible date (2021-02-31) as its text, so the
    reader reports it with its place instead of the whole load failing."""

    def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
        try:
            return super().construct_yaml_timestamp(node, values)
        except ValueError:
            return self.construct_scalar(node)


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_timestamp)


def _load_yaml(text: str) -> Any | Problem:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    try:
        return yaml.load(text)
    except DuplicateKeyError as exc:
        found = re.search(r'duplicate key "(.*?)"', str(exc.problem))
        return Problem("duplicate_key", "", _mark_line(exc), {"key": found[1] if found else ""})
    except MarkedYAMLError as exc:
        if "'\\t'" in str(exc.problem):
            return Problem("yaml_tab", "", _mark_line(exc))
        detail = " ".join(p for p in (exc.context, exc.problem) if p)
        return Problem("yaml_syntax", "", _mark_line(exc), {"detail": detail})
    except YAMLError as exc:
        return Problem("yaml_syntax", "", None, {"detail": str(exc)})


def _mark_line(exc: MarkedYAMLError) -> int | None:
    mark = exc.problem_mark or exc.context_mark
    return mark.line + 1 if mark is not None else None
