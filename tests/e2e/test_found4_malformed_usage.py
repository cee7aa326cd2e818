"""The tokens of a reply that came back but could not be used, through the real CLI against
the fake server.

Found by trying it: a model's tool call whose arguments are not JSON makes the reply
malformed, and the call is retried (SPEC). The server had answered, 200 with its usage, and
bills those tokens; agnoctl counted the call with 0 tokens and $0: report.json, the budget
(``max_tokens``, ``max_cost_usd``) and the ``llm_call`` events said the retried calls cost
nothing. The usage of a reply that was read is counted whatever is wrong with the rest of it.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import E2E, FAST_RETRY, E2ERun, workflow_doc

ATTEMPTS = FAST_RETRY["max_attempts"]


@pytest.fixture(scope="module")
def run(e2e: E2E) -> E2ERun:
    price = {"m": {"input": 1.0, "output": 2.0}}
    providers = {
        "stream": e2e.provider(pricing=price),
        "whole": e2e.provider(stream=False, pricing=price),
        "anthropic_stream": e2e.provider("anthropic", pricing=price),
    }
    agents = {how: {"model": f"{how}/m", "tools": ["lookup"]} for how in providers}
    tools = {
        "lookup": {
            "description": "look a path up",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
            "run": ["echo", "{{ args.path }}"],
        }
    }
    steps = {
        how: {
            "agent": how,
            "prompt": "[[bad_args:lookup]] [[tokens:1000:500]]",
            "retry": FAST_RETRY,
        }
        for how in providers
    }
    doc = workflow_doc(
        "malformed-usage", providers=providers, agents=agents, steps=steps, tools=tools
    )
    return e2e.run(doc, "--no-cache")


@pytest.mark.parametrize("how", ["stream", "whole", "anthropic_stream"])
def test_a_malformed_reply_counts_the_tokens_it_reported(run: E2ERun, how: str) -> None:
    assert run.exit_code == 1, run.proc.stdout + run.proc.stderr
    step = run.step(how)
    assert step["status"] == "failed" and "malformed" in step["error"]["kind"], step["error"]
    assert step["calls"] == ATTEMPTS
    assert (step["tokens_in"], step["tokens_out"]) == (1000 * ATTEMPTS, 500 * ATTEMPTS)
    assert step["cost_usd"] == pytest.approx(ATTEMPTS * (1000 * 1.0 + 500 * 2.0) / 1e6)
    calls = run.events_of("llm_call", how)
    assert [(c.get("tokens_in"), c.get("tokens_out")) for c in calls] == [(1000, 500)] * ATTEMPTS
