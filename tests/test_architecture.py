"""The package's shape: no module of desktop_app/ imports itself back through others (imports
inside functions included), none imports the test kit (testkit/) or the tests, and every module
opens with a docstring that says what it owns.

Imports are read from the source with `ast`, not by importing: a lazy import inside a function
is a dependency too, it just fails later (a half-initialised module, at the first click) when
it closes a circle. An import of a submodule is an edge to that submodule only, not to the
packages above it that Python runs first: a package's __init__ re-exporting its modules is
not a circle unless one of them imports a name back from the package.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "desktop_app"
TEST_ONLY = ("testkit", "tests")  # top-level packages the product must never import
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Edge:
    """One import statement: `source` imports `target` at `path`:`line`."""

    source: str
    target: str
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.path}:{self.line})"


def package_modules(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of `package` under `root` by dotted name ("desktop_app.ocr" for
    desktop_app/ocr/__init__.py)."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of `name` that is one of `modules` ("desktop_app.ocr.read_text" is
    a name in the desktop_app.ocr package), or None for imports from outside."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_edges(modules: dict[str, Path], root: Path = ROOT) -> list[Edge]:
    """Every import between `modules`, wherever it stands in the file (top level, inside
    functions, under `if TYPE_CHECKING:`), with relative imports resolved."""
    edges = []
    for source, path in modules.items():
        package = source if path.name == "__init__.py" else source.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [_known(alias.name, modules) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in node.names:
                    # `from desktop_app.ocr import reader` imports the module reader; `from
                    # desktop_app.ocr import read_text` imports the package.
                    whole = f"{base}.{alias.name}"
                    targets.append(whole if whole in modules else _known(base, modules))
            for target in targets:
                if target is not None and target != source:
                    edges.append(Edge(source, target, str(path.relative_to(root)), node.lineno))
    return edges


def imports_of(modules: dict[str, Path], forbidden: Iterable[str], root: Path = ROOT) -> list[Edge]:
    """Every absolute import in `modules` of a top-level package in `forbidden` (or a module
    under it), wherever it stands in the file."""
    banned = set(forbidden)
    found = []
    for source, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            found += [Edge(source, name, str(path.relative_to(root)), node.lineno)
                      for name in names if name.split(".")[0] in banned]
    return found


def import_cycles(edges: Iterable[Edge]) -> list[list[Edge]]:
    """The circles of imports: for each strongly connected group of modules (Tarjan), the
    import statements between its members (each of them lies on a circle), sorted by module."""
    graph: dict[str, dict[str, Edge]] = {}
    for edge in edges:
        graph.setdefault(edge.source, {}).setdefault(edge.target, edge)
        graph.setdefault(edge.target, {})
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)

    return [
        sorted((edge for node in group for nxt, edge in graph[node].items() if nxt in group),
               key=lambda edge: (edge.source, edge.target))
        for group in sorted(groups, key=min)
    ]


def _describe(cycles: list[list[Edge]]) -> str:
    return "\n\n".join("\n".join(str(edge) for edge in cycle) for cycle in cycles)


def _cycles_within(prefix: str) -> list[list[Edge]]:
    return [
        cycle
        for cycle in import_cycles(import_edges(package_modules()))
        if any(edge.source == prefix or edge.source.startswith(prefix + ".") for edge in cycle)
    ]


def test_no_import_cycles() -> None:
    cycles = import_cycles(import_edges(package_modules()))
    assert not cycles, f"{len(cycles)} import circle(s) in {PACKAGE}/:\n\n{_describe(cycles)}"


def test_no_import_cycles_in_ocr() -> None:
    cycles = _cycles_within(f"{PACKAGE}.ocr")
    assert not cycles, f"import circle(s) in {PACKAGE}/ocr/:\n\n{_describe(cycles)}"


def test_the_product_never_imports_the_test_kit() -> None:
    """testkit/ is not in the wheel: an import of it from desktop_app/ would work in the checkout
    and fail for every user, at the moment that code first runs."""
    found = imports_of(package_modules(), TEST_ONLY)
    assert not found, f"{PACKAGE}/ imports test-only code:\n" + "\n".join(str(edge) for edge in found)


def test_an_import_of_the_test_kit_inside_a_function_is_found(tmp_path: Path) -> None:
    """The checker itself: lazy and dotted imports of testkit are seen; a module merely named
    like it inside the package, and a relative import, are not."""
    (tmp_path / "pkg").mkdir()
    files = {
        "pkg/__init__.py": "",
        "pkg/a.py": "def f():\n    from testkit.demo_scenes import compose\n    return compose\n",
        "pkg/b.py": "import os, testkit.fakehub\n",
        "pkg/testkit.py": "",
        "pkg/c.py": "from . import testkit\nfrom pkg import testkit as t\nimport testkitchen\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    found = imports_of(package_modules(tmp_path, "pkg"), TEST_ONLY, tmp_path)
    assert sorted((e.source, e.target, e.line) for e in found) == [
        ("pkg.a", "testkit.demo_scenes", 2), ("pkg.b", "testkit.fakehub", 1)]


def test_a_circle_through_a_lazy_relative_import_is_found(tmp_path: Path) -> None:
    """The checker itself: a circle closed only by a relative import inside a function, and a
    `from package import module` edge, are both seen; a package re-exporting its own module is not
    a circle."""
    (tmp_path / "pkg").mkdir()
    files = {
        "pkg/__init__.py": "from pkg.a import f\n",
        "pkg/a.py": "from pkg import b\n\ndef f():\n    return b\n",
        "pkg/b.py": "def g():\n    from .a import f\n    return f\n",
        "pkg/c.py": "import pkg.a\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    edges = import_edges(package_modules(tmp_path, "pkg"), tmp_path)
    pairs = {(edge.source, edge.target) for edge in edges}
    assert pairs == {("pkg", "pkg.a"), ("pkg.a", "pkg.b"), ("pkg.b", "pkg.a"), ("pkg.c", "pkg.a")}
    cycles = import_cycles(edges)
    assert [[(e.source, e.target) for e in cycle] for cycle in cycles] == [[("pkg.a", "pkg.b"), ("pkg.b", "pkg.a")]]


def test_every_module_says_what_it_owns() -> None:
    missing = [
        str(path.relative_to(ROOT))
        for path in package_modules().values()
        if not (ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "").strip()
    ]
    assert not missing, f"modules without a docstring: {missing}"
