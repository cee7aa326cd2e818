"""An MCP server (stdio) that exits before its handshake, through the real CLI.

Found by trying it: a server that printed why it could not start (a missing module, a bad
argument) and exited was reported as "Connection closed", its last stderr line alone after
it; a traceback's cause is on the lines before. Now the step's error and `agnoctl tools list`
name the server, say that it closed its output before the handshake, and quote the last lines
of its stderr, masked as other output is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.conftest import RunCli
from tests.e2e.conftest import E2E, workflow_doc

TOKEN = "mcp-found2-0123456789-secret"

# The server says why in two lines, the secret it was given in the first, then exits 3.
SERVER = (
    "import os, sys; "
    "print('cannot start with token', os.environ['DYING_API_TOKEN'], file=sys.stderr); "
    "print('ModuleNotFoundError: No module named foo', file=sys.stderr); "
    "sys.exit(3)"
)


ENTRY = {
    "type": "mcp",
    "command": [sys.executable, "-c", SERVER],
    "env": {"DYING_API_TOKEN": "${DYING_API_TOKEN}"},
}


def _says_why(message: str) -> None:
    assert "MCP server `dying`" in message
    assert "closed its output (exited) before answering its handshake" in message
    assert "Connection closed" not in message
    assert (
        "server stderr: cannot start with token *** | ModuleNotFoundError: No module named foo"
    ) in message
    assert TOKEN not in message


def test_tools_list_says_why(run_cli: RunCli, tmp_path: Path) -> None:
    doc = {
        "version": 1,
        "name": "dying",
        "tools": {"dying": ENTRY},
        "agents": {"a": {"model": "mock/echo", "tools": ["dying"]}},
        "steps": {"s": {"agent": "a", "prompt": "hi"}},
    }
    (tmp_path / "wf.yaml").write_text(json.dumps(doc), encoding="utf-8")
    result = run_cli("tools", "list", "wf.yaml", env={"DYING_API_TOKEN": TOKEN})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    _says_why(result.stdout + result.stderr)


def test_the_step_error_says_why(e2e: E2E) -> None:
    call = f"[[tool:anything:{json.dumps({})}]]"
    doc = workflow_doc(
        "dying",
        providers={"fake": e2e.provider("openai")},
        agents={"a": {"model": "fake/m", "tools": ["dying"]}},
        tools={"dying": ENTRY},
        steps={"s": {"agent": "a", "prompt": f"scenario dying {call}"}},
    )
    run = e2e.run(doc, "--no-cache", env={"DYING_API_TOKEN": TOKEN})
    assert run.exit_code == 1, run.proc.stderr
    assert "Traceback" not in run.proc.stderr
    _says_why(run.step("s")["error"]["message"])
    assert TOKEN not in run.proc.stdout + run.proc.stderr
