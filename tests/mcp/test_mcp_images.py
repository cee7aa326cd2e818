"""Images in MCP tool results through the real CLI: one run with an anthropic and an ollama
agent on the fake LLM server, each calling the SDK server's `picture` tool (a caption and a
real PNG). The next request carries the PNG where the protocol takes it (decoded here and
compared byte for byte); an agent whose `max_attachment_bytes` the PNG exceeds, and an image
whose bytes are not of their type, get a line of text instead; report.json names the images it
sent and, with events.jsonl, holds no base64. (The openai path, text only, is test_mcp_e2e's.)
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import E2E, FAST_RETRY, E2ERun, workflow_doc
from tests.mcp.conftest import no_mcp_leftovers, stdio_entry
from tests.mcp.mcp_server import tiny_png

PNG = tiny_png()
PICTURE = "[[tool:picture:{}]]"


def _agent(provider: str, **extra: Any) -> dict[str, Any]:
    return {"model": f"{provider}/m", "tools": ["local"], **extra}


@pytest.fixture(scope="module")
def run(e2e: E2E) -> tuple[E2ERun, Path]:
    pid_file = e2e.root / "image-pids"
    doc = workflow_doc(
        "mcp-images",
        providers={"claude": e2e.provider("anthropic"), "local": e2e.provider("ollama")},
        agents={
            "claude": _agent("claude"),
            "llama": _agent("local"),
            "small": _agent("claude", max_attachment_bytes=len(PNG) - 1),
        },
        tools={"local": stdio_entry(pid_file, allow=["picture", "scribble"])},
        steps={
            "anthropic": {"agent": "claude", "prompt": f"scenario anthropic {PICTURE}"},
            "ollama": {"agent": "llama", "prompt": f"scenario ollama {PICTURE}"},
            "capped": {"agent": "small", "prompt": f"scenario capped {PICTURE}"},
            "scribble": {"agent": "claude", "prompt": "scenario scribble [[tool:scribble:{}]]"},
        },
        defaults={"retry": FAST_RETRY},
    )
    return e2e.run(e2e.write("images", doc)), pid_file


def _last(run: E2ERun, marker: str) -> dict[str, Any]:
    body: dict[str, Any] = run.requests_with(marker)[-1]["body"]
    return body


def _tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The anthropic request's tool_result blocks."""
    return [
        block
        for message in body["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]


def test_anthropic_gets_the_image_in_its_tool_result(run: tuple[E2ERun, Path]) -> None:
    live, pid_file = run
    assert live.exit_code == 0, live.proc.stderr
    (result,) = _tool_results(_last(live, "scenario anthropic"))
    text, image = result["content"]
    assert text == {"type": "text", "text": "a red pixel"}
    assert image["type"] == "image" and image["source"]["media_type"] == "image/png"
    assert base64.b64decode(image["source"]["data"]) == PNG
    no_mcp_leftovers(pid_file)


def test_ollama_gets_the_image_on_its_tool_message(run: tuple[E2ERun, Path]) -> None:
    live = run[0]
    (tool,) = [m for m in _last(live, "scenario ollama")["messages"] if m["role"] == "tool"]
    assert tool["content"] == "a red pixel"
    assert [base64.b64decode(data) for data in tool["images"]] == [PNG]


def test_an_image_over_the_cap_or_not_of_its_type_is_described(run: tuple[E2ERun, Path]) -> None:
    live = run[0]
    (capped,) = _tool_results(_last(live, "scenario capped"))
    assert capped["content"] == (
        f"a red pixel\n[image: image/png, {len(PNG)} bytes] (not sent: over the agent's "
        f"max_attachment_bytes of {len(PNG) - 1})"
    )
    (scribble,) = _tool_results(_last(live, "scenario scribble"))
    assert scribble["content"] == "[image: image/png, 4 bytes]"


def test_reports_and_events_hold_no_image_bytes(run: tuple[E2ERun, Path]) -> None:
    live = run[0]
    encoded = base64.b64encode(PNG).decode("ascii")
    for name in ("report.json", "events.jsonl"):
        assert encoded[:16] not in (live.run_dir / name).read_text(encoding="utf-8")
    (call,) = live.step("anthropic")["attempts"][0]["tool_calls"]
    assert call["images"] == [
        {
            "name": "local.picture#1.png",
            "media_type": "image/png",
            "size": len(PNG),
            "sha256": hashlib.sha256(PNG).hexdigest(),
            "url": None,
        }
    ]
    (event,) = live.events_of("tool_result", "anthropic")
    assert event["images"] == [{k: v for k, v in call["images"][0].items() if v is not None}]
    (capped,) = live.step("capped")["attempts"][0]["tool_calls"]
    assert not capped.get("images")  # described in text, not sent
    names = [e["name"] for e in live.events_of("tool_result")]
    assert sorted(names) == ["picture", "picture", "picture", "scribble"]
