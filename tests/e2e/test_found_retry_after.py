"""A provider that asks for an absurd wait, through the real CLI against the fake server.

Found by trying it: a 429 whose ``Retry-After`` was past agnoctl's longest wait failed its own
attempt (``retry_after_too_long``) but still paused the whole provider for that long, so the
next call of the provider (the next item of a fan-out, a fallback on the same provider) waited
for days; a reply whose token limit was used up for days paused it alike, and ``Retry-After:
inf`` paused it for ever. Now such a pause fails every new call of the provider at once (its
fallback models answer), and a wait that is no finite number is ignored.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import formatdate

import pytest

from agnoctl.testing.fake_llm import FakeLLMConfig, FakeReply, FakeRequest, start_in_thread
from tests.e2e.conftest import E2E, FAST_RETRY, E2ERun, workflow_doc

DAYS = 999_999  # seconds: eleven and a half days

# model -> headers of its first reply (a 429 unless it is a used-up limit's 200)
FIRST_REPLY: dict[str, dict[str, str]] = {
    "seconds": {"Retry-After": str(DAYS)},
    "date": {"Retry-After": "<date>"},
    "used_up": {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": f"{DAYS}s"},
    "inf": {"Retry-After": "inf"},
}


class Responder:
    """Each model's first request gets its ``FIRST_REPLY``; later ones the default reply."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, request: FakeRequest) -> FakeReply | None:
        if request.model not in FIRST_REPLY or request.model in self.seen:
            return None
        self.seen.add(request.model)
        headers = dict(FIRST_REPLY[request.model])
        if headers.get("Retry-After") == "<date>":
            headers["Retry-After"] = formatdate(time.time() + DAYS, usegmt=True)
        status = 200 if request.model == "used_up" else 429
        return FakeReply(status=status, error="slow down", headers=headers)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ERun]:
    with start_in_thread(FakeLLMConfig(responder=Responder())) as server:
        e2e = E2E(server, tmp_path_factory.mktemp("retry-after"))
        providers = {name: e2e.provider() for name in FIRST_REPLY}
        providers["spare"] = e2e.provider()
        agents = {
            name: {"model": f"{name}/{name}", "fallback_models": ["spare/spare"]}
            for name in FIRST_REPLY
        }
        steps = {
            name: {
                "agent": name,
                "for_each": "['first', 'second']",
                "max_concurrency": 1,  # the second item calls after the first one's reply
                "prompt": f"{name} {{{{ item }}}}",
                "retry": FAST_RETRY,
            }
            for name in FIRST_REPLY
        }
        doc = workflow_doc("retry-after", providers=providers, agents=agents, steps=steps)
        yield e2e.run(doc, "--no-cache")


def _models_of(run: E2ERun, step: str) -> list[str]:
    return [e["model"] for e in run.events_of("llm_call", step)]


@pytest.mark.parametrize("step", ["seconds", "date", "used_up"])
def test_a_wait_of_days_fails_the_providers_calls_at_once(run: E2ERun, step: str) -> None:
    assert run.exit_code == 0, run.proc.stderr
    assert run.step(step)["status"] == "succeeded"
    # One request reached the provider that asked to wait; the calls after it failed without
    # being sent (nor waited for), and the fallback model answered them.
    assert run.stats["models"][step] == 1
    refused = [e for e in run.events_of("attempt_failed", step) if e["item"] == 1]
    assert [e["reason"] for e in refused] == ["retry_after_too_long"]
    # Not sent, so no call (docs/cost-control.md): no llm_call event, nothing counted.
    assert run.report["cost"]["by_step"][step]["calls"] == len(run.events_of("llm_call", step))
    assert not [e for e in run.events_of("llm_call", step) if e.get("item") == 1 and e.get("error")]
    answered_by = {e["item"]: e["model"] for e in run.events_of("llm_call", step) if "reply" in e}
    assert answered_by[1] == "spare"
    assert answered_by[0] == ("used_up" if step == "used_up" else "spare")


def test_a_wait_that_is_no_number_is_ignored(run: E2ERun) -> None:
    assert run.step("inf")["status"] == "succeeded"
    assert not [e for e in run.events if e["type"] == "provider_paused" and e["provider"] == "inf"]
    assert run.stats["models"]["inf"] == 3  # the 429, its retry, the second item
