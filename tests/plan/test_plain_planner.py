"""The planner keys no memo on `id()`: a memo keyed by an object's address is right only
while that object lives, so a reader must prove every key's object outlives the memo. Memos
are keyed by values (an agent's name, a prompt's size, a range's numbers) instead."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLAN = Path(__file__).resolve().parents[2] / "agnoctl" / "plan"


def _id_calls(tree: ast.AST) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "id"
    ]


@pytest.mark.parametrize("module", sorted(PLAN.glob("*.py")), ids=lambda path: path.name)
def test_no_memo_is_keyed_on_id(module: Path) -> None:
    assert _id_calls(ast.parse(module.read_text(encoding="utf-8"))) == []
