"""The response cache in real runs against the fake LLM server: hits, --cache-only, opt-outs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from resume_helpers import API_KEY, latest, valid_report, workflow

from agnoctl.testing.fake_llm import FakeLLMThread

RunCli = Any
ENV = {"LLM_KEY": API_KEY}
STEPS: dict[str, Any] = {
    "fan": {"agent": "a", "for_each": ["x", "y", "z"], "prompt": "collect {{ item }}"},
    "analyse": {"agent": "a", "needs": ["fan"], "prompt": "analyse {{ steps.fan.output }}"},
}


def _report(folder: Path) -> dict[str, Any]:
    return valid_report(latest(folder))


def test_cache_only_replays_a_run_without_a_request(
    run_cli: RunCli, fake_llm: FakeLLMThread, tmp_path: Path
) -> None:
    flow = workflow(tmp_path, fake_llm.url, STEPS)
    first = run_cli("run", flow, "-q", env=ENV)
    assert first.returncode == 0, first.stdout + first.stderr
    assert fake_llm.stats()["requests"] == 4

    offline = run_cli("run", flow, "-q", "--cache-only", env=ENV)
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert fake_llm.stats()["requests"] == 4
    report = _report(tmp_path)
    assert (report["cost"]["total"]["cache_hits"], report["cost"]["total"]["calls"]) == (4, 0)
    assert report["steps"]["analyse"]["output"] == "echo: analyse ['echo: collect x', " + (
        "'echo: collect y', 'echo: collect z']"
    )
    cached = [
        json.loads(line)
        for line in (latest(tmp_path) / "events.jsonl").read_text().splitlines()
        if '"llm_call"' in line
    ]
    assert all(event["cached"] for event in cached) and len(cached) == 4


def test_a_cache_only_miss_fails_and_names_the_step(
    run_cli: RunCli, fake_llm: FakeLLMThread, tmp_path: Path
) -> None:
    flow = workflow(tmp_path, fake_llm.url, STEPS)
    assert run_cli("run", flow, "-q", env=ENV).returncode == 0
    edited = {**STEPS, "fan": {**STEPS["fan"], "for_each": ["x", "y", "new"]}}
    workflow(tmp_path, fake_llm.url, edited)

    offline = run_cli("run", flow, "--cache-only", "--progress", "plain", env=ENV)
    assert offline.returncode == 1
    assert fake_llm.stats()["requests"] == 4
    message = "no cached reply for step 'fan' (item 2) and --cache-only is set"
    assert message in offline.stdout
    item = _report(tmp_path)["steps"]["fan"]["items"][2]
    assert message in item["error"]["message"]
    assert item["error"]["kind"] == "cache_miss"


@pytest.mark.parametrize(
    "where",
    ["step", "agent", "defaults", "--no-cache"],
)
def test_cache_false_and_no_cache_ask_the_model_again(
    run_cli: RunCli, fake_llm: FakeLLMThread, tmp_path: Path, where: str
) -> None:
    steps = {**STEPS, "analyse": {**STEPS["analyse"]}}
    more: dict[str, Any] = {}
    args: list[str] = []
    if where == "step":
        steps["analyse"]["cache"] = False
    elif where == "agent":
        more["agents"] = {"a": {"model": "local/m", "cache": False}}
    elif where == "defaults":
        more["defaults"] = {"cache": False, "retry": {"max_attempts": 1}}
    else:
        args = ["--no-cache"]
    flow = workflow(tmp_path, fake_llm.url, steps, **more)
    assert run_cli("run", flow, "-q", env=ENV).returncode == 0
    before = fake_llm.stats()["requests"]

    again = run_cli("run", flow, "-q", *args, env=ENV)
    assert again.returncode == 0, again.stdout + again.stderr
    asked_again = fake_llm.stats()["requests"] - before
    expected = {"step": 1, "agent": 4, "defaults": 4, "--no-cache": 4}[where]
    assert asked_again == expected
    assert _report(tmp_path)["cost"]["total"]["cache_hits"] == 4 - expected


def test_no_file_holds_the_api_key(
    run_cli: RunCli, fake_llm: FakeLLMThread, tmp_path: Path
) -> None:
    prompts = {**STEPS, "leak": {"agent": "a", "prompt": "say [[status:401]]"}}
    flow = workflow(tmp_path, fake_llm.url, prompts)
    run_cli("run", flow, "-q", env=ENV)
    run_cli("run", flow, "-q", "--cache-only", env=ENV)
    files = [path for path in (tmp_path / ".agnoctl").rglob("*") if path.is_file()]
    assert any(path.parent.name == "cache" for path in files)
    assert [path for path in files if API_KEY.encode() in path.read_bytes()] == []
