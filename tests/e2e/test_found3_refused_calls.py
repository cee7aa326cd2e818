"""Calls a provider's guard refuses before sending them, through the real CLI against the fake
server.

Found by trying it: docs/cost-control.md counts a call as a request sent to a provider, and a
call that never reached one gives its reservation back. A call failed fast by an open circuit
breaker was counted all the same: a call against ``max_llm_calls``, a call in report.json and
an ``llm_call`` event, though the server never saw it. A run whose fallback model answered
every call within its limit stopped at ``max_llm_calls``, and the report's call count was more
than the server's. Calls still waiting for their provider's concurrency window when
``max_duration`` cancelled them counted too (report.json said 6 calls of a run whose server
saw 2), while a call cancelled in flight, sent, counted in the report but wrote no ``llm_call``
event, so metrics.prom said 1.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import E2E, FAST_RETRY, E2ERun, workflow_doc

SENT = 3  # flaky's 503; spare's answers to both steps


@pytest.fixture(scope="module")
def run(e2e: E2E) -> E2ERun:
    providers = {
        # One failure opens the breaker, which stays open for the whole run.
        "flaky": e2e.provider(circuit_breaker={"failure_threshold": 1, "recovery_timeout": "1h"}),
        "spare": e2e.provider(),
    }
    agents = {"writer": {"model": "flaky/broken", "fallback_models": ["spare/spare"]}}
    steps = {
        # The first request carrying [[fail:1]] fails; spare's, the second, is answered.
        "first": {"agent": "writer", "prompt": "[[fail:1]] first", "retry": FAST_RETRY},
        "second": {"agent": "writer", "needs": ["first"], "prompt": "second"},
    }
    doc = workflow_doc(
        "refused-calls",
        providers=providers,
        agents=agents,
        steps=steps,
        limits={"max_llm_calls": SENT},
    )
    return e2e.run(doc, "--no-cache")


def test_calls_failed_fast_by_an_open_breaker_are_not_counted(run: E2ERun) -> None:
    assert run.exit_code == 0, run.proc.stdout + run.proc.stderr
    assert run.stats["requests"] == SENT
    assert run.report["cost"]["total"]["calls"] == SENT
    assert run.report["limits"]["max_llm_calls"]["used"] == SENT
    assert sum(run.step(s)["calls"] for s in ("first", "second")) == SENT
    assert len(run.events_of("llm_call")) == SENT


@pytest.fixture(scope="module")
def cancelled(e2e: E2E) -> E2ERun:
    providers = {"slow": e2e.provider(max_concurrency=1)}  # one call out, the others wait
    agents = {"writer": {"model": "slow/slow"}}
    steps = {
        "fan": {
            "agent": "writer",
            "for_each": "range(4) | list",
            "prompt": "[[hang:60]] {{ item }}",
        }
    }
    doc = workflow_doc(
        "cancelled-calls",
        providers=providers,
        agents=agents,
        steps=steps,
        limits={"max_duration": "1s"},  # cancels the call in flight and those waiting
    )
    return e2e.run(doc, "--no-cache")


def test_calls_cancelled_while_held_are_not_counted_and_one_in_flight_is(
    cancelled: E2ERun,
) -> None:
    assert cancelled.exit_code == 1, cancelled.proc.stdout + cancelled.proc.stderr
    assert "max_duration" in cancelled.report["reason"]
    assert cancelled.stats["requests"] == 1
    assert cancelled.report["cost"]["total"]["calls"] == 1
    assert cancelled.step("fan")["calls"] == 1
    (call,) = cancelled.events_of("llm_call")
    assert call["error"] == "cancelled"
    metrics = (cancelled.run_dir / "metrics.prom").read_text(encoding="utf-8")
    assert 'agnoctl_llm_calls_total{model="slow",provider="slow",step="fan"} 1.0' in metrics


def test_the_refusal_is_still_each_attempts_reason(run: E2ERun) -> None:
    reasons = [
        e["reason"] for e in run.events_of("attempt_failed") if e["reason"] == "circuit_open"
    ]
    assert len(reasons) == 2  # first's second attempt, second's first
    assert run.step("second")["model"] == "spare/spare"
