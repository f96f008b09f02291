"""Imports point one way (bot → schedules → handlers → storage → common) and no modules
import each other in a circle.

The walk reads the source with `ast`, so it sees every import: at the top, inside
functions (lazy imports) and under `if TYPE_CHECKING:`; nothing is imported to check.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT

# Highest first: a package may import itself and anything after it, never before it.
LAYERS = ("bot", "schedules", "handlers", "storage", "common")

# Cycles allowed on purpose, each as the exact set of its modules. None today: the CLI's
# commands register on the group of bot/cli_root.py, and bot/cli.py imports them all (no
# command module imports bot/cli.py back).
ALLOWED_CYCLES: frozenset[frozenset[str]] = frozenset()


@dataclass(frozen=True)
class Edge:
    source: str  # the importing module
    target: str  # the imported module (or the package, for a name it defines)
    line: int

    def __str__(self) -> str:
        return f"{self.source} (line {self.line}) imports {self.target}"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Every module of `packages` under `root`, by dotted name."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            found[module_name(root, path)] = path
    return found


def _base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a `from ... import` reads from, relative imports resolved."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    anchor = package[: len(package) - (node.level - 1)]
    return ".".join([*anchor, node.module] if node.module else anchor)


def _targets(
    node: ast.AST, module: str, is_package: bool, modules: Collection[str]
) -> Iterator[str]:
    """The project modules one statement imports: `import a.b` -> a.b; `from a import b`
    -> a.b when b is a module, else a (the module that defines the name b)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names if alias.name in modules)
    elif isinstance(node, ast.ImportFrom):
        base = _base(node, module, is_package)
        for alias in node.names:
            if f"{base}.{alias.name}" in modules:
                yield f"{base}.{alias.name}"
            elif base in modules:
                yield base


def import_edges(modules: Mapping[str, Path]) -> list[Edge]:
    """The imports between `modules`, one edge per statement and target."""
    edges: set[Edge] = set()
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            for target in _targets(node, module, is_package, modules):
                if target != module:
                    edges.add(Edge(module, target, getattr(node, "lineno", 0)))
    return sorted(edges, key=lambda e: (e.source, e.line, e.target))


def layer_of(module: str, layers: tuple[str, ...]) -> int:
    return layers.index(module.split(".")[0])


def upward(edges: Iterable[Edge], layers: tuple[str, ...] = LAYERS) -> list[Edge]:
    """Imports from a lower layer into a higher one."""
    return [e for e in edges if layer_of(e.target, layers) < layer_of(e.source, layers)]


def cycles(edges: Iterable[Edge]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm,
    iterative), each sorted, in name order."""
    graph: dict[str, list[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, []).append(edge.target)
        graph.setdefault(edge.target, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return sorted(found)


def describe_cycle(component: list[str], edges: Iterable[Edge]) -> str:
    members = set(component)
    inside = [str(e) for e in edges if e.source in members and e.target in members]
    return " <-> ".join(component) + "\n    " + "\n    ".join(inside)


def problems(
    root: Path,
    layers: tuple[str, ...] = LAYERS,
    allowed_cycles: frozenset[frozenset[str]] = frozenset(),
) -> list[str]:
    """Every upward import and every cycle under `root`, as readable lines."""
    edges = import_edges(find_modules(root, layers))
    found = [f"upward: {edge}" for edge in upward(edges, layers)]
    found += [
        f"cycle: {describe_cycle(c, edges)}"
        for c in cycles(edges)
        if frozenset(c) not in allowed_cycles
    ]
    return found


# -- the project -----------------------------------------------------------------------------


def test_imports_point_down_and_never_in_a_circle() -> None:
    found = problems(ROOT, LAYERS, ALLOWED_CYCLES)
    assert not found, "\n".join(found)


def test_the_walk_sees_the_project() -> None:
    """A guard for the guard: the walk finds the modules and their imports, lazy ones too."""
    modules = find_modules(ROOT, LAYERS)
    assert {
        "bot.cli",
        "schedules.scheduler",
        "handlers.dispatcher",
        "storage.db.models",
        "common.messages",
    } <= set(modules)
    edges = import_edges(modules)
    targets = {(e.source, e.target) for e in edges}
    assert ("schedules.scheduler", "schedules.reminders") in targets  # at the top
    assert ("schedules.scheduler", "schedules.summaries") in targets  # inside a function
    assert {e.source.split(".")[0] for e in edges} >= {"bot", "schedules", "handlers", "storage"}


# -- the checker itself, on a package tree of its own -----------------------------------------


def _tree(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


TOY_LAYERS = ("top", "low")


def test_an_upward_import_is_found_even_lazy_or_for_typing(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "top/__init__.py": "",
            "top/job.py": "from low.data import rows\n",
            "low/__init__.py": "",
            "low/data.py": "def rows():\n    from top import job\n    return job\n",
            "low/types.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import top.job\n"
            ),
        },
    )
    assert problems(root, TOY_LAYERS) == [
        "upward: low.data (line 2) imports top.job",
        "upward: low.types (line 3) imports top.job",
        "cycle: low.data <-> top.job\n    low.data (line 2) imports top.job\n"
        "    top.job (line 1) imports low.data",
    ]


def test_a_cycle_within_one_layer_is_found_and_named(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/a.py": "from . import b\n",
            "low/b.py": "from low.c import thing\n",
            "low/c.py": "import low.a\nthing = 1\n",
            "low/d.py": "from low import a, c\n",  # imports two of them: not part of the cycle
        },
    )
    edges = import_edges(find_modules(root, ("low",)))
    assert cycles(edges) == [["low.a", "low.b", "low.c"]]
    assert problems(root, ("low",), frozenset({frozenset({"low.a", "low.b", "low.c"})})) == []


def test_a_downward_import_and_a_name_from_a_package_are_fine(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "top/__init__.py": "",
            "top/job.py": "from low import helper\nfrom low.data import rows\n",
            "low/__init__.py": "helper = 1\n",
            "low/data.py": "import os\nrows = []\n",
        },
    )
    edges = import_edges(find_modules(root, TOY_LAYERS))
    assert [str(e) for e in edges] == [
        "top.job (line 1) imports low",
        "top.job (line 2) imports low.data",
    ]
    assert problems(root, TOY_LAYERS) == []
