"""The engine's import direction: ``index/`` never imports ``bot`` or Textual.

Parsed from the source (``ast``), so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "index"
FORBIDDEN = ("bot", "textual")


def imported_modules(source: str) -> list[tuple[int, str]]:
    """Every module a Python source imports, absolute names, with its line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module", "__import__"
        ) and node.args and isinstance(node.args[0], ast.Constant):
            found.append((node.lineno, str(node.args[0].value)))
    return found


def forbidden_imports(folder: Path) -> list[str]:
    """``path:line module`` for each import of ``bot`` or Textual under ``folder``."""
    bad = []
    for path in sorted(folder.rglob("*.py")):
        for line, module in imported_modules(path.read_text(encoding="utf-8")):
            if module.split(".")[0] in FORBIDDEN:
                bad.append(f"{path.relative_to(folder)}:{line} {module}")
    return bad


def test_engine_never_imports_the_application_or_textual() -> None:
    assert forbidden_imports(ENGINE) == []


@pytest.mark.parametrize("statement", [
    "import bot", "from bot.answering import Answerer", "import textual.app",
    "def f():\n    from textual.widgets import Input", "importlib.import_module('bot.cli')",
])
def test_the_check_sees_each_form_of_import(tmp_path: Path, statement: str) -> None:
    (tmp_path / "mod.py").write_text(statement + "\n")
    assert len(forbidden_imports(tmp_path)) == 1


def test_every_engine_stage_is_a_package() -> None:
    """Each stage folder is importable and says what it holds."""
    import importlib

    for stage in ("ingest", "embed", "store", "search"):
        module = importlib.import_module(f"index.{stage}")
        assert module.__doc__ and len(module.__doc__.strip()) > 20, stage
