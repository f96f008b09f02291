"""A campaign document being read: each value with its place, and the problems found so far.

A document is either YAML loaded round-trip (ruamel's CommentedMap and CommentedSeq, which
know their lines through their public `lc`) or plain dicts and lists built by another
reader (the Excel workbook); then a place is a path only (`units[3].team`), without a line.
Everything that asks ruamel where a value was written is in this module.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from ruamel.yaml.comments import CommentedMap

from storage.formats.campaign_file.problems import PROBLEM_PARAMS
from storage.formats.campaign_spec import Problem

T = TypeVar("T")


class Doc:
    """The problems found so far, and the source lines (to read a scalar as it was typed)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.problems: list[Problem] = []

    def add(self, code: str, where: str, line: int | None, /, **params: Any) -> None:
        assert set(params) == set(PROBLEM_PARAMS[code]), code  # keeps the catalog honest
        self.problems.append(Problem(code, where, line, params))

    def token(self, line: int, col: int) -> str:
        """The scalar as typed at a 0-based position ("1.10", not the float 1.1)."""
        found = re.match(r"[^\s,\]}#]+", self.lines[line][col:]) if line < len(self.lines) else None
        return found[0] if found else ""


# --- where things were written ----------------------------------------------------------------


def position(data: dict[Any, Any], key: Any, *, of_value: bool) -> tuple[int, int] | None:
    """0-based (line, col) of a key or its value; a key merged in with `<<: *anchor` is
    found where the anchor wrote it. None for a document built in code (no YAML lines)."""
    lc = getattr(data, "lc", None)
    if lc is None:
        return None
    if key in (lc.data or {}):
        return lc.value(key) if of_value else lc.key(key)
    merged_from = data.merge if isinstance(data, CommentedMap) else []
    for merged in merged_from:
        source = merged[1] if isinstance(merged, tuple) else merged
        if isinstance(source, CommentedMap) and key in source:
            return position(source, key, of_value=of_value)
    return (lc.line or 0), (lc.col or 0)


def line_at(data: dict[Any, Any], key: Any, *, of_value: bool) -> int | None:
    """1-based line of a key or its value, when the document has lines."""
    found = position(data, key, of_value=of_value)
    return found[0] + 1 if found is not None else None


def node_line(node: Any) -> int | None:
    """1-based line where a mapping or list starts, when the document has lines."""
    lc = getattr(node, "lc", None)
    return lc.line + 1 if lc is not None and lc.line is not None else None


def _item_position(seq: list[Any], index: int) -> tuple[int | None, int | None]:
    """1-based line and 0-based col of a list item; (None, None) for a list built in code."""
    lc = getattr(seq, "lc", None)
    if lc is None:
        return None, None
    line, col = lc.item(index)
    return line + 1, col


# --- values and mappings with their places ------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """A scalar or node with its place: path into the document, 1-based line, 0-based col."""

    raw: Any
    where: str
    line: int | None
    col: int | None = None


Reader = Callable[[Doc, Value], T | None]  # reads a value, or records why not and gives None


class Node:
    """A mapping of the document with its path, reading values and recording problems."""

    def __init__(self, doc: Doc, data: dict[Any, Any], where: str, line: int | None) -> None:
        self.doc, self.data, self.where, self.line = doc, data, where, line

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def check_keys(self, allowed: Iterable[str]) -> None:
        allowed = list(allowed)
        for key in self.data:
            name = str(key)
            # "x-..." at the top holds YAML anchors for reuse (`<<: *unit`), as in compose files
            if name in allowed or (not self.where and name.startswith("x-")):
                continue
            line = line_at(self.data, key, of_value=False)
            close = difflib.get_close_matches(name.lower(), allowed, n=1, cutoff=0.6)
            if close:
                self.doc.add(
                    "unknown_key_did_you_mean", self.path(name), line, key=name, suggestion=close[0]
                )
            else:
                self.doc.add("unknown_key", self.path(name), line, key=name)

    def present(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str) -> Value | None:
        """The value under `key`; None when absent or null (so defaults apply)."""
        if self.data.get(key) is None:
            return None
        found = position(self.data, key, of_value=True)
        line, col = (found[0] + 1, found[1]) if found is not None else (None, None)
        return Value(self.data[key], self.path(key), line, col)

    def key_line(self, key: str) -> int | None:
        if key not in self.data:
            return self.line
        return line_at(self.data, key, of_value=False)

    def require(self, key: str) -> Value | None:
        value = self.get(key)
        if value is None:
            self.doc.add("missing_key", self.path(key), self.key_line(key), key=key)
        return value

    def required(self, key: str, reader: Reader[T]) -> T | None:
        """The value of a required key, read; None (recorded) when missing or wrong."""
        value = self.require(key)
        return reader(self.doc, value) if value is not None else None

    def optional(self, key: str, reader: Reader[T]) -> T | None:
        """The value of an optional key, read; None when absent or wrong (recorded)."""
        value = self.get(key)
        return reader(self.doc, value) if value is not None else None

    def entries(self, key: str, empty_code: str = "empty_list") -> list[Value]:
        """The items of a required, non-empty list."""
        value = self.require(key)
        items = seq(self.doc, value)
        if value is not None and items == []:
            self.doc.add(empty_code, value.where, value.line)
        return items or []


def seq(doc: Doc, value: Value | None) -> list[Value] | None:
    """The items of a list with their places; None (recorded) if not a list."""
    if value is None:
        return None
    if not isinstance(value.raw, list):  # a CommentedSeq, or a plain list built in code
        doc.add("expected_list", value.where, value.line)
        return None
    items = []
    for i, raw in enumerate(value.raw):
        line, col = _item_position(value.raw, i)
        items.append(Value(raw, f"{value.where}[{i}]", line, col))
    return items


def mapping(doc: Doc, value: Value, allowed: Iterable[str]) -> Node | None:
    """A value that must be a mapping of the `allowed` keys; None (recorded) if not one."""
    if not isinstance(value.raw, dict):  # a CommentedMap, or a plain dict built in code
        doc.add("expected_mapping", value.where, value.line)
        return None
    node = Node(doc, value.raw, value.where, value.line)
    node.check_keys(allowed)
    return node


class Codes:
    """Codes seen so far in one namespace, case-insensitive: "snv" repeats "SNV"."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.seen: dict[str, tuple[str, str]] = {}  # folded code -> (code, where first)

    def add(self, code: str, value: Value) -> bool:
        key = code.casefold()
        if key in self.seen:
            self.doc.add(
                "duplicate_code", value.where, value.line, code=code, first=self.seen[key][1]
            )
            return False
        self.seen[key] = (code, value.where)
        return True
