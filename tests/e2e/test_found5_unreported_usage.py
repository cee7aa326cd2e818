"""Limits hold against a server that reports no usage, through the real CLI against the fake
server.

Found by the provider pass: a reply without usage (an OpenAI-compatible server that ignores
`stream_options`, or sends no `usage`) counted 0 tokens and $0, so `max_tokens` and
`max_cost_usd` never stopped a run however many calls it made. Such a call now counts, for
the limits, at its reservation (its worst case); what report.json's cost shows stays what the
server said.
"""

from __future__ import annotations

from tests.e2e.conftest import E2E, workflow_doc

ITEMS = 40
MAX_TOKENS = 2_000  # each call reserves its prompt's estimate and its max_tokens of 200


def test_a_server_that_reports_no_usage_is_stopped_by_max_tokens(e2e: E2E) -> None:
    doc = workflow_doc(
        "unreported-usage",
        providers={"silent": e2e.provider(stream=False)},
        agents={"w": {"model": "silent/m", "max_tokens": 200}},
        steps={
            "fan": {"for_each": list(range(ITEMS)), "agent": "w", "prompt": "[[tokens:0:0]] hi"}
        },
        limits={"max_tokens": MAX_TOKENS},
    )
    run = e2e.run(doc, "--no-cache")
    assert run.exit_code == 1, run.proc.stdout + run.proc.stderr
    assert "max_tokens" in run.report["reason"]
    limits = run.report["limits"]
    assert 0 < limits["max_llm_calls"]["used"] < ITEMS
    assert 0 < limits["max_tokens"]["used"] <= MAX_TOKENS  # the calls' reservations
    assert run.report["cost"]["total"]["tokens"] == 0  # what the server said


def test_a_failed_call_still_adds_nothing_to_the_limits(e2e: E2E) -> None:
    """A 400 has no usage either, and is not a reply: it counts as a call, with no tokens."""
    doc = workflow_doc(
        "failed-calls",
        providers={"refusing": e2e.provider(stream=False)},
        agents={"w": {"model": "refusing/m", "max_tokens": 200}},
        steps={
            "fan": {
                "for_each": list(range(ITEMS)),
                "max_concurrency": 1,  # one reservation held at a time
                "agent": "w",
                "prompt": "[[status:400]] hi",
            }
        },
        limits={"max_tokens": MAX_TOKENS},
    )
    run = e2e.run(doc, "--no-cache")
    assert run.exit_code == 1, run.proc.stdout + run.proc.stderr
    assert "max_tokens" not in run.report["reason"]
    assert run.report["limits"]["max_llm_calls"]["used"] == ITEMS  # every item was asked
    assert run.report["limits"]["max_tokens"]["used"] == 0
