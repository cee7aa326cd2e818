"""An agent task's attachments: its agent's and its step's `attachments:`, rendered, expanded
and read (agnoctl.spec.attachments says what an entry means).

A rendered path may come from a model's output (`{{ steps.pick.output }}`), so a prompt
injection could name `~/.ssh/id_rsa` to have it sent to a provider. Every file must therefore
lie below the agent's `attachments_root` (default: the directory agnoctl runs in), links
resolved: the path is walked as the `read_file` tool walks its folder (`open_beneath`), one
component at a time and never through a link that leads out, so checking and reading are one
step. Only regular files are read, at most `max_attachment_bytes` of them, and their first
bytes must be those of the type their extension claims.

Every problem is a permanent step failure (`kind: attachment`): another attempt would find
the same files. A template that renders to nothing attaches nothing (an optional attachment,
e.g. `{{ item.screenshot or '' }}`). Files are read in a worker thread, never on the loop.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import itertools
import os
import stat
from dataclasses import replace
from typing import TYPE_CHECKING

import anyio.to_thread

from agnoctl.errors import StepFailed
from agnoctl.printable import not_utf8_at
from agnoctl.providers import attachments as wire
from agnoctl.providers.base import Attachment
from agnoctl.spec.attachments import (
    DEFAULT_MAX_BYTES,
    GLOB_CHARS,
    MAX_ATTACHMENTS,
    SNIFF_BYTES,
    climbs_after_wildcard,
    kind_of,
    media_type,
    sniff,
    supported_extensions,
    url_problem,
)
from agnoctl.tools.read_file import OutsideRoot, open_beneath

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from agnoctl.engine.steps import Task
    from agnoctl.spec.models import AgentSpec


class _Refused(Exception):
    """One entry cannot be attached; the message says why."""


async def load(task: Task, agent: AgentSpec, *, step: bool = True) -> tuple[Attachment, ...]:
    """The task's attachments: the agent's, then (``step``) the step's own; ``StepFailed``
    names the first problem. A judge's call sends its agent's alone."""
    entries = [*(agent.attachments or ()), *((task.step.attachments or ()) if step else ())]
    if not entries:
        return ()
    rendered = [task.render("attachments", entry).strip() for entry in entries]
    reader = _Reader(agent.attachments_root, agent.max_attachment_bytes or DEFAULT_MAX_BYTES)
    try:
        return await anyio.to_thread.run_sync(reader.read_all, [e for e in rendered if e])
    except _Refused as exc:
        raise StepFailed(f"step {task.where}: attachments: {exc}", kind="attachment") from None


def check_accepted(task: Task, protocol: str, found: Iterable[Attachment]) -> None:
    """Fail the step (permanently) when the model's provider cannot take an attachment."""
    for attachment in found:
        problem = wire.refusal(protocol, attachment)
        if problem is not None:
            raise StepFailed(
                f"step {task.where}: attachments: {attachment.name}: {problem}",
                kind="attachment",
            )


def described(found: Sequence[Attachment]) -> tuple[Attachment, ...]:
    """The attachments without their contents: what records and reports keep of them."""
    return tuple(replace(a, data_base64="") for a in found)


class _Reader:
    """Reads the files of one task below its fence (runs in a worker thread)."""

    def __init__(self, root: str | None, max_bytes: int) -> None:
        self.cwd = os.getcwd()
        self.shown_root = f"attachments_root {root!r}" if root else "the directory agnoctl runs in"
        self.root = os.path.realpath(os.path.join(self.cwd, root or "."))
        self.max_bytes = max_bytes

    def read_all(self, entries: list[str]) -> tuple[Attachment, ...]:
        # By where it is: a file listed twice (by the agent and the step, by two globs) is
        # read and sent once, where it is first listed.
        found: dict[str, Attachment] = {}
        for entry in entries:
            for name in self.names(entry):
                if (
                    not_utf8_at(name) is not None
                ):  # a glob's match on disk: reports and events are UTF-8
                    raise _Refused(f"{name!r}: a file name that is not UTF-8 (rename the file)")
                if kind_of(name) == "url":
                    found.setdefault(name, _url(name))
                    continue
                where = os.path.normpath(os.path.join(self.cwd, name))
                if where not in found:
                    found[where] = self.file(name)
            if len(found) > MAX_ATTACHMENTS:
                raise _Refused(
                    f"more than {MAX_ATTACHMENTS} files (the last entry read: {entry!r}); "
                    "narrow the globs"
                )
        return tuple(found.values())

    def names(self, entry: str) -> list[str]:
        """What an entry names: itself (a URL or a path), or a glob's files, sorted."""
        if "\0" in entry:
            raise _Refused(f"{entry!r}: a path may not contain NUL characters")
        if kind_of(entry) != "glob":
            return [entry]
        # The folders a glob walks are fenced before the walk (`/**/*.png` from a model's
        # reply must not walk the whole disk), and the walk stops past the files' cap.
        if self.leads_out(_literal_prefix(entry)):
            raise _Refused(self.outside(entry))
        if climbs_after_wildcard(entry):  # `*/../../**/*.png` walks out of any fence
            raise _Refused(f"{entry!r}: a glob may not climb (`..`) after a wildcard")
        files: list[str] = []
        for match in glob.iglob(entry, root_dir=self.cwd, recursive=True):
            if not os.path.isdir(os.path.join(self.cwd, match)):
                files.append(match)
            if len(files) > MAX_ATTACHMENTS:
                raise _Refused(f"{entry!r} matches more than {MAX_ATTACHMENTS} files")
        if not files:
            raise _Refused(f"{entry!r} matches no file (relative to {self.cwd})")
        return sorted(files)

    def leads_out(self, path: str) -> bool:
        """Whether ``path`` (relative to where agnoctl runs, or absolute) is, as written,
        outside the fence; links are checked by the walk that opens a file."""
        relative = os.path.relpath(os.path.normpath(os.path.join(self.cwd, path)), self.root)
        return relative == ".." or relative.startswith(".." + os.sep)

    def file(self, path: str) -> Attachment:
        media = media_type(path)
        if media is None:
            raise _Refused(f"{path!r}: not a type that can be attached ({supported_extensions()})")
        if not os.path.isdir(self.root):
            raise _Refused(f"{path!r}: {self.shown_root} is not a folder")
        if self.leads_out(path):
            raise _Refused(self.outside(path))
        relative = os.path.relpath(os.path.normpath(os.path.join(self.cwd, path)), self.root)
        try:
            fd = open_beneath(self.root, relative)
        except OutsideRoot:
            raise _Refused(self.outside(path, " through a symbolic link")) from None
        except FileNotFoundError:
            raise _Refused(f"{path!r}: no such file (relative to {self.cwd})") from None
        except OSError as exc:
            raise _Refused(f"{path!r}: {exc.strerror or exc}") from None
        try:
            data = self.contents(path, fd)
        finally:
            os.close(fd)
        if not sniff(data[:SNIFF_BYTES], media):
            raise _Refused(f"{path!r}: its contents are not {media} (a renamed file?)")
        encoded = base64.b64encode(data).decode("ascii")  # here, off the event loop
        return Attachment(path, media, encoded, None, hashlib.sha256(data).hexdigest(), len(data))

    def contents(self, path: str, fd: int) -> bytes:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # a folder, or a FIFO or device that could block
            raise _Refused(f"{path!r}: not a regular file")
        data = b""
        if info.st_size <= self.max_bytes:  # else refused unread
            with open(fd, "rb", closefd=False) as file:
                data = file.read(self.max_bytes + 1)  # a byte more tells one grown past the cap
        if info.st_size > self.max_bytes or len(data) > self.max_bytes:
            raise _Refused(
                f"{path!r}: {max(info.st_size, len(data)):,} bytes, over the cap of "
                f"{self.max_bytes:,} (the agent's max_attachment_bytes)"
            )
        return data

    def outside(self, path: str, how: str = "") -> str:
        return (
            f"{path!r} leads outside {self.shown_root}{how}; attachments must lie below it "
            "(set the agent's attachments_root to allow another folder)"
        )


def _literal_prefix(pattern: str) -> str:
    """The folders of a glob before its first wildcard: `docs/2024/*/x.pdf` -> `docs/2024`."""
    literal = itertools.takewhile(lambda part: not (GLOB_CHARS & set(part)), pattern.split("/"))
    return "/".join(literal) or ("/" if pattern.startswith("/") else ".")


def _url(url: str) -> Attachment:
    problem = url_problem(url)
    if problem is not None:
        raise _Refused(f"{url!r}: {problem}")
    media = media_type(url)
    if media is None:
        raise _Refused(
            f"{url!r}: its path names no type that can be attached ({supported_extensions()})"
        )
    return Attachment(url, media, url=url)
