"""The ``read_file`` tool: read a text file below ``root``; the model passes ``{"path": ...}``.

``root`` is relative to where agnoctl runs and is resolved at each call (an earlier step may
create it). A path may not leave ``root``: absolute paths and ``..`` that climbs out are
refused before the file system is touched, and the path is then resolved with every symbolic
link followed, so a link pointing outside ``root`` is refused too. Only regular files are read
(never a FIFO or device that could block), at most ``max_bytes``; bytes that are not UTF-8 are
replaced, and the text is cut to ``max_output_chars``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import anyio.to_thread

from agnoctl.providers.base import ToolSpec
from agnoctl.spec.models import ReadFileToolSpec
from agnoctl.tools.base import BaseTool, ToolResult, cut, failed, output_bytes, refused

PARAMETERS: dict[str, Any] = {
    "type": "object",
    "required": ["path"],
    "properties": {
        "path": {"type": "string", "description": "File path relative to the tool's folder."}
    },
}
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class ReadFileTool(BaseTool):
    def __init__(self, name: str, spec: ReadFileToolSpec, *, max_bytes: int | None = None) -> None:
        description = spec.description or (
            f"Read a text file below the folder {spec.root}; pass a path relative to it."
        )
        super().__init__(ToolSpec(name, description, PARAMETERS), spec.max_output_chars)
        self.root = spec.root
        self._max_bytes = max_bytes or output_bytes(spec.max_output_chars)

    async def _run(self, arguments: dict[str, Any]) -> ToolResult:
        return await anyio.to_thread.run_sync(self._read, arguments["path"])

    def _read(self, requested: str) -> ToolResult:
        problem = _lexical_problem(requested)
        if problem:
            return refused(f"{requested!r}: {problem}")
        try:
            root = Path(self.root).resolve(strict=True)
        except (OSError, RuntimeError):
            return failed(f"the tool's folder {self.root!r} does not exist")
        try:
            target = (root / requested).resolve(strict=True)
        except FileNotFoundError:
            return failed(f"{requested!r}: no such file")
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.11)
            return failed(f"{requested!r}: {getattr(exc, 'strerror', None) or exc}")
        if not target.is_relative_to(root):
            return refused(f"{requested!r} leads outside the tool's folder (a symbolic link)")
        return self._read_regular(requested, target)

    def _read_regular(self, requested: str, target: Path) -> ToolResult:
        try:
            # O_NOFOLLOW: the resolved path holds no link, so a link here was swapped in since.
            fd = os.open(target, _OPEN_FLAGS)
        except OSError as exc:
            return failed(f"{requested!r}: {exc.strerror}")
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
                return failed(f"{requested!r} is {kind}")
            with open(fd, "rb", closefd=False) as file:
                data = file.read(self._max_bytes)
        finally:
            os.close(fd)
        total = None if info.st_size <= len(data) else f"a {info.st_size}-byte file"
        text, truncated = cut(
            data.decode("utf-8", errors="replace"), self.max_output_chars, total=total
        )
        return ToolResult(True, text, truncated)


def _lexical_problem(requested: str) -> str | None:
    """Why a path is refused before touching the file system, or None."""
    if not requested:
        return "an empty path; pass a file path relative to the tool's folder"
    if "\0" in requested:
        return "a path may not contain NUL characters"
    if PurePosixPath(requested).is_absolute() or PureWindowsPath(requested).anchor:
        return "absolute paths are refused; pass a path relative to the tool's folder"
    if os.path.normpath(requested).split(os.sep)[0] == "..":
        return "the path leads outside the tool's folder (..)"
    return None
