"""Sub-workflows (`uses:`) run through the real `agnoctl` process against the fake LLM
server: one budget for the parent and every child, kill -9 inside a child then --resume
repeats no finished child call, the report nests the child's steps (#21)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agnoctl.testing.fake_llm import FakeLLMConfig, FakeLLMThread, prompt_hash
from tests import forkcli

LLM_CALL = b'"type":"llm_call"'


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMThread]:
    with FakeLLMThread(FakeLLMConfig(latency_ms=20)) as server:
        yield server


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def child(folder: Path, url: str) -> Path:
    """lib/review.yaml: two model calls per invocation (draft, then check), on its own agent
    and provider."""
    return write_yaml(
        folder / "lib" / "review.yaml",
        {
            "version": 1,
            "name": "review",
            "inputs": {"topic": {"type": "string"}},
            "providers": {"local": {"type": "openai", "base_url": f"{url}/v1", "api_key": "k"}},
            "agents": {"writer": {"model": "local/m"}},
            "defaults": {"retry": {"max_attempts": 1}},
            "steps": {
                "draft": {"agent": "writer", "prompt": "draft {{ inputs.topic }}"},
                "check": {
                    "agent": "writer",
                    "needs": ["draft"],
                    "prompt": "check {{ inputs.topic }}",
                },
            },
            "outputs": {"text": "{{ steps.check.output }}"},
        },
    )


def parent(folder: Path, items: int, **more: Any) -> Path:
    return write_yaml(
        folder / "flow.yaml",
        {
            "version": 1,
            "name": "parent",
            "steps": {
                "review": {
                    "uses": "./lib/review.yaml",
                    "for_each": f"range({items}) | list",
                    "max_concurrency": 1,
                    "with": {"topic": "item {{ item }}"},
                }
            },
            **more,
        },
    )


ENV = {**os.environ, "NO_COLOR": "1"}


def prompt_counts(server: FakeLLMThread, items: int) -> dict[str, int]:
    seen = server.stats()["prompts"]
    return {
        f"{kind} {i}": seen.get(prompt_hash(f"{kind} item {i}"), 0)
        for i in range(items)
        for kind in ("draft", "check")
    }


def _answered_calls(run_dir: Path) -> set[str]:
    """The child calls whose replies the journal holds, as prompt names ("draft 2")."""
    names = set()
    for event in run_events(run_dir):
        if event["type"] == "llm_call" and not event.get("error"):
            head, _, kind = event["step"].partition(".")  # review[2].draft
            names.add(f"{kind} {head.removeprefix('review[').rstrip(']')}")
    return names


def run_events(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_the_parents_max_llm_calls_stops_a_child_for_each_midway(
    tmp_path: Path, fake_llm: FakeLLMThread
) -> None:
    child(tmp_path, fake_llm.url)
    parent(tmp_path, 20, limits={"max_llm_calls": 7})
    proc = forkcli.run(
        ["run", "flow.yaml", "--no-cache", "--report-dir", "out"],
        cwd=tmp_path,
        env=ENV,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert fake_llm.stats()["requests"] == 7
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    review = report["steps"]["review"]
    assert review["kind"] == "uses"
    statuses = [item["status"] for item in review["items"]]
    assert statuses[:3] == ["succeeded"] * 3
    assert statuses[4:] == ["skipped"] * 16
    calls = [e for e in run_events(tmp_path / "out") if e["type"] == "llm_call"]
    assert len(calls) == 7


def test_kill_nine_inside_a_child_then_resume_repeats_no_finished_call(
    tmp_path: Path, fake_llm: FakeLLMThread
) -> None:
    items = 8
    child(tmp_path, fake_llm.url)
    parent(tmp_path, items)
    journal = tmp_path / ".agnoctl" / "runs" / "latest" / "events.jsonl"
    process = forkcli.start(
        ["run", "flow.yaml", "--no-cache", "-q"],
        cwd=tmp_path,
        env=ENV,
        stdout=forkcli.DEVNULL,
        stderr=forkcli.DEVNULL,
    )
    deadline = time.monotonic() + 60
    # Five replies: item 2's draft has answered, its check has not (one call at a time).
    while time.monotonic() < deadline and process.poll() is None:
        if journal.exists() and journal.read_bytes().count(LLM_CALL) >= 5:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    before = prompt_counts(fake_llm, items)
    assert before["draft 2"] == 1 and before["check 7"] == 0
    finished = _answered_calls(journal.resolve().parent)  # what the journal says answered
    assert {"draft 0", "check 0", "draft 1", "check 1", "draft 2"} <= finished
    resumed = forkcli.run(
        ["run", "flow.yaml", "--no-cache", "-q", "--resume", "latest"],
        cwd=tmp_path,
        env=ENV,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    counts = prompt_counts(fake_llm, items)
    # A finished call is never made again; the one in flight at the kill (sent, its reply
    # not journaled) may be, as SPEC's resume re-runs what did not finish.
    assert {name: counts[name] for name in finished} == dict.fromkeys(finished, 1)
    assert sum(counts.values()) <= 2 * items + (sum(before.values()) - len(finished))
    assert min(counts.values()) == 1
    run_dir = (tmp_path / ".agnoctl" / "runs" / "latest").resolve()
    reused = [e for e in run_events(run_dir) if e["type"] in ("step_reused", "item_reused")]
    assert {e["step"] for e in reused} >= {"review[0].draft", "review[0].check"}


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return forkcli.run(
        ["run", "flow.yaml", "--no-cache", "-q", *args],
        cwd=folder,
        env=ENV,
        timeout=120,
    )


def test_editing_one_child_step_reruns_only_that_step_on_resume(
    tmp_path: Path, fake_llm: FakeLLMThread
) -> None:
    items = 3
    review = child(tmp_path, fake_llm.url)
    parent(tmp_path, items)
    first = run(tmp_path)
    assert first.returncode == 0, first.stderr
    assert fake_llm.stats()["requests"] == 2 * items
    data = yaml.safe_load(review.read_text(encoding="utf-8"))
    data["steps"]["check"]["prompt"] = "recheck {{ inputs.topic }}"
    write_yaml(review, data)
    resumed = run(tmp_path, "--resume", "latest")
    assert resumed.returncode == 0, resumed.stderr
    # Only the edited step asks again, once per item; every draft is reused.
    assert fake_llm.stats()["requests"] == 3 * items
    seen = fake_llm.stats()["prompts"]
    assert [seen.get(prompt_hash(f"recheck item {i}"), 0) for i in range(items)] == [1] * items
    assert [seen.get(prompt_hash(f"draft item {i}"), 0) for i in range(items)] == [1] * items
    report = json.loads(
        (tmp_path / ".agnoctl" / "runs" / "latest" / "report.json").read_text(encoding="utf-8")
    )
    outputs = [item["output"] for item in report["steps"]["review"]["items"]]
    assert outputs == [{"text": f"echo: recheck item {i}"} for i in range(items)]


def test_the_callers_default_timeout_bounds_each_attempt_not_the_whole_child(
    tmp_path: Path,
) -> None:
    # SPEC: `timeout` bounds one attempt; only the `uses` step's own bounds the invocation.
    step = {"run": [sys.executable, "-c", "import time; time.sleep(0.6)"]}
    write_yaml(
        tmp_path / "lib" / "slow.yaml",
        {"version": 1, "name": "slow", "steps": {"a": step, "b": {**step, "needs": ["a"]}}},
    )
    write_yaml(
        tmp_path / "flow.yaml",
        {
            "version": 1,
            "name": "parent",
            "defaults": {"timeout": 1},
            "steps": {"review": {"uses": "./lib/slow.yaml"}},
        },
    )
    proc = run(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_uses_steps_timeout_bounds_the_whole_child(
    tmp_path: Path, fake_llm: FakeLLMThread
) -> None:
    review = child(tmp_path, fake_llm.url)
    data = yaml.safe_load(review.read_text(encoding="utf-8"))
    data["steps"]["check"]["prompt"] = "check {{ inputs.topic }} [[hang:60]]"
    write_yaml(review, data)
    write_yaml(
        tmp_path / "flow.yaml",
        {
            "version": 1,
            "name": "parent",
            "steps": {
                # Seconds the draft's call has even on a loaded machine; the check hangs for 60.
                "review": {"uses": "./lib/review.yaml", "timeout": 5, "with": {"topic": "t"}},
                "after": {"run": ["echo", "after"], "needs": ["review"]},
            },
        },
    )
    started = time.monotonic()
    proc = run(tmp_path, "--report-dir", "out")
    took = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    assert took < 30  # the hung call is cut at the step's 5 s, not the child's own timeout
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    review_record = report["steps"]["review"]
    assert review_record["status"] == "failed"
    assert review_record["error"] == {
        "message": "step review: the sub-workflow took longer than 5s",
        "kind": "timeout",
    }
    assert review_record["steps"]["draft"]["status"] == "succeeded"
    assert report["steps"]["after"]["reason"] == "upstream_failed"
    assert fake_llm.stats()["requests"] == 2  # the draft, and the check that hung


def gated_parent(folder: Path, gate: dict[str, Any]) -> None:
    write_yaml(
        folder / "flow.yaml",
        {
            "version": 1,
            "name": "parent",
            "steps": {
                "review": {
                    "uses": "./lib/review.yaml",
                    "with": {"topic": "t"},
                    "gates": [gate],
                },
                "ship": {
                    "run": ["echo", "{{ steps.review.output.text }}"],
                    "needs": ["review"],
                },
            },
        },
    )


@pytest.mark.parametrize(
    ("gate", "passes"),
    [
        ({"type": "expr", "expr": "output.text.startswith('echo: check t')"}, True),
        ({"type": "expr", "expr": "'approved' in output.text"}, False),
    ],
    ids=["passes", "fails"],
)
def test_gates_on_a_uses_steps_output(
    tmp_path: Path, fake_llm: FakeLLMThread, gate: dict[str, Any], passes: bool
) -> None:
    child(tmp_path, fake_llm.url)
    gated_parent(tmp_path, gate)
    proc = run(tmp_path, "--report-dir", "out")
    assert proc.returncode == (0 if passes else 1), proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    review = report["steps"]["review"]
    assert review["output"] == {"text": "echo: check t"}
    assert fake_llm.stats()["requests"] == 2  # a gate reads the output; it is not re-run
    if passes:
        assert report["steps"]["ship"]["output"].strip() == "echo: check t"
    else:
        assert (review["status"], review["error"]["kind"]) == ("failed", "gate_failed")
        assert report["steps"]["ship"]["reason"] == "upstream_failed"


def test_mock_fixtures_name_child_steps_and_refuse_a_childs_real_provider(
    tmp_path: Path, fake_llm: FakeLLMThread
) -> None:
    child(tmp_path, fake_llm.url)
    parent(tmp_path, 2)
    fixtures = write_yaml(
        tmp_path / "fixtures.yaml",
        {"steps": {"review.draft": {"items": {1: {"text": "scripted"}}}}},
    )
    # Without --mock the child's agent would call (and bill) its real provider.
    refused = run(tmp_path, "--mock-fixtures", str(fixtures))
    assert refused.returncode == 2
    assert "agent 'writer' calls local/m: add --mock" in refused.stderr
    scripted = run(tmp_path, "--mock", "--mock-fixtures", str(fixtures), "--report-dir", "out")
    assert scripted.returncode == 0, scripted.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    drafts = [item["steps"]["draft"]["output"] for item in report["steps"]["review"]["items"]]
    assert drafts == ["draft item 0", "scripted"]
    assert fake_llm.stats()["requests"] == 0


def test_a_uses_step_runs_inside_a_loop_and_behind_an_if_and_nests_in_the_reports(
    tmp_path: Path,
) -> None:
    write_yaml(
        tmp_path / "echo.yaml",
        {
            "version": 1,
            "name": "echo",
            "inputs": {"text": {"type": "string"}},
            "agents": {"a": {"model": "mock/echo"}},
            "steps": {
                "say": {"agent": "a", "prompt": "child says {{ inputs.text }}"},
                "shout": {"run": ["echo", "{{ steps.say.output | upper }}"], "needs": ["say"]},
            },
            "outputs": {"said": "{{ steps.shout.output }}"},
        },
    )
    flow = write_yaml(
        tmp_path / "flow.yaml",
        {
            "version": 1,
            "name": "parent",
            "steps": {
                "g": {
                    "loop": {"max_iterations": 2, "until": "loop.iteration >= 2"},
                    "steps": {
                        "sub": {"uses": "./echo.yaml", "with": {"text": "it {{ loop.iteration }}"}},
                        "after": {
                            "run": ["echo", "{{ steps.g.sub.output.said }}"],
                            "needs": ["sub"],
                        },
                    },
                },
                "never": {"if": "false", "uses": "./echo.yaml", "with": {"text": "no"}},
            },
            "outputs": {"final": "{{ steps.g.after.output }}"},
        },
    )
    run_dir = tmp_path / "run"
    done = forkcli.run(
        ["run", str(flow), "--mock", "--report-dir", str(run_dir), "-q"],
        env=ENV,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert report["outputs"] == {"final": "CHILD SAYS IT 2"}
    assert report["steps"]["never"]["status"] == "skipped"
    sub = report["steps"]["g"]["steps"]["sub"]
    assert (sub["kind"], list(sub["steps"])) == ("uses", ["say", "shout"])
    started = [e["step"] for e in run_events(run_dir) if e["type"] == "step_started"]
    assert started.count("g.sub.say") == 2  # once per iteration, nested under the calling step
    junit = (run_dir / "junit.xml").read_text(encoding="utf-8")
    assert 'name="g.sub.say"' in junit and 'name="g.sub.shout"' in junit
