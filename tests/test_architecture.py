"""The import rules of docs/architecture.md, checked on the source (function-level imports too)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sweeplab"
MAX_LINES = 400

ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "engine": set(),
    "spec": {"errors"},
    "data": {"errors"},
    "search": {"spec", "errors"},
    "compat": {"spec", "errors"},
    "store": {"spec", "errors"},
    "analysis": {"store", "spec", "errors"},
    "track": {"store", "spec", "errors"},
    "report": {"analysis", "store", "spec", "errors"},
    "study": {
        "analysis",
        "compat",
        "data",
        "engine",
        "errors",
        "search",
        "spec",
        "store",
        "track",
    },
    "backends": {"study", "spec", "store", "errors"},
    "cli": {
        "analysis",
        "backends",
        "compat",
        "errors",
        "report",
        "spec",
        "store",
        "study",
        "track",
    },
}
"""Which rooms each room may import: the flow spec → search/data/engine → study → cli."""


def _room(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 else rel.stem


def _sources() -> Iterator[Path]:
    yield from sorted(SRC.rglob("*.py"))


def _imports(path: Path) -> Iterator[tuple[str, list[str], int]]:
    """``(module, imported names, line)`` of every sweeplab import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "sweeplab":
                yield node.module, [a.name for a in node.names], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sweeplab":
                    yield alias.name, [], node.lineno


def _target_room(module: str, names: list[str]) -> list[str]:
    parts = module.split(".")
    if len(parts) > 1:
        return [parts[1]]
    return names  # ``from sweeplab import errors`` or ``import sweeplab``


def test_every_room_is_listed() -> None:
    rooms = {_room(p) for p in _sources()} - {"__init__", "__main__"}
    assert rooms == set(ALLOWED)


def test_rooms_import_only_what_the_architecture_allows() -> None:
    bad = []
    for path in _sources():
        room = _room(path)
        if room in ("__init__", "__main__"):
            continue
        for module, names, line in _imports(path):
            for target in _target_room(module, names):
                if target != room and target not in ALLOWED[room]:
                    bad.append(f"{path.relative_to(SRC)}:{line} imports {module} ({target})")
    assert not bad, "\n".join(bad)


def test_the_room_graph_has_no_cycle() -> None:
    graph: dict[str, set[str]] = {room: set() for room in ALLOWED}
    for path in _sources():
        room = _room(path)
        if room not in graph:
            continue
        for module, names, _ in _imports(path):
            graph[room] |= {t for t in _target_room(module, names) if t in graph and t != room}
    seen: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if seen.get(node) == 1:
            pytest.fail(f"import cycle: {' -> '.join([*trail, node])}")
        if seen.get(node) == 2:
            return
        seen[node] = 1
        for nxt in sorted(graph[node]):
            visit(nxt, [*trail, node])
        seen[node] = 2

    for room in sorted(graph):
        visit(room, [])


def test_no_module_imports_another_rooms_private_names() -> None:
    bad = []
    for path in _sources():
        room = _room(path)
        for module, names, line in _imports(path):
            parts = module.split(".")
            other_room = len(parts) > 1 and parts[1] != room
            private_module = any(p.startswith("_") for p in parts[2:])
            own_modules = {f.stem for f in path.parent.glob("_*.py")} if not other_room else set()
            private_names = [
                n
                for n in names
                if n.startswith("_") and n != "__version__" and n not in own_modules
            ]
            if other_room and (private_module or private_names):
                bad.append(f"{path.relative_to(SRC)}:{line} from {module} import {names}")
            elif private_names:
                bad.append(f"{path.relative_to(SRC)}:{line} imports private {private_names}")
    assert not bad, "\n".join(bad)


def test_no_source_file_is_over_the_size_limit() -> None:
    sizes = {p: len(p.read_text(encoding="utf-8").splitlines()) for p in _sources()}
    big = [f"{p.relative_to(SRC)}: {n} lines" for p, n in sizes.items() if n > MAX_LINES]
    assert not big, "\n".join(big)


def test_one_vocabulary_of_names() -> None:
    """The engine is a leaf with its own implementations; their names are the spec's."""
    from sweeplab import engine, spec
    from sweeplab.engine import ACTIVATION_FUNCTIONS
    from sweeplab.study._bridge import ACTIVATION_MODULES

    assert tuple(ACTIVATION_FUNCTIONS) == spec.ACTIVATIONS
    assert tuple(ACTIVATION_MODULES) == spec.ACTIVATIONS
    assert tuple(engine.OPTIMIZERS) == spec.OPTIMIZERS
    assert engine.METRIC_NAMES == spec.METRIC_NAMES
    assert {f"val_{m}" for m in spec.METRIC_NAMES} | {"val_loss"} == set(spec.METRICS)
