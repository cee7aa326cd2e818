"""Two real runs of one small workflow, offline (mock provider), shared by the module's tests.

Run ``a`` is the baseline; run ``b`` differs only in its fixtures: the scorer's confidence drops
from 0.9 to 0.5, so the warn gate fails (the run still passes) and ``report diff`` must call
it a regression. Both runs plant a secret (an API key, also interpolated into a prompt) that
must never appear in anything they write (a model echoes it in one reply), and an XSS
payload as a model output.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from agnoctl.cli import app
from agnoctl.events import Entry, parse_line
from agnoctl.reports.model import RunReport
from agnoctl.session import RunOptions, run_workflow

SECRET = "sk-obs-PLANTED-SECRET-7f3a9c2e"
XSS = (
    "facts <script>document.documentElement.setAttribute('data-pwned','1')</script>"
    "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','2')\">"
)

WORKFLOW = """\
version: 1
name: obs-demo
description: A small run that exercises fan-out, retries, gates and a command.
env:
  LEAK: ${OBS_API_KEY}
providers:
  local:
    type: openai
    base_url: http://127.0.0.1:9/v1
    api_key: ${OBS_API_KEY}
    pricing: {m: {input: 1.0, output: 2.0}}
agents:
  writer:
    model: local/m
    instructions: Write short facts.
  scorer:
    model: local/m
    output_schema:
      type: object
      required: [confidence]
      properties: {confidence: {type: number}}
defaults:
  retry: {max_attempts: 3, initial_delay: 10ms, max_delay: 20ms}
steps:
  collect:
    agent: writer
    for_each: ["a", "b", "c"]
    prompt: "Collect {{ item }} (key {{ env.LEAK }})"
  score:
    agent: scorer
    needs: [collect]
    prompt: "Score {{ steps.collect.output | length }} facts"
    gates: [{type: threshold, field: confidence, min: 0.7}]
    on_gate_failure: warn
  publish:
    needs: [score]
    run: [python3, -c, "print('published')"]
outputs:
  confidence: "{{ steps.score.output.confidence }}"
limits: {max_llm_calls: 6}
"""

FIXTURES = """\
steps:
  collect:
    items:
      1: [{{error: {{status: 503, message: busy}}}}, {{text: b facts {secret}}}]
    default: {{text: {xss}}}
  score: {{json: {{confidence: {confidence}}}}}
"""


@dataclass(frozen=True)
class ObsRun:
    run_dir: Path
    report: RunReport


@dataclass(frozen=True)
class ObsRuns:
    root: Path
    """Holds workflow.yaml and the fixtures; runs go to root/.agnoctl/runs."""
    runs_dir: Path
    a: ObsRun
    b: ObsRun


def journal_entry(line: dict[str, Any]) -> Entry:
    """A hand-written journal line, read as the journal's readers read it."""
    entry = parse_line(json.dumps(line).encode())
    assert entry is not None, line
    return entry


def write_workflow(folder: Path, *, confidence: float = 0.9, extra: str = "") -> Path:
    """The demo workflow (with ``extra`` YAML appended) and its fixtures, in ``folder``."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    workflow = folder / "workflow.yaml"
    workflow.write_text(WORKFLOW + extra, encoding="utf-8")
    fixtures = folder / f"fixtures-{confidence}.yaml"
    fixtures.write_text(
        FIXTURES.format(xss=json.dumps(XSS), confidence=confidence, secret=SECRET), encoding="utf-8"
    )
    return workflow


def fixtures_path(folder: Path, confidence: float) -> Path:
    return folder / f"fixtures-{confidence}.yaml"


@pytest.fixture(scope="session")
def obs_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObsRuns]:
    root = tmp_path_factory.mktemp("obs")
    workflow = write_workflow(root, confidence=0.9)
    write_workflow(root, confidence=0.5)
    runs_dir = root / ".agnoctl" / "runs"
    made = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OBS_API_KEY", SECRET)
        patch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        for confidence in (0.9, 0.5):
            options = RunOptions(
                mock=True,
                mock_fixtures=fixtures_path(root, confidence),
                runs_dir=runs_dir,
                seed=7,
            )
            report = run_workflow(workflow, options)
            made.append(ObsRun(runs_dir / report.run_id, report))
    yield ObsRuns(root, runs_dir, *made)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in ``tmp_path`` (runs land there) with the demo's API key set."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OBS_API_KEY", SECRET)
    return tmp_path


def invoke_run(cli: CliRunner, obs_runs: ObsRuns, *args: str, confidence: float = 0.9) -> Result:
    """``agnoctl run`` of the demo workflow in-process, offline."""
    workflow, fixtures = obs_runs.root / "workflow.yaml", fixtures_path(obs_runs.root, confidence)
    return cli.invoke(
        app, ["run", str(workflow), "--mock", "--mock-fixtures", str(fixtures), *args]
    )


# --------------------------------------------------------------------------- a loopback receiver


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    """Names in lower case."""
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records requests; ``script`` lists status codes to
    answer, in order (then 200)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            state.requests.append(
                Received(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
            )
            status = state.script.pop(0) if state.script else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = _record
        do_PUT = _record

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads ``requests`` instead."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
