"""Tool calling end to end: the fake server asks for tools, agnoctl runs them and sends back
the results, which the fake server then echoes as its answer (``tool result: <last result>``).

One run, one step per scenario: a command tool (argv with shell metacharacters), ``read_file``
(a file, ``..``, a symbolic link out), ``http_get`` against a loopback target (allowed, a host
not in ``allow_hosts``, a redirect off the list), invalid arguments, ``max_tool_calls``, and a
tool call through each protocol's own wire format.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import E2E, FAST_RETRY, E2ERun, workflow_doc

SECRET_TEXT = "TOPSECRET-OUTSIDE-THE-ROOT"
NOTES_TEXT = "meeting notes: ship on friday"
PAGE_TEXT = "loopback page says hello"
WORD_SCHEMA = {"type": "object", "required": ["word"], "properties": {"word": {"type": "string"}}}
SHOUT = "import sys; print('cmd:', sys.argv[1].upper())"


class Target:
    """A loopback HTTP server for ``http_get``: records every path it is asked for."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target.paths.append(self.path)
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", f"http://localhost:{target.port}/after-redirect")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = (PAGE_TEXT if self.path == "/page" else "must never be fetched").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Target:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _tool(name: str, arguments: dict[str, Any]) -> str:
    return f"[[tool:{name}:{json.dumps(arguments)}]]"


def _tools_doc(e2e: E2E, port: int) -> dict[str, Any]:
    page = f"http://127.0.0.1:{port}"
    prompts = {
        "cmd": _tool("shout", {"word": "$(whoami) && echo; hi"}),
        "bad_args": _tool("shout", {"nope": 1}),
        "read_ok": _tool("notes", {"path": "notes.txt"}),
        "read_dotdot": _tool("notes", {"path": "../secret.txt"}),
        "read_symlink": _tool("notes", {"path": "link.txt"}),
        "http_ok": _tool("fetch", {"url": f"{page}/page"}),
        "http_refused": _tool("fetch", {"url": f"http://localhost:{port}/forbidden"}),
        "http_redirect": _tool("fetch", {"url": f"{page}/redirect"}),
    }
    steps: dict[str, Any] = {
        name: {"agent": "helper", "prompt": f"scenario {name} {prompt}"}
        for name, prompt in prompts.items()
    }
    three_calls = "".join(_tool("shout", {"word": w}) for w in ("one", "two", "three"))
    steps["limit"] = {"agent": "limited", "prompt": f"scenario limit {three_calls}"}
    for protocol in ("anthropic", "ollama"):
        steps[f"cmd_{protocol}"] = {
            "agent": f"helper_{protocol}",
            "prompt": f"scenario cmd_{protocol} " + _tool("shout", {"word": protocol}),
        }
    helper = {"model": "fake/m", "tools": ["shout", "notes", "fetch"]}
    return workflow_doc(
        "tools",
        providers={
            "fake": e2e.provider("openai"),
            "fake_anthropic": e2e.provider("anthropic"),
            "fake_ollama": e2e.provider("ollama"),
        },
        agents={
            "helper": helper,
            "limited": {"model": "fake/m", "tools": ["shout"], "max_tool_calls": 2},
            "helper_anthropic": {**helper, "model": "fake_anthropic/m"},
            "helper_ollama": {**helper, "model": "fake_ollama/m"},
        },
        tools={
            "shout": {
                "description": "Shout a word.",
                "parameters": WORD_SCHEMA,
                "run": [sys.executable, "-c", SHOUT, "{{ args.word }}"],
            },
            "notes": {"type": "read_file", "root": "docs"},
            "fetch": {"type": "http_get", "allow_hosts": ["127.0.0.1"]},
        },
        steps=steps,
        defaults={"retry": FAST_RETRY},
    )


def _make_files(root: Path) -> None:
    docs = root / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text(NOTES_TEXT, encoding="utf-8")
    (root / "secret.txt").write_text(SECRET_TEXT, encoding="utf-8")
    (docs / "link.txt").symlink_to(root / "secret.txt")


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    with Target() as server:
        yield server


@pytest.fixture(scope="module")
def tools_run(e2e: E2E, target: Target) -> E2ERun:
    _make_files(e2e.root)
    return e2e.run(_tools_doc(e2e, target.port))


def _seen_by_model(run: E2ERun, step_id: str) -> list[str]:
    """The tool results in the request that followed the tool calls (OpenAI wire format)."""
    first, second = run.requests_with(f"scenario {step_id} ")
    assert "tools" in first["body"]  # the tools were offered
    return [m["content"] for m in second["body"]["messages"] if m["role"] == "tool"]


def test_the_tools_run_passes(tools_run: E2ERun) -> None:
    assert tools_run.exit_code == 0, tools_run.proc.stderr + tools_run.proc.stdout
    assert tools_run.report["status"] == "passed"


def test_command_tool_gets_arguments_exactly_never_through_a_shell(tools_run: E2ERun) -> None:
    # The tool's stdout, as printed (the trailing newline included).
    assert _seen_by_model(tools_run, "cmd") == ["cmd: $(WHOAMI) && ECHO; HI\n"]
    assert tools_run.step("cmd")["output"] == "tool result: cmd: $(WHOAMI) && ECHO; HI\n"


def test_invalid_arguments_are_refused_as_the_tools_result(tools_run: E2ERun) -> None:
    (seen,) = _seen_by_model(tools_run, "bad_args")
    assert seen.startswith("refused: invalid arguments for shout")
    assert "word" in seen


def test_read_file_reads_inside_its_root(tools_run: E2ERun) -> None:
    assert _seen_by_model(tools_run, "read_ok") == [NOTES_TEXT]


@pytest.mark.parametrize(
    ("step_id", "why"),
    [("read_dotdot", "outside the tool's folder (..)"), ("read_symlink", "(a symbolic link)")],
)
def test_read_file_refuses_paths_that_leave_its_root(
    tools_run: E2ERun, step_id: str, why: str
) -> None:
    (seen,) = _seen_by_model(tools_run, step_id)
    assert seen.startswith("refused:")
    assert why in seen
    assert SECRET_TEXT not in json.dumps(tools_run.stats["recent"])
    assert tools_run.step(step_id)["status"] == "succeeded"  # the model was told, and answered


def test_http_get_fetches_an_allowed_host(tools_run: E2ERun, target: Target) -> None:
    assert _seen_by_model(tools_run, "http_ok") == [PAGE_TEXT]
    assert target.paths.count("/page") == 1


def test_http_get_refuses_a_host_not_allowed_without_requesting_it(
    tools_run: E2ERun, target: Target
) -> None:
    (seen,) = _seen_by_model(tools_run, "http_refused")
    assert seen.startswith("refused:")
    assert "'localhost' is not allowed" in seen
    assert "/forbidden" not in target.paths


def test_http_get_rechecks_redirects(tools_run: E2ERun, target: Target) -> None:
    (seen,) = _seen_by_model(tools_run, "http_redirect")
    assert seen.startswith("refused: redirect to")
    assert target.paths.count("/redirect") == 1
    assert "/after-redirect" not in target.paths


def test_max_tool_calls_is_respected(tools_run: E2ERun) -> None:
    seen = _seen_by_model(tools_run, "limit")
    assert seen[:2] == ["cmd: ONE\n", "cmd: TWO\n"]
    assert len(seen) == 3
    assert seen[2].startswith("refused: the limit of 2 tool calls")
    results = tools_run.events_of("tool_result", "limit")
    assert [r["ok"] for r in results] == [True, True, False]


def test_every_call_and_result_is_an_event(tools_run: E2ERun) -> None:
    calls = tools_run.events_of("tool_call", "read_dotdot")
    results = tools_run.events_of("tool_result", "read_dotdot")
    assert [(c["name"], c["arguments"]) for c in calls] == [("notes", {"path": "../secret.txt"})]
    assert [(r["name"], r["ok"], r["id"]) for r in results] == [("notes", False, calls[0]["id"])]
    assert results[0]["error"].startswith("refused:")
    ok = tools_run.events_of("tool_result", "http_ok")
    assert [(r["name"], r["ok"], r["chars"]) for r in ok] == [("fetch", True, len(PAGE_TEXT))]
    # Every step of the run made exactly as many tool calls as it reported results.
    assert len(tools_run.events_of("tool_call")) == len(tools_run.events_of("tool_result")) == 13


@pytest.mark.parametrize(
    ("protocol", "results_of"),
    [
        (
            "anthropic",
            lambda body: [
                b["content"]
                for m in body["messages"]
                if isinstance(m["content"], list)
                for b in m["content"]
                if b.get("type") == "tool_result"
            ],
        ),
        (
            "ollama",
            lambda body: [m["content"] for m in body["messages"] if m["role"] == "tool"],
        ),
    ],
)
def test_tool_calls_over_each_protocols_wire_format(
    tools_run: E2ERun, protocol: str, results_of: Any
) -> None:
    step_id = f"cmd_{protocol}"
    first, second = tools_run.requests_with(f"scenario {step_id} ")
    assert first["protocol"] == protocol
    shouted = f"cmd: {protocol.upper()}\n"
    assert tools_run.step(step_id)["output"] == f"tool result: {shouted}"
    seen = results_of(second["body"])
    assert [s if isinstance(s, str) else s[0]["text"] for s in seen] == [shouted]
