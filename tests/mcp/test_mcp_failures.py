"""MCP servers that fail, through the real CLI: one that crashes mid-call, one that hangs on a
call past its tool's timeout, one that is not on PATH, and one whose tool leaves a grandchild in
a session of its own. Each a clear failure of its step, retried per the step's policy where
retrying may help, never a traceback, and no process left behind (the servers note their pids).
A run interrupted by SIGTERM while a tool call hangs ends its server too.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests import forkcli
from tests.e2e.conftest import E2E, E2ERun, clean_env, workflow_doc
from tests.mcp.conftest import alive, no_mcp_leftovers, pids, stdio_entry

# The module's run waits out real timeouts (a hung call, twice; the SDK's grace before it kills
# a hung server at the run's end): about 5 s on an idle machine, past 7 s on a busy one.
pytestmark = pytest.mark.slow

RETRY = {"max_attempts": 2, "initial_delay": "10ms", "max_delay": "10ms"}


def _call(tool: str) -> str:
    return f"[[tool:{tool}:{json.dumps({})}]]"


@pytest.fixture(scope="module")
def failures(e2e: E2E) -> tuple[E2ERun, Path]:
    root = e2e.root
    entries: dict[str, Any] = {
        "crashy": stdio_entry(root / "crash-pids", allow=["crash"]),
        "hangy": stdio_entry(root / "hang-pids", allow=["hang"], timeout="250ms"),
        "spawner": stdio_entry(root / "spawn-pids", allow=["spawn"]),
        "missing": {"type": "mcp", "command": ["no-such-mcp-server-4711", "--stdio"]},
    }
    tools = {"crashy": "crash", "hangy": "hang", "spawner": "spawn", "missing": "anything"}
    doc = workflow_doc(
        "mcp-failures",
        providers={"fake": e2e.provider("openai")},
        agents={name: {"model": "fake/m", "tools": [name]} for name in entries},
        tools=entries,
        steps={
            name: {"agent": name, "prompt": f"scenario {name} {_call(tool)}"}
            for name, tool in tools.items()
        },
        defaults={"retry": RETRY},
    )
    return e2e.run(doc, "--no-cache"), root


def _error(run: E2ERun, step: str) -> str:
    message: str = run.step(step)["error"]["message"]
    return message


def test_a_crashed_server_fails_the_attempt_and_starts_again(
    failures: tuple[E2ERun, Path],
) -> None:
    run, root = failures
    assert run.step("crashy")["status"] == "failed"
    assert "MCP server `crashy`" in _error(run, "crashy")
    assert "failed during a call of `crash`" in _error(run, "crashy")
    assert len(run.step("crashy")["attempts"]) == 2
    assert len(pids(root / "crash-pids")) == 2  # started again for the second attempt
    no_mcp_leftovers(root / "crash-pids")


def test_a_hung_call_times_out_and_is_retried(failures: tuple[E2ERun, Path]) -> None:
    run, root = failures
    assert "tool `hang` did not answer within its timeout of 0.25s" in _error(run, "hangy")
    assert len(run.step("hangy")["attempts"]) == 2
    assert run.step("hangy")["attempts"][0]["error"]["kind"] == "timeout"
    no_mcp_leftovers(root / "hang-pids")


def test_a_server_not_on_path_is_a_clear_failure_without_retries(
    failures: tuple[E2ERun, Path],
) -> None:
    run, _ = failures
    message = _error(run, "missing")
    assert "`no-such-mcp-server-4711` was not found on PATH" in message
    assert re.search(r"`missing` \(/.+\.yaml:\d+\)", message)  # the entry's file:line
    assert len(run.step("missing")["attempts"]) == 1  # retrying cannot put it on PATH


def test_no_traceback_and_no_process_left(failures: tuple[E2ERun, Path]) -> None:
    run, root = failures
    assert run.exit_code == 1
    assert "Traceback" not in run.proc.stderr + run.proc.stdout
    assert run.step("spawner")["status"] == "succeeded"
    assert len(pids(root / "spawn-pids")) == 2  # the server and its grandchild
    no_mcp_leftovers(root / "spawn-pids")


def test_sigterm_while_a_call_hangs_ends_the_server(e2e: E2E, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    doc = workflow_doc(
        "mcp-interrupted",
        providers={"fake": e2e.provider("openai")},
        agents={"a": {"model": "fake/m", "tools": ["hangy"]}},
        tools={"hangy": stdio_entry(pid_file, allow=["hang"], timeout="60s")},
        steps={"wait": {"agent": "a", "prompt": f"scenario sigterm {_call('hang')}"}},
    )
    path = e2e.write("interrupted", doc)
    out = tmp_path / "out"
    process = forkcli.start(
        ["run", str(path), "--report-dir", str(out), "--no-cache"],
        cwd=tmp_path,
        env=clean_env(),
        stdout=forkcli.PIPE,
        stderr=forkcli.PIPE,
    )
    events = out / "events.jsonl"
    deadline = time.monotonic() + 60
    while '"type":"tool_call"' not in (events.read_text() if events.exists() else ""):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the tool was never called"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert pids(pid_file) and not any(alive(pid) for pid in pids(pid_file))


def test_tools_list_names_a_server_that_cannot_start(e2e: E2E) -> None:
    doc = workflow_doc(
        "mcp-list-missing",
        providers={"fake": e2e.provider("openai")},
        agents={"a": {"model": "fake/m", "tools": ["missing"]}},
        tools={"missing": {"type": "mcp", "command": ["no-such-mcp-server-4711"]}},
        steps={"s": {"agent": "a", "prompt": "hi"}},
    )
    path = e2e.write("list-missing", doc)
    proc = forkcli.run(["tools", "list", str(path)], cwd=e2e.root, env=clean_env(), timeout=60)
    assert proc.returncode == 1
    line = path.read_text(encoding="utf-8").splitlines().index("  missing:") + 1
    assert f"MCP server `missing` ({path}:{line}) could not be used" in proc.stderr
    assert "`no-such-mcp-server-4711` was not found on PATH" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP])
def test_a_signal_while_tools_list_starts_a_server_ends_it(
    e2e: E2E, tmp_path: Path, signum: signal.Signals
) -> None:
    pid_file, notes = tmp_path / "pids", tmp_path / "notes"
    # It notes what reaches it first: SIGTERM (it exits) or the end of its stdin (it stays).
    silent = (
        "import os, signal, sys, time\n"
        "def note(what): open(sys.argv[2], 'a').write(what + '\\n')\n"
        "signal.signal(signal.SIGTERM, lambda *_: (note('sigterm'), os._exit(0)))\n"
        "open(sys.argv[1], 'a').write(f'{os.getpid()}\\n')\n"
        "sys.stdin.buffer.read()\n"
        "note('stdin closed')\n"
        "time.sleep(600)\n"
    )
    doc = workflow_doc(
        "mcp-list-interrupted",
        providers={"fake": e2e.provider("openai")},
        agents={"a": {"model": "fake/m", "tools": ["silent"]}},
        tools={
            "silent": {
                "type": "mcp",
                "command": [sys.executable, "-c", silent, str(pid_file), str(notes)],
                "startup_timeout": "60s",  # the handshake never comes: only SIGINT ends this
            }
        },
        steps={"s": {"agent": "a", "prompt": "hi"}},
    )
    path = e2e.write("list-interrupted", doc)
    process = forkcli.start(
        ["tools", "list", str(path)],
        cwd=tmp_path,
        env=clean_env(),
        stdout=forkcli.PIPE,
        stderr=forkcli.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not pids(pid_file):  # the server runs, waiting for a handshake it ignores
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the server was never started"
            time.sleep(0.05)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=20)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not any(alive(pid) for pid in pids(pid_file))
    # Ended at once, not asked to exit by its stdin and given the SDK's seconds of grace.
    assert notes.read_text(encoding="utf-8").splitlines()[0] == "sigterm"
