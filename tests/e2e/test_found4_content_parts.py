"""A Chat Completions reply whose content is a list of typed chunks, through the real CLI
against the fake server.

Found by trying it: Mistral's reasoning models (and gateways passing them through) answer on
the OpenAI route with ``message.content`` (and, streamed, ``delta.content``) as a list of
chunks, ``{"type": "thinking", ...}`` then ``{"type": "text", "text": ...}``. agnoctl read
only a string there: the answer became "", the step succeeded with an empty output, exit 0.
The text chunks are the answer now; thinking is left out, as Anthropic's thinking blocks are.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import E2E, E2ERun, workflow_doc

SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}


@pytest.fixture(scope="module")
def run(e2e: E2E) -> E2ERun:
    providers = {
        "stream": e2e.provider(),
        "whole": e2e.provider(stream=False),
    }
    agents = {how: {"model": f"{how}/magistral"} for how in providers}
    steps = {}
    for how in providers:
        steps[f"{how}_text"] = {"agent": how, "prompt": "[[content_parts]] [[text:the answer]]"}
        steps[f"{how}_json"] = {
            "agent": how,
            "prompt": '[[content_parts]] [[json:{"title": "t"}]]',
            "output_schema": SCHEMA,
        }
    doc = workflow_doc("content-parts", providers=providers, agents=agents, steps=steps)
    return e2e.run(doc, "--no-cache")


@pytest.mark.parametrize("how", ["stream", "whole"])
def test_the_text_chunks_are_the_answer(run: E2ERun, how: str) -> None:
    assert run.exit_code == 0, run.proc.stdout + run.proc.stderr
    assert run.step(f"{how}_text")["output"] == "the answer"
    assert run.step(f"{how}_json")["output"] == {"title": "t"}
    assert len(run.step(f"{how}_json")["attempts"]) == 1
