"""MCP tools end to end through the real CLI: a real SDK server (mcp_server.py) over stdio and
over streamable HTTP, and the fake LLM server scripted to call its tools.

One stdio run proves the main path (two tools called, their results in the next model request,
the calls in report.json, one server for every step, none left after the run); a second run
of the same file under --cache-only replays it with no server started; a --mock run starts none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests import forkcli
from tests.e2e.conftest import E2E, FAST_RETRY, E2ERun, clean_env, workflow_doc
from tests.mcp.conftest import HttpServer, alive, no_mcp_leftovers, pids, stdio_entry
from tests.mcp.mcp_server import tiny_png

TOKEN = "mcp-bearer-0123456789-secret"


def _tool(name: str, arguments: dict[str, Any]) -> str:
    return f"[[tool:{name}:{json.dumps(arguments)}]]"


def _tool_messages(request: dict[str, Any]) -> list[str]:
    return [m["content"] for m in request["body"]["messages"] if m["role"] == "tool"]


def _stdio_doc(e2e: E2E, pid_file: Path) -> dict[str, Any]:
    two = _tool("add", {"a": 2, "b": 40}) + _tool("echo", {"text": "hello"})
    kinds = "".join(
        _tool(name, args)
        for name, args in [
            ("shout", {"text": "loud"}),
            ("picture", {}),
            ("broken", {"reason": "x"}),
            ("environment", {}),
            ("crash", {}),  # not in `allow`: refused, and the server lives on
        ]
    )
    return workflow_doc(
        "mcp-stdio",
        providers={"fake": e2e.provider("openai")},
        agents={"helper": {"model": "fake/m", "tools": ["local"]}},
        tools={
            "local": stdio_entry(
                pid_file, allow=["add", "echo", "shout", "pic*", "broken", "environment"]
            )
        },
        steps={
            "two": {"agent": "helper", "prompt": f"scenario two {two}"},
            "kinds": {"agent": "helper", "prompt": f"scenario kinds {kinds}"},
        },
        defaults={"retry": FAST_RETRY},
    )


@pytest.fixture(scope="module")
def stdio_runs(e2e: E2E) -> tuple[E2ERun, E2ERun, E2ERun, Path]:
    pid_file = e2e.root / "stdio-pids"
    path = e2e.write("stdio", _stdio_doc(e2e, pid_file))
    live = e2e.run(path, env={"PLANTED_API_TOKEN": TOKEN})
    started = len(pids(pid_file))
    replay = e2e.run(path, "--cache-only")
    mock = e2e.run(path, "--mock")
    assert len(pids(pid_file)) == started, "a replay or a --mock run started a server"
    return live, replay, mock, pid_file


def test_two_tools_over_stdio_reach_the_next_request_and_the_report(
    stdio_runs: tuple[E2ERun, E2ERun, E2ERun, Path],
) -> None:
    live, _, _, pid_file = stdio_runs
    assert live.exit_code == 0, live.proc.stderr
    follow_up = [r for r in live.requests_with("scenario two") if _tool_messages(r)]
    assert _tool_messages(follow_up[-1]) == ["42", "echo: hello"]
    offered = {t["function"]["name"] for t in follow_up[-1]["body"]["tools"]}
    # `allow` leaves crash, hang and spawn out.
    assert offered == {"add", "echo", "shout", "picture", "broken", "environment"}
    calls = live.step("two")["attempts"][0]["tool_calls"]
    assert [(c["name"], c["ok"]) for c in calls] == [("add", True), ("echo", True)]
    assert all(c["duration_ms"] >= 0 for c in calls)
    assert [e["name"] for e in live.events_of("tool_result", "two")] == ["add", "echo"]
    # One server for both steps, ended with the run.
    assert len(pids(pid_file)) == 1
    no_mcp_leftovers(pid_file)


def test_structured_content_images_and_tool_errors(
    stdio_runs: tuple[E2ERun, E2ERun, E2ERun, Path],
) -> None:
    live = stdio_runs[0]
    follow_up = [r for r in live.requests_with("scenario kinds") if _tool_messages(r)]
    shout, picture, broken, environment, crash = _tool_messages(follow_up[-1])
    assert json.loads(shout) == {"shouted": "LOUD"}
    # Chat Completions takes no image in a tool message: the openai module describes it.
    assert picture == f"a red pixel\n[image: image/png, {len(tiny_png())} bytes]"
    assert broken.startswith("failed: ")  # isError: a failed result the model sees
    # A server gets the SDK's few variables and its `env`, never agnoctl's secrets.
    assert "MCP_PID_FILE" in environment.split() and "PATH" in environment.split()
    assert "PLANTED_API_TOKEN" not in environment
    assert crash.startswith("refused: there is no tool named 'crash'")
    calls = live.step("kinds")["attempts"][0]["tool_calls"]
    assert [c["ok"] for c in calls] == [True, True, False, True, False]
    assert live.step("kinds")["status"] == "succeeded"


def test_a_cached_run_replays_without_the_server(
    stdio_runs: tuple[E2ERun, E2ERun, E2ERun, Path],
) -> None:
    live, replay, _, _ = stdio_runs
    assert replay.exit_code == 0, replay.proc.stderr
    assert replay.stats["requests"] == 0
    for step in ("two", "kinds"):
        assert replay.step(step)["output"] == live.step(step)["output"]
        calls = replay.step(step)["attempts"][0]["tool_calls"]
        assert [c["name"] for c in calls] == [
            c["name"] for c in live.step(step)["attempts"][0]["tool_calls"]
        ]


def test_a_mock_run_starts_no_server(stdio_runs: tuple[E2ERun, E2ERun, E2ERun, Path]) -> None:
    mock = stdio_runs[2]
    assert mock.exit_code == 0, mock.proc.stderr
    assert mock.events_of("tool_call") == []


def test_streamable_http_with_a_secret_header(e2e: E2E, http_server: HttpServer) -> None:
    calls = _tool("add", {"a": 1, "b": 1}) + _tool("echo", {"text": "over http"})
    doc = workflow_doc(
        "mcp-http",
        providers={"fake": e2e.provider("openai")},
        agents={"helper": {"model": "fake/m", "tools": ["remote"]}},
        tools={
            "remote": {
                "type": "mcp",
                "url": http_server.url,
                "headers": {"Authorization": "Bearer ${MCP_TOKEN}"},
                "allow": ["add", "echo"],
            }
        },
        steps={"over_http": {"agent": "helper", "prompt": f"scenario http {calls}"}},
    )
    run = e2e.run(doc, "--no-cache", env={"MCP_TOKEN": TOKEN})
    assert run.exit_code == 0, run.proc.stderr
    follow_up = [r for r in run.requests_with("scenario http") if _tool_messages(r)]
    assert _tool_messages(follow_up[-1]) == ["2", "echo: over http"]
    calls_made = run.step("over_http")["attempts"][0]["tool_calls"]
    assert [c["name"] for c in calls_made] == ["add", "echo"]
    for file in run.run_dir.rglob("*"):
        if file.is_file():
            assert TOKEN not in file.read_text(encoding="utf-8", errors="replace"), file
    assert TOKEN not in run.proc.stdout + run.proc.stderr
    assert all(alive(pid) for pid in pids(http_server.pid_file))  # a remote server is not ours


def test_tools_list_shows_each_agents_tools_on_both_transports(
    e2e: E2E, http_server: HttpServer
) -> None:
    pid_file = e2e.root / "list-pids"
    doc = workflow_doc(
        "mcp-list",
        providers={"fake": e2e.provider("openai")},
        agents={
            "both": {"model": "fake/m", "tools": ["local", "remote", "notes"]},
            "plain": {"model": "fake/m", "tools": ["notes"]},
        },
        tools={
            "local": stdio_entry(pid_file, allow=["add"]),
            "remote": {"type": "mcp", "url": http_server.url, "allow": ["ec*"]},
            "notes": {"type": "read_file", "root": ".", "description": "Read a note."},
        },
        steps={"s": {"agent": "both", "prompt": "hi"}, "t": {"agent": "plain", "prompt": "hi"}},
    )
    path = e2e.write("list", doc)
    proc = forkcli.run(
        ["tools", "list", str(path), "--format", "json"], cwd=e2e.root, env=clean_env()
    )
    assert proc.returncode == 0, proc.stderr
    agents = json.loads(proc.stdout)["agents"]
    seen = {(t["name"], t["source"], t["kind"]) for t in agents["both"]}
    assert seen == {
        ("notes", "notes", "read_file"),
        ("add", "local", "mcp"),
        ("echo", "remote", "mcp"),
    }
    add = next(t for t in agents["both"] if t["name"] == "add")
    assert add["description"] == "Add two integers."
    assert [t["name"] for t in agents["plain"]] == ["notes"]
    no_mcp_leftovers(pid_file)
