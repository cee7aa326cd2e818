"""read_file: confined to its root folder, through `..`, absolute paths and symbolic links."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from agnoctl.spec.models import ReadFileToolSpec
from agnoctl.tools.read_file import ReadFileTool

pytestmark = pytest.mark.anyio


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """tmp_path/notes (the root) beside tmp_path/secret.txt (outside it)."""
    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    (notes / "a.txt").write_text("alpha\n")
    (notes / "sub" / "b.txt").write_text("beta")
    (tmp_path / "secret.txt").write_text("do not read")
    return notes


def make_tool(root: Path | str, **fields: Any) -> ReadFileTool:
    return ReadFileTool("read", ReadFileToolSpec(type="read_file", root=str(root), **fields))


async def test_a_file_below_the_root_is_read(root: Path) -> None:
    tool = make_tool(root)
    assert (await tool.call({"path": "a.txt"})).text == "alpha\n"
    nested = await tool.call({"path": "sub/b.txt"})
    assert nested.ok and nested.text == "beta"
    inside_detour = await tool.call({"path": "sub/../a.txt"})
    assert inside_detour.ok and inside_detour.text == "alpha\n"


async def test_a_relative_root_resolves_against_the_working_directory(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(root.parent)
    result = await make_tool("notes").call({"path": "a.txt"})
    assert result.ok and result.text == "alpha\n"


@pytest.mark.parametrize("path", ["../secret.txt", "sub/../../secret.txt", "..", "../notes/a.txt"])
async def test_dot_dot_escapes_are_refused(root: Path, path: str) -> None:
    result = await make_tool(root).call({"path": path})
    assert not result.ok
    assert result.text == f"refused: {path!r}: the path leads outside the tool's folder (..)"


async def test_absolute_paths_are_refused(root: Path) -> None:
    for path in [str(root / "a.txt"), "/etc/passwd", "C:\\Windows\\win.ini", "\\\\server\\x"]:
        result = await make_tool(root).call({"path": path})
        assert not result.ok
        assert "absolute paths are refused" in result.text


async def test_a_symlink_leading_outside_is_refused(root: Path) -> None:
    (root / "link.txt").symlink_to(root.parent / "secret.txt")
    (root / "linkdir").symlink_to(root.parent)
    tool = make_tool(root)
    for path in ["link.txt", "linkdir/secret.txt"]:
        result = await tool.call({"path": path})
        assert not result.ok
        assert "leads outside the tool's folder" in result.text
        assert "do not read" not in result.text


async def test_a_symlink_inside_the_root_is_followed(root: Path) -> None:
    (root / "alias.txt").symlink_to(root / "sub" / "b.txt")
    result = await make_tool(root).call({"path": "alias.txt"})
    assert result.ok and result.text == "beta"


async def test_a_root_that_is_itself_a_symlink_works(root: Path, tmp_path: Path) -> None:
    (tmp_path / "notes-link").symlink_to(root)
    result = await make_tool(tmp_path / "notes-link").call({"path": "a.txt"})
    assert result.ok and result.text == "alpha\n"


async def test_missing_files_folders_and_fifos_are_failed_results(root: Path) -> None:
    os.mkfifo(root / "pipe")
    tool = make_tool(root)
    assert (await tool.call({"path": "nope.txt"})).text == "failed: 'nope.txt': no such file"
    assert (await tool.call({"path": "sub"})).text == "failed: 'sub' is a folder"
    assert (await tool.call({"path": "pipe"})).text == "failed: 'pipe' is not a regular file"
    assert (await tool.call({"path": ""})).text.startswith("refused: '': an empty path")


async def test_a_missing_root_is_a_failed_result(tmp_path: Path) -> None:
    result = await make_tool(tmp_path / "absent").call({"path": "a.txt"})
    assert not result.ok
    assert "does not exist" in result.text


async def test_bytes_that_are_not_utf8_are_replaced(root: Path) -> None:
    (root / "latin1.txt").write_bytes(b"caf\xe9")
    result = await make_tool(root).call({"path": "latin1.txt"})
    assert result.ok and result.text == "caf\ufffd"


async def test_long_files_are_cut_and_say_so(root: Path) -> None:
    (root / "long.txt").write_text("z" * 500)
    result = await make_tool(root, max_output_chars=20).call({"path": "long.txt"})
    assert result.ok and result.truncated
    assert result.text == "z" * 20 + "\n[truncated: 20 characters shown of 500 characters]"


async def test_only_the_byte_cap_of_a_large_file_is_read(root: Path) -> None:
    (root / "huge.bin").write_bytes(b"q" * 300_000)
    tool = ReadFileTool("read", ReadFileToolSpec(type="read_file", root=str(root)), max_bytes=1000)
    result = await tool.call({"path": "huge.bin"})
    assert result.truncated
    assert result.text == "q" * 1000 + "\n[truncated: 1000 characters shown of a 300000-byte file]"


async def test_the_model_must_pass_a_string_path(root: Path) -> None:
    result = await make_tool(root).call({"path": 3})
    assert not result.ok
    assert "3 is not of type 'string' (at path)" in result.text
