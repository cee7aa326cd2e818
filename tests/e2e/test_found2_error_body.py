"""A 200 whose body is an ``error`` object, through the real CLI against the fake server.

Found by the first pass: OpenAI-compatible gateways and proxies answer some failures (a quota,
an upstream that failed) with a 200 and ``{"error": {...}}``; agnoctl failed the step with
"sent a reply without choices; the server may not speak this protocol", hiding the server's
own message and sending the user to check a base_url that was right. Now the step fails with
the server's message, as an error in a stream does: retried when its code is a server's
error (or it has none), not when it is the caller's. Asked for a stream or a whole reply, the
gateway's JSON answer is the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from agnoctl.testing.fake_llm import FakeLLMConfig, FakeReply, FakeRequest, start_in_thread
from tests.e2e.conftest import E2E, FAST_RETRY, E2ERun, workflow_doc

# model -> the body of its 200
BODIES: dict[str, dict[str, object]] = {
    "quota": {"error": {"message": "quota exceeded for this project", "code": 402}},
    "upstream": {"error": "upstream model timed out"},
}


def gateway(request: FakeRequest) -> FakeReply | None:
    body = BODIES.get(request.model)
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
            f"{model}_{stream}": e2e.provider(stream=stream == "streamed")
            for model in BODIES
            for stream in ("streamed", "whole")
        }
        doc = workflow_doc(
            "error-body",
            providers=providers,
            agents={name: {"model": f"{name}/{name.partition('_')[0]}"} for name in providers},
            steps={name: {"agent": name, "prompt": "hello"} for name in providers},
            defaults={"retry": FAST_RETRY},
        )
        yield e2e.run(doc)


@pytest.mark.parametrize("stream", ["streamed", "whole"])
@pytest.mark.parametrize(
    ("model", "words"),
    [("quota", "quota exceeded for this project"), ("upstream", "upstream model timed out")],
)
def test_the_servers_message_is_the_steps_error(
    run: E2ERun, model: str, words: str, stream: str
) -> None:
    assert run.exit_code == 1, run.proc.stderr
    assert "Traceback" not in run.proc.stderr
    error = run.step(f"{model}_{stream}")["error"]
    assert words in error["message"], error
    assert "without choices" not in error["message"]
    assert "no stream of events" not in error["message"]


@pytest.mark.parametrize("stream", ["streamed", "whole"])
def test_a_callers_error_is_not_retried_and_a_servers_is(run: E2ERun, stream: str) -> None:
    assert len(run.step(f"quota_{stream}")["attempts"]) == 1
    assert len(run.step(f"upstream_{stream}")["attempts"]) == FAST_RETRY["max_attempts"]
