"""The fault matrix of SPEC "Retries, timeouts, circuit breakers", through the real CLI.

One run holds every scenario as its own step, each behind its own provider entry so that one
scenario's failures never trip another's circuit breaker. The fake server is scripted by
directives in the prompts, and, for behaviour that depends on the model asked (a broken model
and its fallback, a reply that validates only the second time), by a responder.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from agnoctl.testing.fake_llm import FakeLLMConfig, FakeLLMThread, FakeReply, FakeRequest
from tests.e2e.conftest import E2E, FAST_RETRY, E2ERun, workflow_doc

BUILTIN_KEY = "sk-e2e-builtin-0123456789"
ENTRY_KEY = "sk-e2e-entry-0123456789"
SCORE_SCHEMA = {
    "type": "object",
    "required": ["score"],
    "properties": {"score": {"type": "number"}},
}

# step id -> (prompt, extra step fields); every step gets its own provider, named after it.
SCENARIOS: dict[str, tuple[str, dict[str, Any]]] = {
    "http_500": ("[[fail:2:500]]", {}),
    "http_502": ("[[fail:1:502]]", {}),
    "http_503": ("[[fail:2:503]]", {}),
    "rate_429": ("[[429:retry_after=1]]", {}),
    "hang": ("[[hang:30]]", {"timeout": "300ms", "retry": {**FAST_RETRY, "max_attempts": 2}}),
    "malformed": ("[[malformed:1]]", {}),
    "reset": ("[[reset:1]]", {}),
    "bad_request": ("[[status:400]]", {}),
    "auth_entry": ("[[status:401:key=entry]]", {}),
}


class Responder:
    """Model-dependent behaviour: ``broken`` and ``down`` always fail; ``schema-once`` first
    answers JSON that does not validate, then a valid instance."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def __call__(self, request: FakeRequest) -> FakeReply | None:
        self.seen[request.model] += 1
        if request.model in ("broken", "down"):
            return FakeReply(status=503, error=f"{request.model} is down")
        if request.model == "schema-once" and self.seen[request.model] == 1:
            return FakeReply(text='{"score": "high"}')
        return None


def _matrix_doc(e2e: E2E) -> dict[str, Any]:
    providers: dict[str, Any] = {name: e2e.provider() for name in SCENARIOS}
    providers["auth_entry"]["api_key"] = "${E2E_ENTRY_KEY}"
    # Named after the built-in with no api_key: the key comes from OPENAI_API_KEY.
    providers["openai"] = {"type": "openai", "base_url": f"{e2e.url}/v1"}
    providers["flaky"] = e2e.provider(
        circuit_breaker={"failure_threshold": 2, "recovery_timeout": "60s"}
    )
    providers["spent"] = e2e.provider()
    providers["backup"] = e2e.provider()
    providers["strict"] = e2e.provider()
    agents: dict[str, Any] = {name: {"model": f"{name}/m-{name}"} for name in SCENARIOS}
    agents["builtin"] = {"model": "openai/m-builtin"}
    agents["breaker"] = {"model": "flaky/broken", "fallback_models": ["backup/spare"]}
    agents["spent"] = {"model": "spent/down", "fallback_models": ["backup/spare"]}
    agents["schema"] = {"model": "strict/schema-once", "output_schema": SCORE_SCHEMA}
    steps: dict[str, Any] = {
        name: {"agent": name, "prompt": f"scenario {name} {prompt}", **extra}
        for name, (prompt, extra) in SCENARIOS.items()
    }
    steps["auth_builtin"] = {"agent": "builtin", "prompt": "scenario builtin [[status:401]]"}
    steps["breaker"] = {
        "agent": "breaker",
        "prompt": "scenario breaker",
        "retry": {**FAST_RETRY, "max_attempts": 4},
    }
    steps["retries_spent"] = {
        "agent": "spent",
        "prompt": "scenario retries spent",
        "retry": {**FAST_RETRY, "max_attempts": 2},
    }
    steps["schema_retry"] = {"agent": "schema", "prompt": "scenario schema: give a score"}
    return workflow_doc(
        "fault-matrix",
        providers=providers,
        agents=agents,
        steps=steps,
        defaults={"retry": FAST_RETRY, "timeout": "10s"},
    )


@pytest.fixture(scope="module")
def matrix(e2e: E2E, fake_server: FakeLLMThread) -> Iterator[E2ERun]:
    fake_server.server.config = FakeLLMConfig(responder=Responder())
    try:
        yield e2e.run(
            _matrix_doc(e2e),
            env={"OPENAI_API_KEY": BUILTIN_KEY, "E2E_ENTRY_KEY": ENTRY_KEY},
        )
    finally:
        fake_server.server.config = FakeLLMConfig()


def _attempt_reasons(step: dict[str, Any]) -> list[str | None]:
    return [a["error"]["kind"] if a["error"] else None for a in step["attempts"]]


def _ts(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp()


def test_the_run_fails_for_the_steps_that_must_fail(matrix: E2ERun) -> None:
    assert matrix.exit_code == 1
    assert matrix.report["status"] == "failed"
    failed = {path for path, s in matrix.report["steps"].items() if s["status"] == "failed"}
    assert failed == {"hang", "bad_request", "auth_entry", "auth_builtin"}


@pytest.mark.parametrize(
    ("step_id", "directive", "failures", "kind"),
    [
        ("http_500", "[[fail:2:500]]", 2, "unavailable"),
        ("http_502", "[[fail:1:502]]", 1, "unavailable"),
        ("http_503", "[[fail:2:503]]", 2, "unavailable"),
        ("malformed", "[[malformed:1]]", 1, "malformed_response"),
        ("reset", "[[reset:1]]", 1, "connection_error"),
    ],
)
def test_transient_failures_are_retried_until_success(
    matrix: E2ERun, step_id: str, directive: str, failures: int, kind: str
) -> None:
    step = matrix.step(step_id)
    assert step["status"] == "succeeded"
    assert step["output"] == f"echo: scenario {step_id}"
    assert matrix.key_count(directive) == failures + 1  # requests the server received
    assert _attempt_reasons(step) == [kind] * failures + [None]
    scheduled = matrix.events_of("retry_scheduled", step_id)
    assert [e["reason"] for e in scheduled] == [kind] * failures


def test_429_waits_for_retry_after(matrix: E2ERun) -> None:
    step = matrix.step("rate_429")
    assert step["status"] == "succeeded"
    first, second = matrix.requests_with("scenario rate_429")
    # Measured on the server: the second request came at least Retry-After after the first.
    assert second["received"] - first["received"] >= 1.0
    (scheduled,) = matrix.events_of("retry_scheduled", "rate_429")
    assert scheduled["reason"] == "rate_limited"
    assert scheduled["delay"] >= 1.0  # the header won over the 10 ms backoff
    (failed,) = matrix.events_of("attempt_failed", "rate_429")
    (restarted,) = matrix.events_of("attempt_started", "rate_429")
    assert _ts(restarted) - _ts(failed) >= 0.99  # events carry milliseconds


def test_a_hang_longer_than_timeout_is_retried_then_fails_clearly(matrix: E2ERun) -> None:
    step = matrix.step("hang")
    assert step["status"] == "failed"
    assert matrix.key_count("[[hang:30]]") == 2  # max_attempts: 2
    assert _attempt_reasons(step) == ["timeout", "timeout"]
    assert "timed out after 0.3s" in step["error"]["message"]
    assert "hang" in step["error"]["message"]  # names the step
    # Each attempt was cut at the timeout, not left to the 30 s hang.
    for attempt in step["attempts"]:
        assert 250 <= attempt["duration_ms"] < 3000


@pytest.mark.parametrize(
    ("step_id", "directive", "hint", "key"),
    [
        ("auth_builtin", "[[status:401]]", "OPENAI_API_KEY", BUILTIN_KEY),
        ("auth_entry", "[[status:401:key=entry]]", "providers.auth_entry.api_key", ENTRY_KEY),
    ],
)
def test_401_is_not_retried_and_says_which_key_to_set(
    matrix: E2ERun, step_id: str, directive: str, hint: str, key: str
) -> None:
    step = matrix.step(step_id)
    assert step["status"] == "failed"
    assert matrix.key_count(directive) == 1  # exactly one request
    assert _attempt_reasons(step) == ["auth"]
    assert matrix.events_of("retry_scheduled", step_id) == []
    assert hint in step["error"]["message"]
    # The fake server echoed the key in its error body; it must not reach the message.
    assert key not in step["error"]["message"]
    assert key not in matrix.proc.stdout + matrix.proc.stderr


def test_400_is_not_retried(matrix: E2ERun) -> None:
    step = matrix.step("bad_request")
    assert step["status"] == "failed"
    assert matrix.key_count("[[status:400]]") == 1
    assert _attempt_reasons(step) == ["bad_request"]
    assert "400" in step["error"]["message"]


def test_breaker_opens_and_the_fallback_model_answers(matrix: E2ERun) -> None:
    step = matrix.step("breaker")
    assert step["status"] == "succeeded"
    assert step["model"] == "backup/spare"  # the report says which model answered
    assert step["output"] == "echo: scenario breaker"
    # failure_threshold: 2 -> two requests reached the broken model; the third attempt failed
    # fast on the open breaker and went to the fallback without touching the server.
    assert matrix.stats["models"]["broken"] == 2
    assert _attempt_reasons(step) == ["unavailable", "unavailable", "circuit_open", None]
    assert [a["model"] for a in step["attempts"]] == ["flaky/broken"] * 3 + ["backup/spare"]
    changes = [
        (e["old"], e["new"]) for e in matrix.events_of("breaker_state") if e["provider"] == "flaky"
    ]
    assert changes == [("closed", "open")]
    (fallback,) = matrix.events_of("model_fallback", "breaker")
    assert (fallback["model"], fallback["next_model"]) == ("flaky/broken", "backup/spare")


def test_fallback_after_retries_are_spent(matrix: E2ERun) -> None:
    step = matrix.step("retries_spent")
    assert step["status"] == "succeeded"
    assert step["model"] == "backup/spare"
    assert matrix.stats["models"]["down"] == 2  # max_attempts: 2 on the first model
    assert [a["model"] for a in step["attempts"]] == ["spent/down"] * 2 + ["backup/spare"]
    assert matrix.report["cost"]["by_model"]["backup/spare"]["calls"] == 2  # both fallbacks


def test_invalid_structured_output_is_retried_with_the_validation_error(matrix: E2ERun) -> None:
    step = matrix.step("schema_retry")
    assert step["status"] == "succeeded"
    assert step["output"] == {"score": 0}
    assert _attempt_reasons(step) == ["output_invalid", None]
    first, second = matrix.requests_with("scenario schema")
    first_prompt = first["body"]["messages"][-1]["content"]
    second_prompt = second["body"]["messages"][-1]["content"]
    assert first_prompt == "scenario schema: give a score"
    assert second_prompt.startswith(first_prompt)
    assert "'high' is not of type 'number'" in second_prompt
