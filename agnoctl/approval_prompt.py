"""The approval prompt on a terminal: the progress display paused, the message shown, the
person's answer read (approve / reject, and a reason).

It runs in a worker thread (``agnoctl.engine.approval``), so it reads the terminal's file
descriptor itself, with ``select`` for the timeout: no buffered reader to share with anything
else. The message holds model output, so it is shown through ``printable`` (control
characters shown, never obeyed).
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import IO, Literal

from agnoctl.engine.approval import Answer, ApprovalRequest, Unanswered
from agnoctl.printable import printable

_APPROVE = frozenset({"a", "approve", "y", "yes"})
_REJECT = frozenset({"r", "reject", "n", "no"})
_Read = str | Literal["timeout", "closed"]


class TerminalPrompter:
    """A ``Prompter`` that asks the person at the terminal."""

    def __init__(
        self,
        pause: Callable[[], AbstractContextManager[None]],
        stdin: IO[str],
        stdout: IO[str],
    ) -> None:
        """``pause`` holds the progress display while the prompt is shown."""
        self._pause = pause
        self._fd = stdin.fileno()
        self._out = stdout
        self._typed = b""  # read but not yet taken: a pipe gives several lines at once
        # A byte written here (`abandon`) ends every question: the run was cancelled.
        self._abandoned, self._abandon = os.pipe()

    def __call__(self, request: ApprovalRequest) -> Answer | Unanswered:
        deadline = None if request.timeout is None else time.monotonic() + request.timeout
        with self._pause():
            self._write(
                f"\napproval needed: step {printable(request.step)}\n"
                f"{printable(request.message).rstrip()}\n"
            )
            while True:
                line = self._read("approve or reject? [a/r] ", deadline)
                if line in ("timeout", "closed"):
                    self._write("\n")
                    return "timeout" if line == "timeout" else "closed"
                choice = line.strip().lower()
                if choice in _APPROVE or choice in _REJECT:
                    break
                self._write("answer a (approve) or r (reject)\n")
            reason = self._read("reason (Enter for none): ", deadline)
            said = reason.strip() if reason not in ("timeout", "closed") else ""
            self._write("approved\n" if choice in _APPROVE else "rejected\n")
        return Answer(choice in _APPROVE, said or None)

    def abandon(self) -> None:
        """End the question being asked, and any later one, as if the input had ended: the
        run was cancelled while it asked (``ApprovalOptions.abandon``)."""
        os.write(self._abandon, b"\0")

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()

    def _read(self, prompt: str, deadline: float | None) -> _Read:
        """One line the person typed; or why there is none."""
        self._write(prompt)
        while b"\n" not in self._typed:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return "timeout"
            ready, _, _ = select.select([self._fd, self._abandoned], [], [], left)
            if not ready:
                return "timeout"
            if self._abandoned in ready:
                return "closed"
            chunk = os.read(self._fd, 4096)
            if not chunk:
                return self._last_line()
            self._typed += chunk
        line, _, self._typed = self._typed.partition(b"\n")
        return line.decode(errors="replace")

    def _last_line(self) -> _Read:
        """At the end of the input, what was typed without a newline is still a line."""
        line, self._typed = self._typed, b""
        return line.decode(errors="replace") if line else "closed"


__all__ = ["TerminalPrompter"]
