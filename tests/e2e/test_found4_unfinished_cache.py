"""A reply the server did not finish, and the response cache, through the real CLI against
the fake server.

Found by trying it: a reply cut at ``max_tokens``, filtered or refused fails its step (it is
not an answer), yet the cache stored it, and every later run replayed it: the step failed
again at once, "the model refused", without the model being asked (a refusal or a filter
may not repeat). Such a reply is kept out of the cache now; a finished one is still stored.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import E2E, E2ERun, workflow_doc

UNFINISHED = {"cut": "length", "filtered": "content_filter", "refused": "refusal"}


@pytest.fixture(scope="module")
def runs(e2e: E2E) -> tuple[E2ERun, E2ERun]:
    steps = {
        name: {"agent": "writer", "prompt": f"[[finish:{reason}]] {name}"}
        for name, reason in UNFINISHED.items()
    }
    steps["answered"] = {"agent": "writer", "prompt": "answered"}
    doc = workflow_doc(
        "unfinished-cache",
        providers={"p": e2e.provider()},
        agents={"writer": {"model": "p/m", "max_tokens": 64}},
        steps=steps,
    )
    return e2e.run(doc), e2e.run(doc)


@pytest.mark.parametrize("step", sorted(UNFINISHED))
def test_an_unfinished_reply_is_not_replayed_from_the_cache(
    runs: tuple[E2ERun, E2ERun], step: str
) -> None:
    for run in runs:
        assert run.exit_code == 1, run.proc.stdout + run.proc.stderr
        assert run.step(step)["status"] == "failed"
        assert len(run.requests_with(f"]] {step}")) == 1
        assert [e.get("cached") for e in run.events_of("llm_call", step)] == [None]


def test_a_finished_reply_is_still_cached(runs: tuple[E2ERun, E2ERun]) -> None:
    first, second = runs
    assert first.step("answered")["status"] == second.step("answered")["status"] == "succeeded"
    assert [e.get("cached") for e in second.events_of("llm_call", "answered")] == [True]
