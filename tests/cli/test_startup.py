"""What `agnoctl run` loads before its first step: only what the workflow uses.

Read from `python -X importtime`, the interpreter's own record of every module a process
imports, through the real CLI: a webhook's HTTP client, a regex gate's engine, a schema's
validator and the console log renderer are loaded by the runs that need them, not by every run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

ON_DEMAND = (
    *("httpx", "regex", "jsonschema", "structlog", "mcp", "mcp_types"),
    *("prometheus_client", "diskcache", "jinja2", "ray"),
)
"""What a run loads only when its workflow or its options call for it (`--metrics-push` for
prometheus_client; a model server's reply, with the cache on, for diskcache; a template or an
expression that needs Jinja2's parser for jinja2: report.html is drawn without it; `--executor
ray` for ray)."""

PLAIN = """\
version: 1
name: plain
agents:
  writer: {model: mock/echo}
steps:
  greet:
    agent: writer
    prompt: Hello, world!
    gates:
      - {type: contains, value: Hello}
      - {type: length, min: 5}
"""


FOR_SOME_RUNS = (
    *("agnoctl.engine.command", "agnoctl.tools.command"),  # a command step
    "agnoctl.reports.notify",  # a workflow's webhooks
    "agnoctl.engine.toolbox",  # an agent's MCP tools
    "sqlite3",  # the response cache's database, opened for a model server's replies
    "rich.live",  # the live display, on a terminal
    "rich.table",  # the summary table, which `-q` does not print
    "getpass",  # the name of who decides an approval
)
"""agnoctl's own modules and the standard library's that serve only some runs."""


def _imported(*args: str | Path, cwd: Path) -> set[str]:
    """Every top-level package `agnoctl <args>` imports; fails unless the command succeeds."""
    return {name.split(".")[0] for name in _modules(*args, cwd=cwd)}


def _modules(*args: str | Path, cwd: Path) -> set[str]:
    """Every module `agnoctl <args>` imports; fails unless the command succeeds."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "agnoctl", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    # "import time: <self us> | <cumulative us> | <indented module name>"
    lines = [line for line in proc.stderr.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[1].strip() for line in lines[1:]}


def test_a_run_without_webhooks_regex_gates_schemas_or_logs_loads_none_of_their_libraries(
    tmp_path: Path,
) -> None:
    (tmp_path / "wf.yaml").write_text(PLAIN, encoding="utf-8")
    loaded = _imported("run", "wf.yaml", "--mock", cwd=tmp_path)
    assert "agnoctl" in loaded and "anyio" in loaded  # the record is read right
    assert sorted(loaded.intersection(ON_DEMAND)) == []
    assert (tmp_path / ".agnoctl" / "runs" / "latest" / "report.html").is_file()


def test_a_quiet_run_of_agent_steps_loads_nothing_for_command_steps_webhooks_or_display(
    tmp_path: Path,
) -> None:
    (tmp_path / "wf.yaml").write_text(PLAIN, encoding="utf-8")
    loaded = _modules("run", "wf.yaml", "--mock", "-q", cwd=tmp_path)
    assert "agnoctl.engine.scheduler" in loaded and "rich.console" in loaded
    assert sorted(loaded.intersection(FOR_SOME_RUNS)) == []


def test_a_run_that_uses_them_loads_them(tmp_path: Path) -> None:
    """Regex, schema and expression gates, and logs to the console: each library arrives when
    needed."""
    gates = REPO / "examples" / "06-gates"
    loaded = _imported(
        "run",
        gates / "workflow.yaml",
        "--mock-fixtures",
        gates / "fixtures.yaml",
        "-v",
        cwd=tmp_path,
    )
    assert sorted(loaded.intersection(ON_DEMAND)) == ["jinja2", "jsonschema", "regex", "structlog"]


MCP = """\
version: 1
name: with-mcp
agents:
  writer: {model: mock/echo, tools: [fs]}
tools:
  fs: {type: mcp, command: [no-such-mcp-server]}
steps:
  greet: {agent: writer, prompt: Hello}
"""


def test_a_workflow_with_mcp_tools_loads_the_sdk_only_to_start_a_server(tmp_path: Path) -> None:
    """Validating, or a --mock run whose replies call no tool, starts no server: no SDK."""
    (tmp_path / "wf.yaml").write_text(MCP, encoding="utf-8")
    loaded = _imported("run", "wf.yaml", "--mock", cwd=tmp_path)
    assert "agnoctl" in loaded
    assert sorted(loaded.intersection({"mcp", "mcp_types"})) == []


def test_a_run_of_command_steps_loads_no_ray_without_executor_ray(tmp_path: Path) -> None:
    """`resources:` are a Ray request, read only by `--executor ray`: the local executor runs
    the step without importing Ray, which takes seconds."""
    workflow = "version: 1\nname: build\nsteps:\n  make:\n    run: [echo, hi]\n"
    workflow += "    resources: {cpus: 1, memory: 1GiB}\n"
    (tmp_path / "wf.yaml").write_text(workflow, encoding="utf-8")
    loaded = _modules("run", "wf.yaml", cwd=tmp_path)
    assert "ray" not in {name.split(".")[0] for name in loaded}
    # what the run does use arrives: the command step's module, the summary table
    assert {"agnoctl.engine.command", "rich.table"} <= loaded
