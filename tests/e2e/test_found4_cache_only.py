"""``--cache-only`` and ``cache: false``, through the real CLI against the fake server.

Found by trying it: under ``--cache-only`` (nothing may be sent) a step whose replies are kept
out of the cache (``cache: false`` on the step or its agent) always misses, and the error
told the user to "run once without --cache-only to fill the cache", which never fills it:
the advice sent them round in circles. The error now says why the step has no cached reply.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import E2E, E2ERun, workflow_doc

UNCACHED = ("step_off", "agent_off")


@pytest.fixture(scope="module")
def runs(e2e: E2E) -> tuple[E2ERun, E2ERun]:
    agents = {"writer": {"model": "p/m"}, "fresh": {"model": "p/m", "cache": False}}
    steps = {
        "cached": {"agent": "writer", "prompt": "kept"},
        "step_off": {"agent": "writer", "prompt": "not kept", "cache": False},
        "agent_off": {"agent": "fresh", "prompt": "not kept either"},
    }
    doc = workflow_doc("cache-only", providers={"p": e2e.provider()}, agents=agents, steps=steps)
    return e2e.run(doc), e2e.run(doc, "--cache-only")


def test_a_cached_step_replays_offline(runs: tuple[E2ERun, E2ERun]) -> None:
    filled, offline = runs
    assert filled.exit_code == 0, filled.proc.stdout + filled.proc.stderr
    assert offline.stats["requests"] == 0
    assert offline.step("cached")["status"] == "succeeded"


@pytest.mark.parametrize("step", UNCACHED)
def test_a_step_kept_out_of_the_cache_says_so_under_cache_only(
    runs: tuple[E2ERun, E2ERun], step: str
) -> None:
    _, offline = runs
    assert offline.exit_code == 1
    message = offline.step(step)["error"]["message"]
    assert "has cache: false" in message, message
    assert "fill the cache" not in message, message
