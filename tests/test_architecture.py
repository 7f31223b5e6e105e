"""The layout of the code (docs/ARCHITECTURE.md): rooms per capability, imports one way only.

The three layer contracts are import-linter's (``lint-imports`` in CI); these tests check what
a forbidden-import contract cannot: that no engine module imports another that imports it back,
and that the rooms the architecture names exist.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_planted_cycle_and_nothing_else():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(edges) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.fixture(scope="module")
def import_graph() -> grimp.ImportGraph:
    return grimp.build_graph("engines", "widgets", "workbench")


def _internal_edges(graph: grimp.ImportGraph, package: str) -> dict[str, set[str]]:
    # Imports between modules of one package, imports inside functions included. A package's
    # __init__ importing its own children is how a package is put together, not a cycle.
    edges: dict[str, set[str]] = {}
    for module in graph.find_children(package) | graph.find_descendants(package) | {package}:
        targets = {
            m for m in graph.find_modules_directly_imported_by(module)
            if (m == package or m.startswith(package + "."))
            and not m.startswith(module + ".")
        }
        edges[module] = targets
    return edges


@pytest.mark.parametrize("package", ["engines", "widgets", "workbench"])
def test_no_module_imports_one_that_imports_it_back(import_graph, package):
    assert _cycles(_internal_edges(import_graph, package)) == []


def test_the_catalog_does_not_import_the_layer_definitions(import_graph):
    # the catalog is filled by registration (engines/__init__ imports engines.layers)
    assert "engines.layers" not in import_graph.find_modules_directly_imported_by("engines.catalog")
    assert "engines.graph" not in import_graph.find_modules_directly_imported_by("engines.catalog")


def test_the_catalog_is_filled_by_importing_the_engines_package():
    from engines.catalog import LAYERS, get_layer

    assert get_layer("linear").id == "linear"
    assert {"input", "output", "conv2d", "lstm", "self_attention"} <= set(LAYERS)


@pytest.mark.parametrize(
    "room",
    [
        "widgets/graph", "widgets/training", "widgets/data", "widgets/explain",
        "widgets/fairness", "widgets/activations", "widgets/common", "widgets/audit",
        "workbench/core", "workbench/gui",
    ],
)
def test_every_room_named_in_the_architecture_exists_and_is_described(room):
    init = ROOT / room / "__init__.py"
    assert init.is_file(), f"{room} is not a package"
    assert init.read_text(encoding="utf-8").strip().startswith('"""'), f"{room} has no docstring"
    assert f"`{room}/" in (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")


def test_widgets_and_workbench_hold_no_loose_modules_but_their_entry_points():
    loose_widgets = sorted(p.name for p in (ROOT / "widgets").glob("*.py"))
    assert loose_widgets == ["__init__.py"]
    loose_workbench = sorted(p.name for p in (ROOT / "workbench").glob("*.py"))
    assert loose_workbench == ["__init__.py", "__main__.py", "cli.py", "launcher.py"]


def test_every_headless_module_imports_in_a_process_where_qt_cannot_be_imported():
    # workbench.core and the CLI must work on a machine with no Qt at all
    code = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        sys.modules["PySide6"] = None  # any import of PySide6 or pyqtgraph now fails
        sys.modules["pyqtgraph"] = None
        import workbench.core as core
        import workbench.cli
        names = [m.name for m in pkgutil.iter_modules(core.__path__)]
        for name in names:
            importlib.import_module("workbench.core." + name)
        print(",".join(sorted(names)))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    names = set(done.stdout.strip().split(","))
    assert {"project", "migrations", "session", "analysis", "panel_data", "demo"} <= names
