"""A second Ctrl-C while a command tool's program runs ends that program too (found by the
consolidation that made command steps run their programs as command tools do).

The second signal exits at once (`os._exit`), without waiting for the first one's cleanup.
It SIGKILLed the groups of running command *steps* and the MCP servers, but not a command
tool's program: one that ignored the first signal's SIGTERM outlived agnoctl, re-parented
to init, running on. Every program agnoctl runs is now in one registry that the second
signal ends.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from tests import forkcli
from tests.cli.test_run_signals import alive

# Ignores SIGTERM (and writes that it saw one), so the first Ctrl-C's cleanup waits out the
# kill grace: the second comes during that wait.
SLEEPER = (
    "trap 'touch {termed}' TERM; echo $$ > {pid}.tmp && mv {pid}.tmp {pid}; "
    "while :; do sleep 0.05; done"
)


def test_a_second_signal_ends_a_command_tools_program(tmp_path: Path) -> None:
    termed, pid_file = tmp_path / "termed", tmp_path / "pid"
    script = SLEEPER.format(termed=termed, pid=pid_file)
    (tmp_path / "wf.yaml").write_text(
        "version: 1\n"
        "name: tooled\n"
        "tools:\n"
        f"  wait: {{type: command, run: [sh, -c, {json.dumps(script)}], timeout: 60}}\n"
        "agents:\n  a: {model: mock/echo, tools: [wait]}\n"
        "steps:\n  s: {agent: a, prompt: Wait.}\n",
        encoding="utf-8",
    )
    fixtures = {"steps": {"s": [{"tool_calls": [{"name": "wait", "arguments": {}}]}]}}
    (tmp_path / "fx.yaml").write_text(json.dumps(fixtures), encoding="utf-8")
    process = forkcli.start(
        ["run", "wf.yaml", "--mock-fixtures", "fx.yaml", "-q"],
        cwd=tmp_path,
        stdout=forkcli.DEVNULL,
        stderr=forkcli.PIPE,
    )
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    pid = int(pid_file.read_text())
    process.send_signal(signal.SIGINT)
    while not termed.exists():
        assert process.poll() is None and time.monotonic() < deadline, "no SIGTERM came"
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), "the command tool's program outlived agnoctl"
