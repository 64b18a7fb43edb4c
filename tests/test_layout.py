"""The layout rules of the README's architecture section: no module over 500 lines, no import of another module's
underscore names, no import cycle between git_ml modules (imports anywhere in a module count)."""

from __future__ import annotations

import ast

from conftest import ROOT

PACKAGE = ROOT / "git_ml"


def modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = ast.parse(path.read_text(encoding="utf-8"))
    return out


def imports(name: str, tree: ast.Module, known: set[str]) -> list[tuple[str, str | None]]:
    """(module imported, name imported from it or None) for every git_ml import of a module."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names if a.name.startswith("git_ml")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("git_ml") and not node.level:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.append((full, None) if full in known else (node.module, alias.name))
    return out


def test_no_module_is_over_500_lines():
    long = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py") if len(p.read_text().splitlines()) > 500]
    assert long == []


def test_no_module_imports_another_modules_private_names():
    mods = modules()
    private = [f"{name} imports {mod}.{item}" for name, tree in mods.items()
               for mod, item in imports(name, tree, set(mods)) if item and item.startswith("_") and not item.startswith("__") and mod != name]
    assert private == []


def test_no_import_cycles():
    mods = modules()
    graph = {name: {mod for mod, _ in imports(name, tree, set(mods)) if mod in mods and mod != name
                    and not name.startswith(mod + ".")}  # a package's own submodules importing it is no cycle
             for name, tree in mods.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []
