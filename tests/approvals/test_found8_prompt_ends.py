"""A run that ends while its approval question is open on a terminal exits (found by the
sub-workflows/approvals/resume pass).

The question reads the terminal in a worker thread, abandoned when the run is cancelled
(Ctrl-C, SIGTERM, `limits.max_duration`); the run then wrote its report and said
`interrupted`, but the process did not end: the interpreter waited for that thread, still
reading the terminal, until the person typed a line (which it then took as an answer and
asked again) or a second Ctrl-C (a traceback).
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time
from pathlib import Path

import yaml

from tests import forkcli


def _flow(folder: Path, **more: object) -> Path:
    path = folder / "flow.yaml"
    data = {
        "version": 1,
        "name": "asks",
        "steps": {
            "draft": {"run": ["echo", "draft"]},
            "ok": {"needs": ["draft"], "approval": {"message": "Publish?"}},
        },
        **more,
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _on_a_terminal(tmp_path: Path, flow: Path) -> tuple[forkcli.Process, int]:
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "CI")}
    process = forkcli.start(
        ["run", flow],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        cwd=tmp_path,
        env={**env, "TERM": "xterm-256color"},
    )
    os.close(follower)
    return process, leader


def _read_until(leader: int, text: bytes, seen: bytes = b"") -> bytes:
    deadline = time.monotonic() + 30
    while text not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"{text!r} never shown; got {seen[-2000:]!r}"
        if select.select([leader], [], [], left)[0]:
            try:
                seen += os.read(leader, 65536)
            except OSError:
                break
    return seen


def _ends(process: forkcli.Process, leader: int) -> int:
    """The exit code; the output is drained meanwhile (a full terminal would block it)."""
    deadline = time.monotonic() + 10
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if select.select([leader], [], [], 0.05)[0]:
                os.read(leader, 65536)
    except OSError:  # the program ended and closed its side
        pass
    try:
        return process.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        raise AssertionError("the run did not end while its question was open") from None
    finally:
        os.close(leader)


def test_ctrl_c_while_the_question_is_open_ends_the_process(tmp_path: Path) -> None:
    process, leader = _on_a_terminal(tmp_path, _flow(tmp_path))
    _read_until(leader, b"[a/r]")
    process.send_signal(signal.SIGINT)
    assert _ends(process, leader) == 130


def test_max_duration_reached_while_the_question_is_open_ends_the_process(
    tmp_path: Path,
) -> None:
    process, leader = _on_a_terminal(tmp_path, _flow(tmp_path, limits={"max_duration": "300ms"}))
    _read_until(leader, b"[a/r]")
    assert _ends(process, leader) == 1
