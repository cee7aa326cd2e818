"""Retries and timeouts through ``agnoctl run`` (SPEC "Retries, timeouts, circuit breakers" and
``limits.max_duration``): what is retried, the seeded backoff, Retry-After, per-attempt timeouts,
and every attempt as an event."""

from __future__ import annotations

import random
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from issue5 import DATA, Run, RunCli, run_in_process, run_subprocess, variant, write_yaml

from agnoctl.engine.retry import Backoff
from agnoctl.spec.models import RetrySpec

RETRIES = DATA / "retries.yaml"
FIXTURES = DATA / "retries-fixtures.yaml"
DEFAULT_RETRY = RetrySpec(max_attempts=3, initial_delay=0.01, max_delay=0.04, multiplier=2)


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def _kinds(step: dict[str, Any]) -> list[str | None]:
    return [a["error"]["kind"] if a["error"] else None for a in step["attempts"]]


def _every_attempt_is_an_event(run: Run, step_id: str) -> None:
    attempts = run.step(step_id)["attempts"]
    # the first attempt starts with the step, each later one with its own event
    started = run.of("step_started", step_id) + run.of("attempt_started", step_id)
    assert len(started) == len(attempts)
    failed = run.of("attempt_failed", step_id)
    assert [e["attempt"] for e in failed] == [a["number"] for a in attempts if a["error"]]
    assert [e["reason"] for e in failed] == [a["error"]["kind"] for a in attempts if a["error"]]
    scheduled = run.of("retry_scheduled", step_id)
    assert [(e["attempt"], e["delay"]) for e in scheduled] == [
        (a["number"], round(a["delay"], 3)) for a in attempts if a["delay"] is not None
    ]


def test_what_is_retried_and_how_long_it_waits(run_cli: RunCli, tmp_path: Path) -> None:
    run = run_subprocess(run_cli, RETRIES, FIXTURES, tmp_path / "run", "--seed", "7")
    assert run.exit_code == 1, run.stdout + run.stderr
    assert run.statuses() == {
        "flaky": "succeeded",
        "throttled": "succeeded",
        "refused": "failed",
        "slow": "failed",
    }
    for step_id in run.statuses():
        _every_attempt_is_an_event(run, step_id)

    # 503 twice, then an answer: 3 attempts, full-jitter delays within the formula's bounds
    flaky = run.step("flaky")
    assert (flaky["output"], _kinds(flaky)) == ("page", ["unavailable", "unavailable", None])
    retries = run.of("retry_scheduled", "flaky")
    assert [e["reason"] for e in retries] == ["unavailable", "unavailable"]
    first, second = (a["delay"] for a in flaky["attempts"][:2])
    assert 0 <= first <= 0.01 and 0 <= second <= 0.02

    # 429 with Retry-After 150ms: it wins over the 10ms backoff, and is really waited
    throttled = run.step("throttled")
    assert _kinds(throttled) == ["rate_limited", None]
    assert throttled["attempts"][0]["delay"] >= 0.15
    assert [e["delay"] for e in run.of("retry_scheduled", "throttled")] == [0.15]
    waited = _seconds(throttled["attempts"][1]["started"]) - _seconds(
        throttled["attempts"][0]["finished"]
    )
    assert waited >= 0.149

    # 400 is permanent: one attempt, no retry scheduled
    refused = run.step("refused")
    assert _kinds(refused) == ["bad_request"]
    assert refused["error"]["message"].startswith("HTTP 400: bad model name")
    assert [e["retrying"] for e in run.of("attempt_failed", "refused")] == [False]

    # a reply slower than the step timeout: each attempt is cut at 50ms, then the step fails
    slow = run.step("slow")
    assert _kinds(slow) == ["timeout", "timeout"]
    assert slow["error"] == {
        "message": "step slow: attempt 2 timed out after 0.05s",
        "kind": "timeout",
    }
    for attempt in slow["attempts"]:
        assert 45 <= attempt["duration_ms"] < 2000
    failures = run.junit["slow"].find("failure")
    assert failures is not None and failures.get("type") == "timeout"


def _flaky_only(spec: dict[str, Any]) -> None:
    spec["steps"] = {"flaky": spec["steps"]["flaky"]}


def test_a_seed_makes_the_jitter_repeatable(tmp_path: Path) -> None:
    # One step: the run's random source serves only its retries, in a known order.
    flow = variant("retries.yaml", tmp_path, _flaky_only)
    scripts = yaml.safe_load(FIXTURES.read_text())["steps"]
    fixtures = write_yaml(tmp_path, "flaky.yaml", {"steps": {"flaky": scripts["flaky"]}})

    def delays(seed: int, name: str) -> list[float]:
        run = run_in_process(flow, fixtures, tmp_path / name, "--seed", str(seed))
        assert run.exit_code == 0, run.stdout + run.stderr
        assert run.report["seed"] == seed
        return [a["delay"] for a in run.step("flaky")["attempts"][:2]]

    backoff = Backoff(DEFAULT_RETRY, random.Random(7))
    expected = [backoff.delay(0), backoff.delay(1)]
    assert delays(7, "a") == delays(7, "b") == expected
    assert delays(8, "c") != expected


def test_max_duration_stops_the_run(tmp_path: Path) -> None:
    started = time.monotonic()
    run = run_in_process(
        DATA / "max-duration.yaml", DATA / "max-duration-fixtures.yaml", tmp_path / "run"
    )
    assert time.monotonic() - started < 10  # the 30s reply was cut off, not waited for
    assert run.exit_code == 1
    # The step in flight is cancelled and, like everything not started, `skipped: budget`:
    # the limit, not the step, ended it (SPEC "Limits and success").
    assert run.statuses() == {
        "quick": "succeeded",
        "slow": "skipped:budget",
        "after": "skipped:budget",
    }
    assert run.report["reason"] == "a limit stopped the run: limits.max_duration 0.3s was reached"
    assert run.report["reason"] in run.summary
    assert [e["reason"] for e in run.of("step_skipped")] == ["budget", "budget"]
    assert run.of("run_finished")[0]["reason"] == run.report["reason"]
    slow = run.step("slow")
    assert len(slow["attempts"]) == 1 and slow["attempts"][0]["finished"] is None
    skipped = run.junit["after"].find("skipped")
    assert skipped is not None and skipped.get("message") == "budget"
