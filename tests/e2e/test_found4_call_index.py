"""Several tool calls in one streamed Chat Completions reply from a server that numbers them
carelessly, through the real CLI against the fake server.

Found by trying it: the protocol tells the calls of a streamed reply apart by their delta's
``index``. Ollama's OpenAI-compatible endpoint (which docs/providers.md lists) gives every call
of a turn index 0, and Gemini's leaves the index out. agnoctl put every such delta into one
call: the second call's id and name were dropped and the arguments run together
(``{"path": "a"}{"path": "b"}``), a malformed reply retried until the step failed; with a
first call whose arguments are empty, the run went on with one call, the first's name and
the second's arguments, and no error. A delta whose id is not its call's now opens a new call.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import E2E, FAST_RETRY, E2ERun, workflow_doc

CALLS = '[[tool:lookup:{"path": "a"}]] [[tool:note:{}]] [[tool:lookup:{"path": "b"}]]'
MODES = ["zero", "none", "repeat"]  # repeat: the id in every delta, as vLLM sends it


@pytest.fixture(scope="module")
def run(e2e: E2E) -> E2ERun:
    tools = {
        "lookup": {
            "description": "look a path up",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
            "run": ["echo", "looked up {{ args.path }}"],
        },
        "note": {
            "description": "take a note",
            "parameters": {"type": "object", "properties": {}},
            "run": ["echo", "noted"],
        },
    }
    steps = {
        mode: {
            "agent": "writer",
            "prompt": f"{CALLS} [[call_index:{mode}]] {mode}",
            "retry": FAST_RETRY,
        }
        for mode in MODES
    }
    doc = workflow_doc(
        "call-index",
        providers={"p": e2e.provider()},
        agents={"writer": {"model": "p/m", "tools": ["lookup", "note"]}},
        steps=steps,
        tools=tools,
    )
    return e2e.run(doc, "--no-cache")


@pytest.mark.parametrize("mode", MODES)
def test_each_tool_call_of_a_streamed_reply_is_its_own(run: E2ERun, mode: str) -> None:
    assert run.exit_code == 0, run.proc.stdout + run.proc.stderr
    called = [(e["name"], e["arguments"]) for e in run.events_of("tool_call", mode)]
    assert called == [("lookup", {"path": "a"}), ("note", {}), ("lookup", {"path": "b"})]
    assert len({e["id"] for e in run.events_of("tool_call", mode)}) == 3
    assert run.step(mode)["output"].strip() == "tool result: looked up b"
    assert len(run.step(mode)["attempts"]) == 1
