"""The shape of the package: its import graph has no circles, between rooms or inside the engine.

A room is a top-level module of ``curate`` or a top-level folder (``curate/engine``
counts as one room). Every import counts, lazy ones inside functions included, since
they tie modules together as much as the ones at the top. Without circles the rooms
stack into floors, and nothing imports a room above its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from curate.engine.code import _imported_names

PACKAGE = Path(__file__).resolve().parents[1] / "curate"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The curate modules that ``path`` imports (``from curate.x import y`` counts y when y is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return _imported_names(tree, module_name(path), path.name == "__init__.py") & known


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imported_modules(path, set(files)) - {name} for name, path in files.items()}


def room(module: str, depth: int) -> str:
    return ".".join(module.split(".")[: depth + 1])


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def collapse(edges: dict[str, set[str]], keep: str | None, depth: int) -> dict[str, set[str]]:
    """The graph between rooms (``keep`` None) or between the modules under ``keep``."""
    out: dict[str, set[str]] = {}
    for source, targets in edges.items():
        if keep is not None and not source.startswith(keep + "."):
            continue
        a = room(source, depth)
        for target in targets:
            if keep is not None and not target.startswith(keep + "."):
                continue
            b = room(target, depth)
            if a != b and a != "curate" and b != "curate":
                out.setdefault(a, set()).add(b)
        out.setdefault(a, set())
    return out


def test_the_helpers_find_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_lazy_and_relative_imports_count():
    edges = graph()
    assert "curate.hashing" in edges["curate.manifest"]
    assert "curate.engine.stall" in edges["curate.runner"]


@pytest.mark.parametrize("keep, depth", [(None, 1), ("curate.engine", 2), ("curate.feed", 2)])
def test_no_circles(keep, depth):
    assert circles(collapse(graph(), keep, depth)) == []


@pytest.mark.parametrize("module", ["curate.errors", "curate.hashing"])
def test_the_ground_floor_imports_nothing_of_curate(module):
    assert graph()[module] == set()
