"""What the response cache keys a request by, through the real CLI against the fake server.

Found by changing one thing between two runs: the key was made of a canonical JSON that sorts
every object's keys, so an output schema or a tool's parameters with their properties
reordered (``reasoning`` before ``answer``: the order in which the model reads them, and under
OpenAI's strict mode writes them) replayed the reply to the other order; and a PDF renamed
(same bytes) replayed the reply about the old name, which OpenAI's file part shows the model.
Both now miss; a file written with its YAML keys in another order still hits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import E2E, E2ERun, workflow_doc

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ANSWER_FIRST = {"answer": {"type": "string"}, "reasoning": {"type": "string"}}
REASONING_FIRST = {"reasoning": {"type": "string"}, "answer": {"type": "string"}}


def _schema(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": ["answer", "reasoning"]}


def _doc(e2e: E2E, *, changed: bool) -> dict[str, Any]:
    tool = {
        "description": "Look a word up.",
        "parameters": _schema(REASONING_FIRST if changed else ANSWER_FIRST),
        "run": ["true"],
    }
    same_agent = {"model": "p/m", "instructions": "Be terse.", "temperature": 0.2}
    if changed:  # the same agent, its keys written in another order
        same_agent = dict(reversed(list(same_agent.items())))
    agents = {
        "same": same_agent,
        "schema": {
            "model": "p/m",
            "output_schema": _schema(REASONING_FIRST if changed else ANSWER_FIRST),
        },
        "tooled": {"model": "p/m", "tools": ["lookup"]},
        "pdf": {"model": "p/m", "attachments": ["b.pdf" if changed else "a.pdf"]},
    }
    steps = {
        "same": {"agent": "same", "prompt": "K-same"},
        "schema": {"agent": "schema", "prompt": "K-schema"},
        "tooled": {"agent": "tooled", "prompt": "K-tooled"},
        "pdf": {"agent": "pdf", "prompt": "K-pdf: which file is this?"},
    }
    providers = {"p": e2e.provider()}
    return workflow_doc("cache-key", providers=providers, agents=agents, steps=steps) | {
        "tools": {"lookup": tool}
    }


@pytest.fixture(scope="module")
def second(e2e: E2E) -> E2ERun:
    for name in ("a.pdf", "b.pdf"):
        Path(e2e.root, name).write_bytes(PDF)
    first = e2e.run(_doc(e2e, changed=False))
    assert first.exit_code == 0, first.proc.stdout + first.proc.stderr
    run = e2e.run(_doc(e2e, changed=True))
    assert run.exit_code == 0, run.proc.stdout + run.proc.stderr
    return run


@pytest.mark.parametrize("tag", ["K-schema", "K-tooled", "K-pdf"])
def test_a_request_the_model_reads_differently_misses(second: E2ERun, tag: str) -> None:
    assert len(second.requests_with(tag)) == 1


def test_the_same_request_written_in_another_key_order_hits(second: E2ERun) -> None:
    assert second.requests_with("K-same") == []
