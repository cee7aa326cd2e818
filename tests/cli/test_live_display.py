"""The live display through a pseudo-terminal, frame by frame (#26): steps in file order, what
holds a step up (a retry, a provider's 429 pause, an open breaker), a bar with counts and ETA
for a fan-out, one line per row at the terminal's width, and the resume hint after Ctrl-C."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import termios
from pathlib import Path

import yaml

from tests import forkcli

STEPS = ["first", "fan", "throttled", "last"]
FLOW = {
    "version": 1,
    "name": "live-display-with-a-rather-long-name",
    "providers": {
        "flaky": {"type": "mock", "circuit_breaker": {"failure_threshold": 1}},
        "busy": {"type": "mock"},
    },
    "agents": {"a": {"model": "mock/m"}, "f": {"model": "flaky/m"}, "b": {"model": "busy/m"}},
    "steps": {
        "first": {
            "agent": "f",
            "prompt": "hi",
            "retry": {"max_attempts": 3, "initial_delay": "1s", "jitter": "none"},
        },
        "fan": {"agent": "a", "for_each": list(range(6)), "max_concurrency": 1, "prompt": "x"},
        "throttled": {"agent": "b", "prompt": "hi", "retry": {"max_attempts": 2}},
        "last": {"agent": "a", "needs": ["first", "fan", "throttled"], "prompt": "done"},
    },
}
FIXTURES = {
    "steps": {
        "first": [{"error": {"status": 500, "message": "down"}}, {"text": "ok"}],
        "fan": {"default": {"text": "ok", "delay": "200ms"}},
        "throttled": [
            {"error": {"status": 429, "message": "slow down", "retry_after": "1s"}},
            {"text": "ok"},
        ],
    }
}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Before each redraw rich goes back to the frame's first line, erasing every line on its way.
REDRAW = re.compile(r"\r(?:\x1b\[2K\x1b\[1A)+\x1b\[2K")


def _in_a_terminal(
    args: list[str], cwd: Path, columns: int, interrupt_when: bytes | None = None
) -> tuple[int, str]:
    """Run agnoctl on a pseudo-terminal ``columns`` wide; all it wrote, and its exit code.
    With ``interrupt_when``, SIGINT goes once that text has been shown."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES")}
    process = forkcli.start(
        args,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        cwd=cwd,
        env={**env, "TERM": "xterm-256color"},
    )
    os.close(follower)
    output = b""
    try:
        while select.select([leader], [], [], 60)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the program ended and closed its side
                break
            if not chunk:
                break
            output += chunk
            if (
                interrupt_when is not None
                and interrupt_when in ANSI.sub("", output.decode()).encode()
            ):
                process.send_signal(signal.SIGINT)
                interrupt_when = None
    finally:
        os.close(leader)
    return process.wait(timeout=60), output.decode()


def _frames(output: str) -> list[list[str]]:
    """The live display's frames, each as its lines of visible text."""
    title = output.rfind(" · run ")  # the summary table's title follows the last frame
    live = output[: output.rfind("\n", 0, title) + 1]
    return [ANSI.sub("", frame).split("\r\n") for frame in REDRAW.split(live) if frame.strip()]


def _run(tmp_path: Path, columns: int) -> tuple[int, list[list[str]], str]:
    (tmp_path / "flow.yaml").write_text(yaml.safe_dump(FLOW, sort_keys=False), encoding="utf-8")
    (tmp_path / "fixtures.yaml").write_text(yaml.safe_dump(FIXTURES), encoding="utf-8")
    args = ["run", "flow.yaml", "--mock-fixtures", "fixtures.yaml", "--report-dir", "out"]
    code, output = _in_a_terminal(args, tmp_path, columns)
    return code, _frames(output), ANSI.sub("", output)


def test_rows_keep_file_order_and_fit_a_70_column_terminal(tmp_path: Path) -> None:
    code, frames, _ = _run(tmp_path, columns=70)
    assert code == 1  # `first` fails once its breaker opens; the rest is what is shown
    assert len(frames) >= 5
    for frame in frames:
        header, *rows = [line for line in frame if line.strip()]
        assert header.startswith("live-display-with-a-rather-long-name · ") and "/4 steps" in header
        assert [row.split()[0] for row in rows] == STEPS, frame  # never re-sorted by status
        assert all(len(line.rstrip()) <= 70 for line in frame), frame  # nothing wraps
    shown = "\n".join(line for frame in frames for line in frame)
    assert re.search(r"fan +… running +━+ [1-5]/6 · ETA \d+s", shown)  # the bar, counts, ETA
    assert frames[-1][0].startswith("live-display-with-a-rather-long-name · 4/4 steps")


def test_retries_pauses_and_breakers_are_shown_per_step(tmp_path: Path) -> None:
    _, frames, output = _run(tmp_path, columns=120)
    rows = [line for frame in frames for line in frame]
    first = [row for row in rows if row.startswith("first ")]
    assert any(re.search(r"retrying \(2/3\) in \d\.\ds · breaker open \(flaky\)", r) for r in first)
    throttled = [row for row in rows if row.startswith("throttled ")]
    assert any("waiting for provider busy (429)" in row for row in throttled)
    # the final line counts the top-level steps as the header does
    assert "2 of 4 steps succeeded" in output and "4/4 steps" in frames[-1][0]


def test_an_interrupted_run_says_how_to_resume(tmp_path: Path) -> None:
    flow = {
        "version": 1,
        "name": "slow",
        "agents": {"a": {"model": "mock/m"}},
        "steps": {
            "quick": {"agent": "a", "prompt": "hi"},
            "slow": {"needs": ["quick"], "run": ["sleep", "30"]},
        },
    }
    (tmp_path / "my flow.yaml").write_text(yaml.safe_dump(flow, sort_keys=False), encoding="utf-8")
    code, output = _in_a_terminal(
        ["run", "my flow.yaml"], tmp_path, columns=80, interrupt_when=b"slow  \xe2\x80\xa6 running"
    )
    assert code == 130
    assert "carry on with: agnoctl run 'my flow.yaml' --resume latest" in ANSI.sub("", output)
