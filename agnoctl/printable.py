"""Text safe to print: control characters shown, never obeyed.

What a step prints, a model replies, a tool returns or a workflow file holds reaches the
terminal, CI logs and GitHub annotations. A terminal obeys escape sequences in it: a step's
stderr ``ESC]0;title BEL ESC[32mPASSED`` would retitle the window and paint a failure green,
and a CI log could be spoofed. ``printable`` replaces every control character with its visible
escape (``\\x1b``), so the reader sees what was there and the terminal sees plain text.

Kept: newline and tab, which the places that print keep or flatten themselves (a one-line
context flattens whitespace; GitHub annotations encode newlines). Replaced: the other C0
controls and DEL, the C1 controls (``\\u009b`` is an escape on its own in some terminals), and
the bidirectional overrides and isolates, which reorder what is shown ("Trojan Source"). JSON
printed stays valid JSON meaning the same: it escapes C0 itself, and the others are written as
JSON writes them (``\\u009b``).

Text is also written to files, all UTF-8 (reports, the journal, a plan): ``not_utf8_at`` finds
what no such file can hold.
"""

from __future__ import annotations

import os
from pathlib import Path

_C0 = [c for c in range(0x20) if chr(c) not in "\n\t"]
_OTHERS = (0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A))
# C0 as `\x1b`, the rest as `\u009b`: JSON escapes C0 itself but not the others, and `\u...`
# is what a JSON string spells them as, so JSON stays JSON.
_VISIBLE = {c: f"\\x{c:02x}" for c in _C0} | {c: f"\\u{c:04x}" for c in _OTHERS}


# GitHub's runner obeys its older form of workflow command, `##[error]...`, anywhere in a line
# of a job's log (the `::` form only at a line's start): text from outside would raise
# annotations. Written with the JSON escape of its `#`, it is seen, not obeyed, and JSON printed
# stays JSON meaning the same.
_LEGACY_COMMAND = "##["
_SHOWN_LEGACY_COMMAND = "#\\u0023["


def printable(text: str) -> str:
    """``text`` with every control character but newline and tab replaced by its escape, and
    GitHub's `##[` command marker shown as `#\\u0023[`."""
    return text.translate(_VISIBLE).replace(_LEGACY_COMMAND, _SHOWN_LEGACY_COMMAND)


def one_line(text: str) -> str:
    """``text`` printable on one line: a run's reason quotes what a model or a command wrote,
    and a line of its own starting ``::`` in a CI log is a GitHub workflow command
    (``::stop-commands::``, a forged ``::error``, ``::set-output``), obeyed by the runner."""
    return printable(" ".join(text.split()))


def shown_line(line: str) -> str:
    """A line of text from outside printed as a line of its own (a model's output in a diff):
    printable, and never a GitHub workflow command, which the runner reads as `::` after any
    leading spaces. Such a line's first `:` is shown as JSON's escape of it, `\\u003a`."""
    text = printable(line)
    if text.lstrip().startswith("::"):
        return text.replace("::", "\\u003a:", 1)
    return text


def clipped(text: str, limit: int) -> str:
    """``text``, or its first ``limit - 1`` characters and an ellipsis: at most ``limit``."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def not_utf8_at(text: str) -> int | None:
    """The index of the first character of ``text`` that UTF-8 cannot hold, or None when there
    is none: Python reads a byte of another encoding (in a file name, an argument, an
    environment value) as a lone surrogate, which no report, event or plan could record."""
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def github_command(level: str, properties: dict[str, object], message: str) -> str:
    """One GitHub Actions workflow command (``::error file=...,line=3::message``): the way
    ``validate --format github`` and ``run --format github`` write annotations.

    Data escapes %, CR and LF; property values also escape : and ,. Other control characters
    are shown, not passed on: a CI log must not be spoofable. A ``file`` under the checkout
    is named from it (``_checkout_path``).
    """
    shown = {**properties}
    if "file" in shown:
        shown["file"] = _checkout_path(str(shown["file"]))
    props = ",".join(
        f"{key}={_github_escape(str(value), prop=True)}" for key, value in shown.items()
    )
    return f"::{level} {props}::{_github_escape(message)}"


def _checkout_path(file: str) -> str:
    """``file`` relative to ``$GITHUB_WORKSPACE`` when it is under it: GitHub puts an annotation
    on the line of the file whose repository path is ``file=``, so a name relative to a job's
    ``working-directory`` (or absolute) would reach no file."""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if not workspace:
        return file
    try:
        return Path(file).resolve().relative_to(Path(workspace).resolve()).as_posix()
    except (OSError, ValueError):  # outside the checkout, or not a path this machine has
        return file


def _github_escape(value: str, *, prop: bool = False) -> str:
    value = printable(value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))
    if prop:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


__all__ = ["clipped", "github_command", "not_utf8_at", "one_line", "printable", "shown_line"]
