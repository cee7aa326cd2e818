"""A rehearsal (`--mock`, `--cache-only`) sends no request, webhooks included: a CI job that
rehearses a workflow on every pull request must not page the workflow's on-call channel."""

from __future__ import annotations

from pathlib import Path

from agnoctl.cache import ResponseCache
from tests.conftest import RunCli
from tests.observability.conftest import Receiver


def _workflow(folder: Path, url: str) -> Path:
    path = folder / "wf.yaml"
    path.write_text(
        "version: 1\n"
        "name: rehearse\n"
        "providers:\n"
        "  p: {type: openai, base_url: 'http://127.0.0.1:9/v1', api_key: x}\n"
        "agents:\n  a: {model: p/m}\n"
        "steps:\n  s: {agent: a, prompt: hi}\n"
        "notify:\n"
        f"  on_success: [{url}/success]\n"
        f"  on_failure: [{url}/failure]\n"
        f"  on_budget_warning: [{url}/budget]\n",
        encoding="utf-8",
    )
    return path


def test_a_mock_run_sends_no_webhook_and_says_so(
    run_cli: RunCli, receiver: Receiver, tmp_path: Path
) -> None:
    done = run_cli("run", _workflow(tmp_path, receiver.url), "--mock", "-q")
    assert done.returncode == 0, done.stderr
    assert receiver.requests == []
    assert "note: --mock run: its webhooks (notify:) are not sent" in done.stderr


def test_a_cache_only_run_sends_no_webhook(
    run_cli: RunCli, receiver: Receiver, tmp_path: Path
) -> None:
    with ResponseCache(tmp_path / ".agnoctl" / "cache") as cache:
        cache.stats()  # made, with no entry
    done = run_cli("run", _workflow(tmp_path, receiver.url), "--cache-only", "-q")
    assert done.returncode == 1, done.stderr  # an empty cache: a miss
    assert receiver.requests == []
    assert "note: --cache-only run: its webhooks (notify:) are not sent" in done.stderr


def test_repairing_a_mock_run_sends_no_webhook(
    run_cli: RunCli, receiver: Receiver, tmp_path: Path
) -> None:
    # The reports of a finished rehearsal made again: still a rehearsal, still nobody told.
    workflow = _workflow(tmp_path, receiver.url)
    assert run_cli("run", workflow, "--mock", "-q").returncode == 0
    [run_dir] = (tmp_path / ".agnoctl" / "runs").glob("2*")
    (run_dir / "summary.md").unlink()
    (run_dir / "published.json").unlink()
    done = run_cli("run", workflow, "--mock", "-q", "--resume", "latest")
    assert done.returncode == 0, done.stderr
    assert "made summary.md again" in done.stdout + done.stderr
    assert "sent its webhooks" not in done.stdout + done.stderr
    assert receiver.requests == []
