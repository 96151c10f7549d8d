"""The import graph of the packages: no import circles, and no module imports a layer above its own.

Every ``import`` counts, at module level or inside a function: a lazy import that dodges a circle is still one.
Layers, bottom to top, are listed in ``docs/architecture.md``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ecomflow", "ml", "dags", "plugins")

# Module-name prefixes of each layer, bottom (0) to top; the longest matching prefix decides.
LAYERS: dict[str, int] = {
    "ecomflow": 0,  # the empty package itself
    "ecomflow.core": 0,
    "ecomflow.sources": 1,
    "ecomflow.ingest": 1,
    "ecomflow.transform": 1,
    "ecomflow.local": 1,
    "ml": 2,
    "ecomflow.orchestration": 3,
    "ecomflow.assets": 3,
    "ecomflow.cli": 4,
    "ecomflow.demo": 4,
    "dags": 4,
    "plugins": 4,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the packages, by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _imported(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    """Each module's imports of other modules of the packages (``from a import b`` counts ``a.b`` if a module)."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = {target for target in _imported(ast.parse(path.read_text(), str(path))) if target in known}
        graph[name] = targets - {name}
    return graph


def layer(module: str) -> int:
    prefixes = [p for p in LAYERS if module == p or module.startswith(p + ".")]
    if not prefixes:
        raise KeyError(f"{module} is in no layer: add its package to LAYERS and to docs/architecture.md")
    return LAYERS[max(prefixes, key=len)]


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or through others (each group sorted)."""
    reach = {node: _reachable(graph, node) for node in graph}
    groups = {tuple(sorted(n for n in graph if n in reach[node] and node in reach[n])) for node in graph}
    return sorted(list(group) for group in groups if group)


def test_the_checks_catch_a_circle_and_an_upward_import():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer("ecomflow.core.warehouse") < layer("ml.scoring") < layer("ecomflow.orchestration") < layer("dags.x")


def test_there_are_no_import_circles():
    assert cycles(import_graph()) == []


def test_every_module_belongs_to_a_layer():
    for module in modules():
        layer(module)


@pytest.mark.parametrize("module", sorted(modules()))
def test_no_module_imports_a_layer_above_its_own(module):
    graph = import_graph()
    upward = sorted(target for target in graph[module] if layer(target) > layer(module))
    assert upward == [], f"{module} (layer {layer(module)}) imports {upward} from above"


KINDS = {"e2e", "deploy", "ui", "dbt"}  # tests by kind; every other folder mirrors a package


def test_test_folders_mirror_the_packages():
    """``tests/<x>/`` tests ``ecomflow/<x>/``, ``ml/...``, ``dags/`` or ``plugins/``; or it is a kind (KINDS)."""
    tests = ROOT / "tests"
    strays = []
    for folder in sorted(p for p in tests.rglob("*") if p.is_dir() and p.name != "__pycache__"):
        relative = folder.relative_to(tests)
        if relative.parts[0] in KINDS or (relative.parts[0] == "plugins" and "dags" in relative.parts):
            continue
        mirrored = [ROOT / "ecomflow" / relative, ROOT / relative]
        if not any(path.is_dir() for path in mirrored):
            strays.append(str(relative))
    assert strays == [], f"test folders that mirror no package: {strays}"
