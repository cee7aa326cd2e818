"""End-to-end harness: the real CLI (``agnoctl run``, its own process: tests/forkcli.py) against
the project's fake LLM server on loopback.

Each test module gets its own fake server, so the server's counts (``max_in_flight`` above all)
belong to that module's runs. ``E2E.run`` writes a workflow, runs it and returns
what a CI job would see: exit code, stdout/stderr, ``report.json``, ``events.jsonl``, plus a
snapshot of the server's counts and recent request bodies taken right after the run.

A CLI run costs about a second of interpreter start-up on these machines, so a module runs one
workflow holding many independent scenarios (one step each) and its tests check that run.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from agnoctl.testing.fake_llm import FakeLLMThread, start_in_thread
from tests import forkcli

# Variables that would point a run elsewhere, leak a real key into it or colour its output.
_SCRUBBED_PREFIXES = ("OPENAI_", "ANTHROPIC_", "OLLAMA_", "AGNOCTL_", "GITHUB_")
_SCRUBBED = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}

# Retries in milliseconds: a fault-matrix run spends its time on the faults, not on backoff.
FAST_RETRY: dict[str, Any] = {
    "max_attempts": 3,
    "initial_delay": "10ms",
    "max_delay": "50ms",
    "multiplier": 2,
}


@dataclass
class E2ERun:
    """One finished CLI run and what the fake server saw during it."""

    proc: subprocess.CompletedProcess[str]
    run_dir: Path
    report: dict[str, Any]
    events: list[dict[str, Any]]
    stats: dict[str, Any]

    @property
    def exit_code(self) -> int:
        return self.proc.returncode

    def step(self, path: str) -> dict[str, Any]:
        step: dict[str, Any] = self.report["steps"][path]
        return step

    def events_of(self, type_: str, step: str | None = None) -> list[dict[str, Any]]:
        return [
            e for e in self.events if e["type"] == type_ and (step is None or e.get("step") == step)
        ]

    def requests_with(self, marker: str) -> list[dict[str, Any]]:
        """Requests (oldest first) whose body mentions ``marker``: a step's own tag."""
        return [r for r in self.stats["recent"] if marker in json.dumps(r["body"])]

    def key_count(self, directive: str) -> int:
        """How many requests carried the directive text ``directive`` (its key)."""
        return int(self.stats["keys"].get(directive, 0))


class E2E:
    """Writes workflows that point providers at the fake server, and runs them."""

    def __init__(self, server: FakeLLMThread, root: Path) -> None:
        self.server = server
        self.root = root
        self._runs = 0

    @property
    def url(self) -> str:
        return self.server.url

    def provider(self, protocol: str = "openai", **extra: Any) -> dict[str, Any]:
        """A ``providers:`` entry of ``protocol`` whose ``base_url`` is the fake server."""
        # SPEC: the openai base_url ends where the SDK's does (/v1); the others are the host.
        base_url = f"{self.url}/v1" if protocol == "openai" else self.url
        return {"type": protocol, "base_url": base_url, "api_key": "sk-e2e-test", **extra}

    def write(self, name: str, doc: Mapping[str, Any]) -> Path:
        path = self.root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(dict(doc), sort_keys=False), encoding="utf-8")
        return path

    def run(
        self,
        workflow: Path | Mapping[str, Any],
        *args: str,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
    ) -> E2ERun:
        """Run ``agnoctl run`` on ``workflow`` (a file, or a document to write) in ``root``."""
        self._runs += 1
        path = workflow if isinstance(workflow, Path) else self.write(f"wf{self._runs}", workflow)
        run_dir = self.root / f"run{self._runs}"
        self.server.reset()
        proc = forkcli.run(
            ["run", path, "--report-dir", run_dir, "--progress", "plain", "--seed", "7", *args],
            cwd=self.root,
            env=clean_env(env),
            timeout=timeout,
        )
        stats = self.server.stats()
        report_file = run_dir / "report.json"
        assert report_file.exists(), f"no report (exit {proc.returncode}):\n{proc.stderr}"
        report = json.loads(report_file.read_text(encoding="utf-8"))
        lines = (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
        events = [json.loads(line) for line in lines if line]
        return E2ERun(proc, run_dir, report, events, stats)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without provider settings or proxies, plus ``extra``."""
    kept = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_SCRUBBED_PREFIXES) and k.lower() not in _SCRUBBED
    }
    return {**kept, "NO_COLOR": "1", **(extra or {})}


def workflow_doc(
    name: str,
    *,
    providers: Mapping[str, Any],
    agents: Mapping[str, Any],
    steps: Mapping[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    return {
        "version": 1,
        "name": name,
        "providers": dict(providers),
        "agents": dict(agents),
        "steps": dict(steps),
        **extra,
    }


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeLLMThread]:
    """A fake LLM server for this module alone (its counts are this module's)."""
    with start_in_thread() as server:
        yield server


@pytest.fixture(scope="module")
def e2e(fake_server: FakeLLMThread, tmp_path_factory: pytest.TempPathFactory) -> E2E:
    return E2E(fake_server, tmp_path_factory.mktemp("e2e"))
