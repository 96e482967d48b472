"""The layering of DESIGN.md section 3, checked on every module's imports (static, via ast)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _violations(packages: list[str], forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for package in packages:
        for path in _modules(package):
            for name in _imports(path):
                if any(name == f or name.startswith(f + ".") for f in forbidden):
                    found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


@pytest.mark.parametrize("package", ["desktop/domain", "desktop/store", "sync"])
def test_core_never_imports_qt(package: str) -> None:
    assert _violations([package], ("PySide6", "shiboken6")) == []


def test_sync_never_imports_desktop() -> None:
    assert _violations(["sync"], ("desktop",)) == []


def test_server_and_client_do_not_import_each_other() -> None:
    assert _violations(["sync/server"], ("sync.client",)) == []
    assert _violations(["sync/client"], ("sync.server",)) == []


def test_the_rule_checker_sees_a_violation(tmp_path: Path) -> None:
    # A checker that never finds anything would pass vacuously: prove it finds a planted one.
    bad = tmp_path / "bad.py"
    bad.write_text("from PySide6.QtCore import QObject\nimport desktop.store\n", encoding="utf-8")
    assert _imports(bad) == {"PySide6.QtCore", "desktop.store"}
    assert len(_modules("desktop")) > 0


#: The workspace's sections: each a package of its own, built on the shared UI modules below.
SECTIONS = ("incidents", "alerts", "directory", "workgroups", "sync")


def test_sections_do_not_import_each_other() -> None:
    # What two sections share lives in desktop/ui/*.py (lists, list_page, display, bidi,
    # access, pdf_text…): a change in one section can then never break another.
    found = []
    for section in SECTIONS:
        others = tuple(f"desktop.ui.{other}" for other in SECTIONS if other != section)
        found += _violations([f"desktop/ui/{section}"], others)
    assert found == []


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _import_graph(packages: list[str]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (anywhere in it, lazy imports included)."""
    paths = {_module_name(p): p for package in packages for p in _modules(package)}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        targets = set()
        for imported in _imports(path):
            # ``from a.b import c`` may name module a.b.c or a name in a.b: take the longest
            # module that exists.
            while imported and imported not in paths:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    tree = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in paths.items()}
    for name, module in tree.items():
        for node in ast.walk(module):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    candidate = f"{node.module}.{alias.name}"
                    if candidate in paths and candidate != name:
                        graph[name].add(candidate)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_no_import_circles() -> None:
    # Lazy imports inside functions count too: a circle is a circle, whenever it closes.
    assert _cycles(_import_graph(["desktop", "sync"])) == []


def test_the_circle_finder_finds_one() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def _incident_tabs() -> list[Path]:
    return [p for p in _modules("desktop/ui/incidents/tabs") if p.stem != "__init__"]


def test_the_incident_editor_tabs_do_not_import_each_other() -> None:
    # One module per tab of the incident editor, wired by the editor: a tab that reached into
    # another would grow the one 1,450-line class back by another road.
    tabs = _incident_tabs()
    assert {p.stem for p in tabs} >= {"event", "acts", "sources", "evidence", "consents"}
    found = []
    for path in tabs:
        others = {f"desktop.ui.incidents.tabs.{p.stem}" for p in tabs if p != path}
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                named = {node.module} | {f"{node.module}.{a.name}" for a in node.names}
                found += [f"{path.stem} imports {name}" for name in sorted(named & others)]
            elif isinstance(node, ast.Import):
                found += [f"{path.stem} imports {a.name}" for a in node.names if a.name in others]
    assert found == []


def test_no_class_of_the_incident_editor_is_over_600_lines() -> None:
    # The editor was one class of 1,450 lines; each tab is now a class of its own.
    long = []
    for path in _modules("desktop/ui/incidents"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > 600:
                    long.append(f"{path.relative_to(ROOT)}: {node.name} has {lines} lines")
    assert long == []
