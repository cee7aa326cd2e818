"""`limits` are the run's: what earlier segments used counts against them on `--resume`.

Through the real CLI against the project's fake LLM server, counted by the server itself.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from resume_helpers import API_KEY, events, latest, valid_report, workflow

from agnoctl.testing.fake_llm import FakeLLMThread

RunCli = Any
ENV = {"LLM_KEY": API_KEY}
FAN: dict[str, Any] = {
    "fan": {"agent": "a", "for_each": list(range(30)), "prompt": "item {{ item }}"},
}


def _served(server: FakeLLMThread) -> int:
    """Model requests the server answered, from its own /_stats page."""
    with urllib.request.urlopen(f"{server.url}/_stats", timeout=10) as page:
        requests: int = json.load(page)["requests"]
    return requests


def _flow(folder: Path, server: FakeLLMThread, max_llm_calls: int) -> Path:
    return workflow(folder, server.url, FAN, limits={"max_llm_calls": max_llm_calls})


def test_resuming_never_spends_a_limit_twice_and_raising_it_finishes_the_run(
    run_cli: RunCli, fake_llm: FakeLLMThread, tmp_path: Path
) -> None:
    flow = _flow(tmp_path, fake_llm, 10)
    first = run_cli("run", flow, "-q", env=ENV)
    assert first.returncode == 1, first.stdout + first.stderr
    assert _served(fake_llm) == 10
    run_dir = latest(tmp_path)

    for _ in range(2):
        again = run_cli("run", flow, "--resume", "latest", "-q", env=ENV)
        assert again.returncode == 1, again.stdout + again.stderr
        assert "max_llm_calls 10 reached" in again.stdout
        assert _served(fake_llm) == 10
        report = valid_report(run_dir)
        assert report["status"] == "failed"
        assert report["cost"]["total"]["calls"] == report["limits"]["max_llm_calls"]["used"] == 10

    _flow(tmp_path, fake_llm, 30)  # the user raises the limit and resumes
    last = run_cli("run", flow, "--resume", "latest", "-q", env=ENV)
    assert last.returncode == 0, last.stdout + last.stderr
    assert f"resumed run {run_dir.name}: 10 task(s) reused, 20 model call(s) made" in last.stdout
    assert _served(fake_llm) == 30

    report = valid_report(run_dir)
    assert report["status"] == "passed"
    assert report["cost"]["total"]["calls"] == 30
    assert report["cost"]["by_step"]["fan"]["calls"] == 30
    assert report["limits"]["max_llm_calls"] == {"limit": 30, "used": 30}
    segments = report["segments"]
    assert [s["status"] for s in segments] == ["failed", "failed", "failed", "passed"]
    assert [s["calls"] for s in segments] == [10, 0, 0, 20]
    assert [s["reused"] for s in segments] == [0, 10, 10, 10]
    assert [s["resumed"] for s in segments] == [False, True, True, True]
    assert all(s["started"] <= s["finished"] for s in segments)
    assert "max_llm_calls 10 reached" in segments[0]["reason"]
    tokens = sum(s["tokens"] for s in segments)
    assert tokens == report["cost"]["total"]["tokens"] == report["limits"]["max_tokens"]["used"]

    summary = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert "Resumed: 4 segments, 10 task(s) reused in the last" in summary
    assert "| 4 | " in summary and "| passed: 1 of 1 steps succeeded (1.00) | 20 |" in summary
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "4 segments" in html and 'id="segments"' in html


def test_tokens_used_by_earlier_segments_count_too(
    run_cli: RunCli, fake_llm: FakeLLMThread, tmp_path: Path
) -> None:
    # One call at a time, each reserving at most 10 output tokens: the first segment stops
    # with less left of the 100 tokens than a call may need, and a resume starts none.
    flow = workflow(
        tmp_path,
        fake_llm.url,
        FAN,
        agents={"a": {"model": "local/m", "max_tokens": 10}},
        limits={"max_tokens": 100, "max_concurrency": 1},
    )
    first = run_cli("run", flow, "-q", env=ENV)
    assert first.returncode == 1, first.stdout + first.stderr
    spent = _served(fake_llm)
    assert 0 < spent < 30
    again = run_cli("run", flow, "--resume", "latest", "-q", env=ENV)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "max_tokens 100" in again.stdout
    assert _served(fake_llm) == spent
    run_dir = latest(tmp_path)
    answered = [e for e in events(run_dir) if e["type"] == "llm_call"]
    tokens = sum(e["tokens_in"] + e["tokens_out"] for e in answered)
    report = valid_report(run_dir)
    assert report["limits"]["max_tokens"]["used"] == report["cost"]["total"]["tokens"] == tokens
    assert report["cost"]["total"]["calls"] == len(answered) == spent
