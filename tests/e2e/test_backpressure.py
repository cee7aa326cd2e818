"""429 is backpressure, not an outage (issue #18), through the real CLI and the fake server.

- A burst where every item's first request is refused (429) passes whole: the breaker does not
  count 429s, and the provider's window narrows instead.
- Against the fake server's token bucket (20 requests a second), a 200-item fan-out at
  ``max_concurrency: 32`` keeps to the bucket: few 429s, close to the bucket's ideal time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from agnoctl.testing.fake_llm import FakeLLMConfig, FakeLLMThread
from tests.e2e.conftest import E2E, FAST_RETRY, E2ERun, workflow_doc


def _fan_out(e2e: E2E, name: str, items: int, concurrency: int, prompt: str) -> dict[str, Any]:
    return workflow_doc(
        name,
        providers={"local": e2e.provider()},  # the default breaker: 5 failures / 30 s
        agents={"worker": {"model": "local/m", "max_tokens": 16}},
        steps={
            "fan": {
                "agent": "worker",
                "for_each": list(range(items)),
                "max_concurrency": concurrency,
                "prompt": prompt,
            }
        },
        defaults={"retry": FAST_RETRY, "timeout": "30s"},
    )


# ----------------------------------------------------------------- a burst of 429s


@pytest.fixture(scope="module")
def burst(e2e: E2E, fake_server: FakeLLMThread) -> E2ERun:
    fake_server.server.config = FakeLLMConfig()
    # Each item's first request gets a 429 (its own directive key), its second an answer.
    doc = _fan_out(e2e, "burst", 40, 6, "item {{ item }} [[429:key=i{{ item }}]]")
    return e2e.run(doc)


def test_a_429_burst_passes_every_item(burst: E2ERun) -> None:
    assert burst.exit_code == 0, burst.proc.stdout[-2000:]
    assert burst.step("fan")["succeeded"] == 40
    assert burst.stats["statuses"] == {"429": 40, "200": 40}


def test_429s_leave_the_breaker_closed_and_narrow_the_window(burst: E2ERun) -> None:
    assert burst.events_of("breaker_state") == []
    narrowed = [e for e in burst.events_of("provider_throttled") if e["reason"] == "rate_limited"]
    assert narrowed and narrowed[0]["provider"] == "local"
    assert narrowed[0]["window"] == narrowed[0]["in_flight"] // 2
    throttling = burst.report["throttling"]["local"]
    assert throttling["rate_limited"] == 40
    assert throttling["min_window"] == min(e["window"] for e in narrowed)


def test_the_terminal_shows_the_throttling(burst: E2ERun) -> None:
    assert "provider_throttled local reason=rate_limited window=" in burst.proc.stdout


# ----------------------------------------------------------------- a token bucket


RPS = 20
BURST = 20
ITEMS = 200
IDEAL = ITEMS / RPS  # 10 s: the bucket refills 20 a second (its first 20 are there at once)


@pytest.fixture(scope="module")
def bucket(e2e: E2E, fake_server: FakeLLMThread) -> Iterator[E2ERun]:
    # A model that takes 200 ms to answer, behind a limit of 20 requests a second.
    fake_server.server.config = FakeLLMConfig(rps=RPS, burst=BURST, latency_ms=200)
    try:
        yield e2e.run(_fan_out(e2e, "bucket", ITEMS, 32, "item {{ item }}"), timeout=120)
    finally:
        fake_server.server.config = FakeLLMConfig()


def _seconds(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp()


@pytest.mark.slow
def test_a_fan_out_keeps_to_the_providers_rate_limit(bucket: E2ERun) -> None:
    assert bucket.exit_code == 0, bucket.proc.stdout[-2000:]
    assert bucket.step("fan")["succeeded"] == ITEMS
    statuses = bucket.stats["statuses"]
    assert statuses["200"] == ITEMS
    refused = statuses.get("429", 0)
    assert refused <= 0.1 * (ITEMS + refused), statuses  # at most 10 % of calls refused
    started = _seconds(bucket.events_of("step_started", "fan")[0])
    finished = _seconds(bucket.events_of("step_succeeded", "fan")[0])
    assert finished - started <= 1.3 * IDEAL, f"{finished - started:.1f}s"


@pytest.mark.slow
def test_the_report_and_events_show_the_pauses(bucket: E2ERun) -> None:
    paused = bucket.events_of("provider_paused")
    assert paused and {e["reason"] for e in paused} <= {"limit_reached", "rate_limited"}
    throttling = bucket.report["throttling"]["local"]
    assert throttling["paused_seconds"] > 0
    assert throttling["waited_seconds"] > 0
    assert throttling["rate_limited"] == bucket.stats["statuses"].get("429", 0)
    assert any("wait_ms" in e for e in bucket.events_of("llm_call"))
