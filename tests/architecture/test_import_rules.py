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
