"""Smoke test of the benchmark suite: ``python bench/run.py --quick`` runs every workload.

No timing is asserted (a loaded CI machine may be slow); what must hold is that every workload
ran, every client that is installed made exactly one server request per call, and the ones
that are not installed (the optional frameworks) are reported as skipped, not as failures.
The run takes half a minute, so its tests are marked slow (`-m "not slow"` leaves them out).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
WORKLOADS = {
    "fan_out",
    "chain",
    "throughput",
    "fan_out_mock",
    "engine",
    "items",
    "cli_startup",
    "validate_plan",
    "cache",
    "resume",
}
HTTP = ("fan_out", "chain", "throughput")
AGNOCTL_CLIENTS = ("agnoctl", "agnoctl_cli")
BASELINES = ("aiohttp_raw", "httpx_plain", "openai_sdk", "langgraph", "pydantic_ai", "agno")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    command = [sys.executable, str(BENCH / "run.py"), "--quick", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=110, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8")), out


@pytest.mark.slow
def test_every_workload_is_in_the_results(quick_run: tuple[dict[str, Any], Path]) -> None:
    results, _ = quick_run
    assert set(results["workloads"]) == WORKLOADS
    for name, data in results["workloads"].items():
        assert not str(data.get("status", "")).startswith(("error", "not run")), (name, data)
    assert results["meta"]["quick"] is True


@pytest.mark.slow
def test_server_counts_match_for_every_client(quick_run: tuple[dict[str, Any], Path]) -> None:
    results, _ = quick_run
    for name in HTTP:
        clients = results["workloads"][name]["clients"]
        assert set(BASELINES) | set(AGNOCTL_CLIENTS) <= set(clients)
        for key, client in clients.items():
            if client["status"].startswith("skipped: not installed"):
                assert key in BASELINES and key not in ("aiohttp_raw", "httpx_plain")
                continue
            assert client["status"] == "ok", (name, key, client["status"])
            assert client["server_requests"] == client["expected_requests"], (name, key)
            assert client["requests_match"] is True


@pytest.mark.slow
def test_goals_and_markdown_are_written(quick_run: tuple[dict[str, Any], Path]) -> None:
    results, out = quick_run
    figures = [goal["figure"] for goal in results["goals"]]
    assert any("fan-out over HTTP" in f for f in figures)
    assert any("memory per finished step" in f for f in figures)
    assert any("cache hit" in f for f in figures)
    assert any("peak RSS per extra item" in f for f in figures)
    startup = results["workloads"]["cli_startup"]
    assert startup["run_x_import_floor"] > 1 and startup["run_two_steps"]["cpu_s"] > 0
    assert any("import floor" in f for f in figures)
    table = out.with_suffix(".md").read_text(encoding="utf-8")
    for figure in figures:
        assert figure in table
    assert results["workloads"]["resume"]["resume_said"].endswith("nothing to resume")


def test_a_client_whose_package_is_missing_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    import baselines

    absent = baselines.Client("agno_driver", "Agno", ("no-such-distribution-xyz",), True)
    assert baselines.skip_reason(absent) == "skipped: not installed: no-such-distribution-xyz"
    assert baselines.skip_reason(baselines.CLIENTS["aiohttp_raw"]) is None
