"""A command tool whose `cwd` is no directory told the model `could not start 'pwd': No such
file or directory`: the program was blamed for the folder (a command step and an MCP entry
already said `cwd ... is not a directory`). The result now names the cwd."""

from __future__ import annotations

from pathlib import Path

import pytest

from agnoctl.spec.models import CommandToolSpec
from agnoctl.tools.command import CommandTool

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_missing_cwd_is_named_not_the_program(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    for cwd in (tmp_path / "nope", tmp_path / "file.txt"):
        tool = CommandTool("t", CommandToolSpec(run=["pwd"], cwd=str(cwd)))
        result = await tool.call({})
        assert not result.ok
        assert result.text == f"failed: the tool's cwd {str(cwd)!r} is not a directory"
    missing = CommandTool("t", CommandToolSpec(run=["no-such-program-x1"], cwd=str(tmp_path)))
    result = await missing.call({})
    assert result.text == "failed: could not start 'no-such-program-x1': No such file or directory"
