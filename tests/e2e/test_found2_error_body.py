"""A 200 whose body is an error object, through the real CLI against the fake server.

Found by the first pass: OpenAI-compatible gateways and proxies answer some failures (a quota,
an upstream that failed) with a 200 and ``{"error": {...}}``; agnoctl failed the step with
"sent a reply without choices; the server may not speak this protocol", hiding the server's
own message and sending the user to check a base_url that was right. The same held for an
Anthropic ``{"type": "error", ...}`` body and an Ollama ``{"error": ...}`` one. Now the step
fails with the server's message, as an error in a stream does: retried when its kind is a
server's error (or it has none), not when it is the caller's. Asked for a stream or a whole
reply, the gateway's JSON answer is the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from agnoctl.testing.fake_llm import FakeLLMConfig, FakeReply, FakeRequest, start_in_thread
from tests.e2e.conftest import E2E, FAST_RETRY, E2ERun, workflow_doc

CALLERS = "quota exceeded for this project"
SERVERS = "upstream model timed out"
# (protocol, model) -> the body of its 200: "caller" is the caller's error (not retried),
# "server" a server's (retried).
BODIES: dict[tuple[str, str], dict[str, object]] = {
    ("openai", "caller"): {"error": {"message": CALLERS, "code": 402}},
    ("openai", "server"): {"error": SERVERS},
    ("anthropic", "caller"): {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": CALLERS},
    },
    ("anthropic", "server"): {
        "type": "error",
        "error": {"type": "overloaded_error", "message": SERVERS},
    },
    ("ollama", "server"): {"error": SERVERS},
}
STEPS = [
    f"{protocol}_{model}_{stream}" for protocol, model in BODIES for stream in ("streamed", "whole")
]


def gateway(request: FakeRequest) -> FakeReply | None:
    body = BODIES.get((request.protocol, request.model))
    if body is None:
        return None
    return FakeReply(body=json.dumps(body), headers={"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ERun]:
    with start_in_thread(FakeLLMConfig(responder=gateway)) as server:
        e2e = E2E(server, tmp_path_factory.mktemp("error-body"))
        # A provider each (one's failures must not open another's circuit breaker), asking
        # for a stream and for a whole reply.
        providers = {
            name: e2e.provider(name.split("_")[0], stream=name.endswith("streamed"))
            for name in STEPS
        }
        doc = workflow_doc(
            "error-body",
            providers=providers,
            agents={name: {"model": f"{name}/{name.split('_')[1]}"} for name in STEPS},
            steps={name: {"agent": name, "prompt": "hello"} for name in STEPS},
            defaults={"retry": FAST_RETRY},
        )
        yield e2e.run(doc)


@pytest.mark.parametrize("step", STEPS)
def test_the_servers_message_is_the_steps_error(run: E2ERun, step: str) -> None:
    assert run.exit_code == 1, run.proc.stderr
    assert "Traceback" not in run.proc.stderr
    error = run.step(step)["error"]
    assert (CALLERS if "_caller_" in step else SERVERS) in error["message"], error
    assert "sent a reply without" not in error["message"]
    assert "no stream of events" not in error["message"]


@pytest.mark.parametrize("step", STEPS)
def test_a_callers_error_is_not_retried_and_a_servers_is(run: E2ERun, step: str) -> None:
    attempts = 1 if "_caller_" in step else FAST_RETRY["max_attempts"]
    assert len(run.step(step)["attempts"]) == attempts
