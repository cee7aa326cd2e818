"""What `agnoctl validate` can tell of an `attachments:` entry written without a template.

A templated entry is known only when its step runs (its reads are checked as any template's);
a static one is checked here, against the directory validate runs in, which is where `agnoctl
run` resolves it: a URL must be http(s) with a type in its path (E460, E462), a path or glob
must name a type that can be attached (E462), stay below the agent's `attachments_root`
(E463) and exist (E461), and the agent's model should take it (W526: a warning, since a
`--mock` run takes anything). A step that runs after others may attach what they make (a command
that renders a chart): for its own entries a missing file is a warning (W525), and the run
fails the step if the file is still missing then.
"""

from __future__ import annotations

import glob
import os
from pathlib import PurePosixPath
from typing import NamedTuple

from agnoctl.spec.attachments import (
    GLOB_CHARS,
    climbs_after_wildcard,
    kind_of,
    media_type,
    refused_by,
    supported_extensions,
    url_problem,
)
from agnoctl.spec.diagnostics import Severity, did_you_mean


class Finding(NamedTuple):
    code: str
    message: str
    hint: str | None
    severity: Severity = "error"


def check_static(entry: str, root: str | None, *, after_others: bool) -> Finding | None:
    """The problem with a static entry, or None; ``root`` is the agent's attachments_root,
    ``after_others`` whether other steps of the run come before the entry's step."""
    if kind_of(entry) == "url":
        return _check_url(entry)
    if "\0" in entry:  # no file's name holds one, and the file system refuses to look
        return Finding(
            "E461",
            f"attachment {entry!r}: a path may not contain NUL characters",
            "remove the NUL (\\u0000) from the path",
        )
    suffix = PurePosixPath(entry).suffix
    if not (GLOB_CHARS & set(suffix)) and media_type(entry) is None:
        return Finding(
            "E462",
            f"attachment {entry!r}: {suffix or 'a file without an extension'} cannot be attached",
            f"attach {supported_extensions()}; text belongs in the prompt",
        )
    cwd = os.getcwd()
    fence = os.path.realpath(os.path.join(cwd, root or "."))
    if kind_of(entry) == "glob" and climbs_after_wildcard(entry):
        return Finding(
            "E463",
            f"attachment {entry!r} climbs (`..`) after a wildcard, where no folder fences it",
            "write the folders before the first wildcard: `docs/*.png`, not `docs/x/*/../*.png`",
        )
    if _outside(os.path.normpath(os.path.join(cwd, entry)), fence) or _outside(
        os.path.realpath(os.path.join(cwd, entry)), fence
    ):
        where = f"attachments_root {root!r}" if root else "the directory agnoctl runs in"
        return Finding(
            "E463",
            f"attachment {entry!r} leads outside {where}",
            "attach files below it, or set the agent's attachments_root to the folder they are in",
        )
    if _exists(entry, cwd):
        return None
    return _missing(entry, cwd, after_others)


def check_taken(entry: str, model: str, protocol: str) -> Finding | None:
    """W526 when the model's provider cannot take the entry's type (a PDF for ollama): the
    step will fail when it runs, unless `--mock` sends it to the mock, which takes anything."""
    media = media_type(entry)
    problem = None if media is None else refused_by(protocol, media, url=kind_of(entry) == "url")
    if problem is None:
        return None
    return Finding(
        "W526",
        f"attachment {entry!r}: {problem} (model `{model}`)",
        "the step fails when it runs on this model: attach another type, or give the agent "
        "a model whose provider takes it",
        "warning",
    )


def _check_url(entry: str) -> Finding | None:
    problem = url_problem(entry)
    if problem is not None:
        return Finding(
            "E460",
            f"attachment {entry!r}: {problem}",
            "attach an http(s) URL, or a local file by its path",
        )
    if media_type(entry) is None:
        return Finding(
            "E462",
            f"attachment {entry!r}: the URL's path names no type that can be attached",
            f"the type comes from the URL's extension: {supported_extensions()}",
        )
    return None


def _outside(path: str, fence: str) -> bool:
    relative = os.path.relpath(path, fence)
    return relative == ".." or relative.startswith(".." + os.sep)


def _exists(entry: str, cwd: str) -> bool:
    if kind_of(entry) == "glob":
        matches = glob.glob(entry, root_dir=cwd, recursive=True)
        return any(os.path.isfile(os.path.join(cwd, m)) for m in matches)
    return os.path.isfile(os.path.join(cwd, entry))


def _missing(entry: str, cwd: str, after_others: bool) -> Finding:
    what = "matches no file" if kind_of(entry) == "glob" else "is not a file"
    hint = f"a path is relative to the directory agnoctl runs in, {cwd}"
    folder, name = os.path.split(entry)
    try:
        names = os.listdir(os.path.join(cwd, folder))
    except OSError:
        names = []
    # Its own name is no suggestion: it exists, as a folder or a pipe, and is no file.
    guess = did_you_mean(name, [other for other in names if other != name])
    if guess:
        hint = f"did you mean {os.path.join(folder, guess)!r}? ({hint})"
    if after_others:
        return Finding(
            "W525",
            f"attachment {entry!r} {what} yet; the step fails if no earlier step makes it",
            hint,
            "warning",
        )
    return Finding("E461", f"attachment {entry!r} {what}", hint)
