"""The ``read_file`` tool: read a text file below ``root``; the model passes ``{"path": ...}``.

``root`` is relative to where agnoctl runs and is resolved at each call (an earlier step may
create it). A path may not leave ``root``: absolute paths and ``..`` that climbs out are
refused before the file system is touched. The path is then walked one component at a time,
each opened relative to the folder opened before it and never through a link (``O_NOFOLLOW``,
as the kernel's ``openat2`` with ``RESOLVE_BENEATH`` would): a link met on the way is read
and followed only while it stays below ``root``. Checking a resolved path and opening it
later would read whatever a link swapped in between points to; here there is no "later".
Only regular files are read (never a FIFO or device that could block), at most ``max_bytes``;
bytes that are not UTF-8 are replaced, and the text is cut to ``max_output_chars``.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import PurePosixPath, PureWindowsPath
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
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
_FOLDER_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY
_MAX_LINKS = 40  # links followed in one path, as the kernel's own bound (ELOOP)


class OutsideRoot(Exception):
    """The path, through a symbolic link, leads outside the folder it must stay in."""


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
        root = os.path.realpath(self.root)  # the author's folder: its own links are trusted
        try:
            root_fd = os.open(root, _FOLDER_FLAGS)
        except OSError:
            return failed(f"the tool's folder {self.root!r} does not exist")
        try:
            fd = _open_beneath(root, root_fd, requested)
        except OutsideRoot:
            return refused(f"{requested!r} leads outside the tool's folder (a symbolic link)")
        except FileNotFoundError:
            return failed(f"{requested!r}: no such file")
        except OSError as exc:
            return failed(f"{requested!r}: {exc.strerror or exc}")
        return self._read_regular(requested, fd)

    def _read_regular(self, requested: str, fd: int) -> ToolResult:
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


def open_beneath(root: str, requested: str) -> int:
    """A read-only descriptor of what the relative path ``requested`` names below the folder
    ``root`` (a resolved path), walked as ``read_file`` walks it: ``OutsideRoot`` when a link
    leads out, OSError when the walk fails. Attachments are read through it too."""
    return _open_beneath(root, os.open(root, _FOLDER_FLAGS), requested)


def _open_beneath(root: str, root_fd: int, requested: str) -> int:
    """A descriptor of what ``requested`` names below ``root`` (open as ``root_fd``, which this
    closes); raises ``OutsideRoot`` when a link leads out, OSError when the walk fails.

    ``folders`` holds a descriptor for each folder from the root down to where the walk is, so
    ``..`` goes back to the folder it came from, never through the file system's own ``..``.
    """
    folders = [root_fd]
    pending = _components(requested)[::-1]  # the next component last
    links = 0
    try:
        while pending:
            part = pending.pop()
            if part == "..":
                if len(folders) == 1:
                    raise OutsideRoot
                os.close(folders.pop())
                continue
            flags = _FOLDER_FLAGS if pending else _OPEN_FLAGS
            try:
                fd = os.open(part, flags, dir_fd=folders[-1])
            except OSError as exc:
                target = _link_target(exc, part, folders[-1])
                links += 1
                if links > _MAX_LINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP)) from None
                if os.path.isabs(target):
                    target = _below(root, target)
                    while len(folders) > 1:  # an absolute link starts again at the root
                        os.close(folders.pop())
                pending.extend(_components(target)[::-1])
                continue
            if pending:
                folders.append(fd)
            else:
                return fd
        return os.dup(folders[-1])  # the path names a folder ("." or "sub/..")
    finally:
        for fd in folders:
            os.close(fd)


def _link_target(error: OSError, name: str, folder: int) -> str:
    """What the link ``name`` in ``folder`` points to, or ``error`` again if it is no link."""
    # O_NOFOLLOW refuses a link with ELOOP (ENOTDIR or EMLINK on a few systems).
    if error.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        raise error
    try:
        return os.readlink(name, dir_fd=folder)
    except OSError:
        raise error from None


def _below(root: str, target: str) -> str:
    """An absolute link target as a path relative to ``root``; ``OutsideRoot`` if not below it."""
    relative = os.path.relpath(os.path.normpath(target), root)
    if relative == ".." or relative.startswith(".." + os.sep):
        raise OutsideRoot
    return relative


def _components(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


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
