"""Dependencies run one way: pages → powerbalance ← etl. Module-level and function-level imports
both count (every ``import`` statement anywhere in a file)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imports(path: Path) -> set[str]:
    """Top-level package names a file imports (relative imports resolved to their package)."""
    package = path.relative_to(ROOT).parts[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            out.add(package if node.level else (node.module or "").split(".")[0])
    return out


def offenders(folder: str, forbidden: set[str]) -> dict[str, list[str]]:
    found = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        bad = sorted(imports(path) & forbidden)
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    return found


def test_powerbalance_never_imports_etl_pages_tests_or_bench():
    assert offenders("powerbalance", {"etl", "pages", "tests", "bench", "dashboard"}) == {}


def test_pages_import_only_powerbalance():
    assert offenders("pages", {"etl", "tests", "bench", "pages"}) == {}


def test_etl_never_imports_pages_tests_or_bench():
    assert offenders("etl", {"pages", "tests", "bench", "dashboard"}) == {}


def test_test_modules_never_import_other_test_modules():
    found = {}
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [f"{node.module}.{a.name}" if node.module else a.name for a in node.names]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if isinstance(node, ast.ImportFrom) and node.level and (node.module or "").startswith("test_"):
                names = [f"tests.{node.module}"]
            bad = [n for n in names if n.startswith("tests.test_") or n.startswith("test_")]
            if bad:
                found.setdefault(path.name, []).extend(bad)
    assert found == {}


def test_the_checker_sees_function_level_imports(tmp_path, monkeypatch):
    pkg = tmp_path / "powerbalance"
    pkg.mkdir()
    (pkg / "x.py").write_text("def f():\n    from etl.core import insert_rows\n    return insert_rows\n")
    import sys

    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert offenders("powerbalance", {"etl"}) == {"powerbalance/x.py": ["etl"]}
