"""Webhooks: one JSON POST per event to a loopback receiver, retried, never with a secret."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from agnoctl.providers.fixtures import load_fixtures
from agnoctl.providers.mock import MockProvider
from agnoctl.redact import Redactor
from agnoctl.reports import notify
from agnoctl.reports.model import RunReport
from agnoctl.session import RunOptions, run_workflow
from agnoctl.spec.models import NotifySpec, RetrySpec
from tests import forkcli
from tests.observability.conftest import SECRET, ObsRuns, Receiver, fixtures_path, write_workflow


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        notify, "RETRY", RetrySpec(max_attempts=3, initial_delay=0.01, max_delay=0.02)
    )


def test_run_posts_once_per_event(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooks = (
        "notify:\n"
        f"  on_success: [{receiver.url}/success]\n"
        f"  on_failure: [{receiver.url}/failure]\n"
        f"  on_budget_warning: [{receiver.url}/budget]\n"
    )
    workflow = write_workflow(tmp_path, confidence=0.9, extra=hooks)
    monkeypatch.setenv("OBS_API_KEY", SECRET)
    # The provider is the mock, but not by --mock: a rehearsal sends no webhook.
    scripted = MockProvider(load_fixtures(fixtures_path(tmp_path, 0.9)), name="local")
    options = RunOptions(providers={"local": scripted}, runs_dir=tmp_path / "runs")
    report = run_workflow(workflow, options)
    assert report.status == "passed"
    # 5 of max_llm_calls 6 crossed the 80% warning share once; the run passed once.
    assert [r.path for r in receiver.requests] == ["/budget", "/success"]
    budget, success = (json.loads(r.body) for r in receiver.requests)
    assert success["event"] == "success" and success["run_id"] == report.run_id
    assert success["workflow"] == "obs-demo" and success["status"] == "passed"
    assert success["report"] == str(tmp_path / "runs" / report.run_id / "report.json")
    assert budget["event"] == "budget_warning" and budget["budget"]["limit"] == "max_llm_calls"
    assert budget["budget"]["value"] == 6
    for request in receiver.requests:
        assert request.headers["content-type"] == "application/json"
        assert SECRET.encode() not in request.body
    assert receiver.requests[1].headers["x-agnoctl-delivery"] == f"{report.run_id}:success"


def _failed(obs_runs: ObsRuns) -> RunReport:
    data = obs_runs.a.report.model_dump(mode="json")
    data["status"], data["exit_code"] = "failed", 1
    data["reason"] = f"step publish failed (token {SECRET})"
    data["steps"]["publish"]["status"] = "failed"
    data["steps"]["publish"]["error"] = {"message": "exit code 3", "kind": "exit_code"}
    return RunReport.model_validate(data)


@pytest.mark.anyio
@pytest.mark.usefixtures("fast_retries")
async def test_failure_is_retried_until_delivered(obs_runs: ObsRuns, receiver: Receiver) -> None:
    receiver.script = [503, 200]
    spec = NotifySpec(on_failure=[f"{receiver.url}/hook"], on_success=[f"{receiver.url}/ok"])
    [delivery] = await notify.send(
        spec,
        _failed(obs_runs),
        obs_runs.a.run_dir,
        redactor=Redactor([SECRET]),
        rng=random.Random(1),
    )
    assert delivery.delivered and delivery.attempts == 2 and delivery.event == "failure"
    first, second = receiver.requests
    assert first.body == second.body  # the same delivery, tried twice
    assert first.headers["x-agnoctl-delivery"] == second.headers["x-agnoctl-delivery"]
    body = json.loads(second.body)
    assert body["failed_steps"] == [{"path": "publish", "error": "exit code 3"}]
    assert SECRET not in second.body.decode() and "***" in body["reason"]


@pytest.mark.anyio
@pytest.mark.usefixtures("fast_retries")
async def test_client_errors_are_not_retried(obs_runs: ObsRuns, receiver: Receiver) -> None:
    receiver.script = [400]
    spec = NotifySpec(on_success=[f"{receiver.url}/hook"])
    [delivery] = await notify.send(spec, obs_runs.a.report, obs_runs.a.run_dir)
    assert not delivery.delivered and delivery.attempts == 1 and delivery.error == "HTTP 400"
    assert len(receiver.requests) == 1


@pytest.mark.anyio
@pytest.mark.usefixtures("fast_retries")
async def test_unreachable_webhook_gives_up(obs_runs: ObsRuns) -> None:
    spec = NotifySpec(on_success=["http://127.0.0.1:9/hook"])
    [delivery] = await notify.send(spec, obs_runs.a.report, obs_runs.a.run_dir)
    assert not delivery.delivered and delivery.attempts == 3
    assert "ConnectError" in (delivery.error or "")


def test_messages_pick_the_lists_by_outcome(obs_runs: ObsRuns) -> None:
    spec = NotifySpec(on_failure=["http://127.0.0.1/f"], on_success=["http://127.0.0.1/s"])
    assert [m.url for m in notify.messages(spec, obs_runs.a.report, obs_runs.a.run_dir)] == [
        "http://127.0.0.1/s"
    ]
    failed = notify.messages(spec, _failed(obs_runs), obs_runs.a.run_dir)
    assert [(m.event, m.url) for m in failed] == [("failure", "http://127.0.0.1/f")]
    assert notify.messages(NotifySpec(), obs_runs.a.report, obs_runs.a.run_dir) == []


def test_notify_spec_is_strict() -> None:
    with pytest.raises(ValueError):
        NotifySpec.model_validate({"on_failure": ["not a url"]})
    with pytest.raises(ValueError):
        NotifySpec.model_validate({"on_falure": ["http://127.0.0.1/x"]})


def test_a_run_that_stops_waiting_tells_on_approval_once_and_not_on_failure(
    receiver: Receiver, tmp_path: Path
) -> None:
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(
        "version: 1\n"
        "name: ship\n"
        "agents:\n  a: {model: mock/echo}\n"
        "steps:\n"
        "  draft: {agent: a, prompt: draft}\n"
        "  ok: {needs: [draft], approval: {message: 'Ship it?'}}\n"
        "notify:\n"
        f"  on_approval: [{receiver.url}/approval]\n"
        f"  on_failure: [{receiver.url}/failure]\n"
        f"  on_success: [{receiver.url}/success]\n",
        encoding="utf-8",
    )
    done = forkcli.run(
        ["run", str(workflow), "-q"],
        cwd=tmp_path,
        stdin=forkcli.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=60,
    )
    assert done.returncode == 75, done.stderr
    assert [r.path for r in receiver.requests] == ["/approval"]
    body = json.loads(receiver.requests[0].body)
    assert body["event"] == "approval" and body["status"] == "waiting"
    # Slack-compatible: a `text` a person reads, naming the step and the command that decides it.
    assert "ok" in body["text"] and "--approve ok" in body["text"]


def test_each_wait_for_approval_is_its_own_delivery(receiver: Receiver, tmp_path: Path) -> None:
    # Waiting for `first`, then (resumed, approved) for `second`: two notices a receiver
    # must not drop as one retried delivery.
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(
        "version: 1\n"
        "name: ship\n"
        "steps:\n"
        "  first: {approval: {message: 'One?'}}\n"
        "  second: {needs: [first], approval: {message: 'Two?'}}\n"
        "notify:\n"
        f"  on_approval: [{receiver.url}/approval]\n",
        encoding="utf-8",
    )
    for extra in ([], ["--resume", "latest", "--approve", "first"]):
        done = forkcli.run(
            ["run", str(workflow), "-q", *extra],
            cwd=tmp_path,
            stdin=forkcli.DEVNULL,
            env={**os.environ, "NO_COLOR": "1"},
            timeout=60,
        )
        assert done.returncode == 75, done.stderr
    first, second = receiver.requests
    assert "--approve first" in json.loads(first.body)["text"]
    assert "--approve second" in json.loads(second.body)["text"]
    assert first.headers["x-agnoctl-delivery"] != second.headers["x-agnoctl-delivery"]
