"""A reply the server says it did not finish, through the real CLI against the fake server.

Found by trying it: every protocol tells why a reply ended (OpenAI ``finish_reason``,
Anthropic ``stop_reason``, Ollama ``done_reason``), and agnoctl kept it without reading it. A
reply cut at ``max_tokens`` (``length`` / ``max_tokens``) was the step's output, exit 0: a
brief cut mid-sentence reported as a success. A reply withheld by the provider's content
filter (``content_filter``), cut where it filled the model's context window (Anthropic's
``model_context_window_exceeded``) or refused by the model (Anthropic's ``refusal``) was an empty
or partial output that passed too; OpenAI's refusal (``message.refusal``, no content,
``finish_reason: stop``) was an empty output, retried as invalid JSON when a schema applied,
the model's reason never shown. Anthropic structured output hid the cut altogether: the
output tool's call turned any stop reason into ``stop``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import E2E, E2ERun, workflow_doc

REFUSAL = "I cannot help with that request"
SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}


def _step(agent: str, prompt: str, **extra: Any) -> dict[str, Any]:
    return {"agent": agent, "prompt": prompt, **extra}


@pytest.fixture(scope="module")
def run(e2e: E2E) -> E2ERun:
    protocols = ("openai", "anthropic", "ollama")
    providers = {
        **{f"{p}_stream": e2e.provider(p) for p in protocols},
        **{f"{p}_whole": e2e.provider(p, stream=False) for p in protocols},
    }
    agents = {
        f"{p}_{how}": {"model": f"{p}_{how}/m", "max_tokens": 64}
        for p in protocols
        for how in ("stream", "whole")
    }
    steps: dict[str, Any] = {}
    for agent in agents:
        steps[f"{agent}_cut"] = _step(agent, "[[finish:length]] write a brief")
        steps[f"{agent}_done"] = _step(agent, "write a brief")
    for how in ("stream", "whole"):
        steps[f"openai_{how}_filtered"] = _step(f"openai_{how}", "[[finish:content_filter]] a")
        steps[f"anthropic_{how}_refused"] = _step(f"anthropic_{how}", "[[finish:refusal]] b")
        steps[f"anthropic_{how}_window"] = _step(
            f"anthropic_{how}", "[[finish:model_context_window_exceeded]] d"
        )
        steps[f"openai_{how}_refused"] = _step(
            f"openai_{how}", f"[[finish:refusal]] [[text:{REFUSAL}]]", output_schema=SCHEMA
        )
        steps[f"anthropic_{how}_cut_schema"] = _step(
            f"anthropic_{how}", "[[finish:length]] c", output_schema=SCHEMA
        )
    doc = workflow_doc("finish-reasons", providers=providers, agents=agents, steps=steps)
    return e2e.run(doc, "--no-cache")


AGENTS = [f"{p}_{how}" for p in ("openai", "anthropic", "ollama") for how in ("stream", "whole")]


@pytest.mark.parametrize("agent", AGENTS)
def test_a_reply_cut_at_max_tokens_fails_its_step_saying_so(run: E2ERun, agent: str) -> None:
    assert run.exit_code == 1, run.proc.stdout + run.proc.stderr
    cut = run.step(f"{agent}_cut")
    assert cut["status"] == "failed"
    message = cut["error"]["message"]
    assert "cut at the agent's max_tokens (64)" in message, message
    assert run.step(f"{agent}_done")["status"] == "succeeded"
    # The cut reply was paid for: its tokens count, as any reply's do.
    calls = [e for e in run.events_of("llm_call", f"{agent}_cut") if e.get("error") is None]
    assert len(calls) == 1 and cut["tokens_out"] > 0


@pytest.mark.parametrize("how", ["stream", "whole"])
def test_a_filtered_or_refused_reply_fails_its_step(run: E2ERun, how: str) -> None:
    filtered = run.step(f"openai_{how}_filtered")
    assert filtered["status"] == "failed"
    assert "content filter" in filtered["error"]["message"], filtered["error"]
    window = run.step(f"anthropic_{how}_window")
    assert window["status"] == "failed"
    assert "filled the model's context window" in window["error"]["message"], window["error"]
    refused = run.step(f"anthropic_{how}_refused")
    assert refused["status"] == "failed"
    assert "refused" in refused["error"]["message"], refused["error"]


@pytest.mark.parametrize("how", ["stream", "whole"])
def test_anthropic_structured_output_cut_at_max_tokens_is_not_a_success(
    run: E2ERun, how: str
) -> None:
    step = run.step(f"anthropic_{how}_cut_schema")
    assert step["status"] == "failed"
    assert "max_tokens" in step["error"]["message"], step["error"]


@pytest.mark.parametrize("how", ["stream", "whole"])
def test_an_openai_refusal_fails_its_step_with_the_models_reason(run: E2ERun, how: str) -> None:
    step = run.step(f"openai_{how}_refused")
    assert step["status"] == "failed"
    assert step["error"]["message"].endswith(
        f"the model refused to answer (finish reason: refusal): {REFUSAL}"
    )
    assert len(step["attempts"]) == 1  # the same question meets the same refusal
