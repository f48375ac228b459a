"""The shape of the code (issue 30): no file-level import cycle in any package, and no package
outside the core imports a core name that the core does not export.

Read statically from the sources (``ast``), so it holds for imports inside functions too (a
lazy import hides a cycle at import time but not from a reader); imports under
``if TYPE_CHECKING:`` are left out (they never run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORE = "vlmhyperbench"


def _source_files() -> Iterator[tuple[str, Path]]:
    """(dotted module name, file) of every package's ``src/`` tree."""
    for src in REPO.glob("**/src"):
        if any(part in {".nox", "node_modules", ".git"} for part in src.parts):
            continue
        for path in src.rglob("*.py"):
            parts = path.relative_to(src).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


MODULES = dict(_source_files())


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in typing_only:
            yield node


def _imported(
    name: str, path: Path, node: ast.Import | ast.ImportFrom
) -> list[tuple[str, str | None]]:
    """(module, imported name or None) pairs of one import statement, resolved to absolute."""
    if isinstance(node, ast.Import):
        return [(alias.name, None) for alias in node.names]
    if node.level:
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        base = package[: len(package) - (node.level - 1)]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    return [(module, alias.name) for alias in node.names]


def _graph() -> dict[str, set[str]]:
    """Module -> the modules of this repository it imports (``from . import x`` where ``x`` is
    a module is an edge to ``x``, not to the package)."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in _runtime_imports(tree):
            for module, imported in _imported(name, path, node):
                target = f"{module}.{imported}" if f"{module}.{imported}" in MODULES else module
                if target in MODULES and target != name:
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
    return found


def _exported(module: str) -> set[str]:
    """The ``__all__`` of a core module, read from its source."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return set(ast.literal_eval(node.value))
    return set()


def test_the_analysis_sees_every_package() -> None:
    # a glob gone wrong would make both tests below pass on nothing
    for package in (CORE, "vlmhb_server", "vlmhb_executor_api", "vlmhb_workdir", "vlmhb_reports"):
        assert package in MODULES, package
    assert len(MODULES) > 150


def test_no_module_imports_itself_back() -> None:
    graph = _graph()
    cycles = _cycles(graph)
    described = [
        " ; ".join(f"{m} -> {', '.join(sorted(graph[m] & set(c)))}" for m in c) for c in cycles
    ]
    assert cycles == [], "import cycles:\n" + "\n".join(described)


def test_other_packages_import_only_what_the_core_exports() -> None:
    outside: list[str] = []
    for name, path in MODULES.items():
        if name == CORE or name.startswith(CORE + "."):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in _runtime_imports(tree):
            for module, imported in _imported(name, path, node):
                if module != CORE and not module.startswith(CORE + "."):
                    continue
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                if module not in MODULES or "_" in module.rpartition(".")[2][:1]:
                    outside.append(f"{where}: module {module}")
                elif imported is not None and imported not in _exported(module):
                    outside.append(f"{where}: {module}.{imported} is not in its __all__")
    assert outside == [], "\n".join(outside)
