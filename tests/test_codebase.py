"""Rules of the codebase that a reviewer should not have to remember (STYLE.md)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "agnoctl"
SOURCES = sorted(PACKAGE.rglob("*.py"))
# The terminal layers may print (which imports rich and typer: import-linter's contracts, in
# tests/test_layers.py); the fake server is a command of its own.
TERMINAL = {"cli.py", "terminal.py"}


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


@pytest.mark.parametrize("path", SOURCES, ids=_relative)
def test_the_library_never_prints(path: Path) -> None:
    if _relative(path) in TERMINAL or _relative(path) == "testing/fake_llm.py":
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    prints = [
        c.lineno for c in _calls(tree) if isinstance(c.func, ast.Name) and c.func.id == "print"
    ]
    assert prints == [], f"{_relative(path)} prints at lines {prints}; return or raise instead"


@pytest.mark.parametrize("path", SOURCES, ids=_relative)
def test_no_shell_and_no_unsafe_yaml(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for call in _calls(tree):
        for keyword in call.keywords:
            if keyword.arg == "shell":
                assert not (isinstance(keyword.value, ast.Constant) and keyword.value.value), (
                    f"{_relative(path)}:{call.lineno} runs a shell"
                )
        func = call.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in {"load", "load_all"}
            and isinstance(func.value, ast.Name)
            and func.value.id == "yaml"
        ):
            loader = ast.unparse(call)
            assert re.search(r"Safe|make_loader|_Loader", loader), (
                f"{_relative(path)}:{call.lineno} calls yaml.load without a safe loader"
            )


@pytest.mark.parametrize("path", SOURCES, ids=_relative)
def test_no_stray_tasks(path: Path) -> None:
    # Structured concurrency only: every task lives in a task group.
    text = path.read_text(encoding="utf-8")
    assert "asyncio.create_task(" not in text and "ensure_future(" not in text, _relative(path)


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=" ".join)
def test_the_tree_is_lint_clean(command: list[str]) -> None:
    # ruff's own settings (pyproject.toml) decide what is checked; a fresh clone must pass.
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--quiet", str(PACKAGE.parent)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_two_test_modules_share_a_name() -> None:
    """Test folders are not packages, so pytest imports each module by its file name: two
    `test_journal.py` in different folders stop the whole suite at collection."""
    tests = Path(__file__).resolve().parent
    seen: dict[str, Path] = {}
    for path in sorted(tests.rglob("test_*.py")):
        other = seen.setdefault(path.name, path)
        assert other == path, f"{path.relative_to(tests)} and {other.relative_to(tests)}"
