"""A judge agent's `fallback_models` were never tried: a judge call went to the agent's model
alone, and when that model kept failing the gate failed ("could not score the output") though
the agent named a model to fall back to. SPEC: an agent's fallback models are tried in order
when its model keeps failing; now a judge's calls are routed as a task's are."""

from __future__ import annotations

from tests.e2e.conftest import E2E, FAST_RETRY, workflow_doc


def test_a_judge_falls_back_to_its_next_model(e2e: E2E) -> None:
    attempts = FAST_RETRY["max_attempts"]
    text = f'[[fail:{attempts}:503]] [[json:{{"score": 0.9, "reason": "fine"}}]] an answer'
    gate = {"type": "judge", "agent": "judge", "rubric": "Be concrete.", "min": 0.7}
    doc = workflow_doc(
        "judge-fallback",
        providers={"fake": e2e.provider()},
        agents={"judge": {"model": "fake/j", "fallback_models": ["fake/j2"]}},
        steps={"judged": {"run": ["printf", "%s", text], "gates": [gate]}},
        defaults={"retry": {**FAST_RETRY, "jitter": "none"}},
    )
    run = e2e.run(doc, "--no-cache")
    assert run.exit_code == 0, run.proc.stdout + run.proc.stderr
    (found,) = run.step("judged")["gates"]
    assert found["passed"] is True and found["value"] == 0.9, found
    (fallback,) = run.events_of("model_fallback", "judged")
    assert (fallback["model"], fallback["next_model"]) == ("fake/j", "fake/j2")
    models = [r["body"]["model"] for r in run.requests_with("an answer")]
    assert models == ["j"] * attempts + ["j2"]
