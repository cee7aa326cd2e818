"""``agnoctl run`` through the real CLI: exit codes, the run directory, inputs, progress."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from agnoctl.cli import app
from agnoctl.engine.state import load_journal
from agnoctl.events import EVENT_TYPES
from agnoctl.reports.model import json_schema

REPO = Path(__file__).resolve().parents[2]
REPORT_SCHEMA = REPO / "schemas" / "report.schema.json"

FLOW: dict[str, Any] = {
    "version": 1,
    "name": "cli-flow",
    "inputs": {
        "topic": {"type": "string"},
        "count": {"type": "integer", "default": 2},
        "sources": {"type": "array", "default": ["web", "news", "filings"]},
    },
    "agents": {
        "a": {"model": "mock/echo"},
        "j": {
            "model": "mock/echo",
            "output_schema": {
                "type": "object",
                "required": ["score"],
                "properties": {"score": {"type": "number"}},
            },
        },
    },
    "defaults": {"retry": {"max_attempts": 1}},
    "steps": {
        "collect": {
            "agent": "a",
            "for_each": "inputs.sources",
            "success_threshold": 0.67,
            "prompt": "{{ inputs.topic }} x{{ inputs.count }} from {{ item }}",
        },
        "score": {
            "agent": "j",
            "needs": ["collect"],
            "prompt": "score it",
            "gates": [{"type": "threshold", "field": "score", "max": 0.5}],
        },
        "shell": {"run": ["echo", "{{ inputs.topic }}"], "needs": ["score"]},
    },
    "outputs": {"collected": "{{ steps.collect.output }}", "said": "{{ steps.shell.output }}"},
}


def write(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    return write(tmp_path, "flow.yaml", FLOW)


def test_a_passing_run_writes_the_run_directory(run_cli: Any, flow: Path, tmp_path: Path) -> None:
    fixtures = write(
        tmp_path,
        "fx.yaml",
        {
            "steps": {
                "collect": {"items": {1: {"error": {"status": 500}}}, "default": {"text": "fact"}},
                "score": {"json": {"score": 0.3}},
            }
        },
    )
    summary = tmp_path / "gh-summary.md"
    result = run_cli(
        "run",
        flow,
        "-i",
        "topic=a b; $(id)",
        "--mock-fixtures",
        fixtures,
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    runs = tmp_path / ".agnoctl" / "runs"
    latest = runs / "latest"
    run_dir = (
        runs / os.readlink(latest) if latest.is_symlink() else runs / latest.read_text().strip()
    )
    assert {p.name for p in run_dir.iterdir()} >= {
        "events.jsonl",
        "junit.xml",
        "outputs",
        "report.json",
        "summary.md",
    }
    report = json.loads((run_dir / "report.json").read_text())
    jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
    assert report["status"] == "passed" and report["exit_code"] == 0
    assert report["inputs"] == {
        "topic": "a b; $(id)",
        "count": 2,
        "sources": ["web", "news", "filings"],
    }
    assert report["steps"]["collect"]["succeeded"] == 2
    assert report["outputs"]["said"] == "a b; $(id)"
    assert json.loads((run_dir / "outputs" / "collected.json").read_text()) == [
        "fact",
        None,
        "fact",
    ]
    assert (run_dir / "outputs" / "said.txt").read_text() == "a b; $(id)"
    assert "passed" in summary.read_text() and "| `collect` |" in summary.read_text()
    assert f"run dir: .agnoctl/runs/{run_dir.name}" in result.stdout


def test_junit_xml_has_a_testcase_per_step_and_gate(
    run_cli: Any, flow: Path, tmp_path: Path
) -> None:
    fixtures = write(tmp_path, "fx.yaml", {"steps": {"score": {"json": {"score": 0.9}}}})
    result = run_cli(
        "run", flow, "-i", "topic=t", "--mock-fixtures", fixtures, "--report-dir", tmp_path / "out"
    )
    assert result.returncode == 1
    root = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "cli-flow"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {
        "(run)",
        "collect",
        "score",
        "score gate schema (implied by output_schema)",
        "score gate threshold score <= 0.5",
        "shell",
    }
    assert cases["score"].find("failure") is not None
    failure = cases["score gate threshold score <= 0.5"].find("failure")
    assert failure is not None and "above the maximum 0.5" in (failure.get("message") or "")
    skipped = cases["shell"].find("skipped")
    assert skipped is not None and skipped.get("message") == "upstream_failed"
    assert cases["(run)"].find("failure") is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("6", "3", "1")


def test_invalid_workflow_exits_2(run_cli: Any, tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", {**FLOW, "steps": {"x": {"agent": "nobody", "prompt": "p"}}})
    result = run_cli("run", bad)
    assert result.returncode == 2
    assert "unknown agent" in result.stderr
    assert not (tmp_path / ".agnoctl").exists()


def test_required_input_missing_exits_2_before_anything_runs(
    cli: CliRunner, flow: Path, tmp_path: Path
) -> None:
    result = cli.invoke(app, ["run", str(flow), "--report-dir", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "input 'topic' is required" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-i", "topc=x"], "unknown input 'topc'"),
        (["-i", "topic=x", "-i", "count=many"], "input 'count' must be an integer"),
        (["-i", "topic=x", "-i", "sources=[oops"], "input 'sources' is an array: give it as JSON"),
        (["-i", "topic"], "expected key=value"),
    ],
)
def test_bad_inputs_exit_2(cli: CliRunner, flow: Path, args: list[str], message: str) -> None:
    result = cli.invoke(app, ["run", str(flow), *args])
    assert result.exit_code == 2
    assert message in result.stderr
    if "topc" in message:
        assert "did you mean 'topic'?" in result.stderr


def test_inputs_file_and_typed_values(cli: CliRunner, flow: Path, tmp_path: Path) -> None:
    values = write(tmp_path, "in.yaml", {"topic": "from file", "sources": ["one"]})
    out = tmp_path / "out"
    result = cli.invoke(
        app,
        [
            "run",
            str(flow),
            "--inputs-file",
            str(values),
            "-i",
            "count=7",
            "--report-dir",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["inputs"] == {"topic": "from file", "count": 7, "sources": ["one"]}
    assert report["steps"]["collect"]["output"] == ["from file x7 from one"]
    assert result.stdout.count("\n") == 1  # --quiet: only the final line


def test_bad_fixtures_exit_2(cli: CliRunner, flow: Path, tmp_path: Path) -> None:
    fixtures = write(tmp_path, "fx.yaml", {"steps": {"colect": {"text": "x"}}})
    result = cli.invoke(app, ["run", str(flow), "-i", "topic=t", "--mock-fixtures", str(fixtures)])
    assert result.exit_code == 2
    assert "did you mean 'collect'?" in result.stderr


def test_plain_progress_prints_one_line_per_event(
    cli: CliRunner, flow: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = cli.invoke(
        app, ["run", str(flow), "-i", "topic=t", "--progress", "plain", "--report-dir", str(out)]
    )
    assert result.exit_code == 0, result.output
    events = (out / "events.jsonl").read_text().splitlines()
    lines = [line for line in result.stdout.splitlines() if line[:2].isdigit()]
    assert len(lines) == len(events)
    assert any("step_succeeded   shell" in line for line in lines)


def test_events_journal(cli: CliRunner, flow: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = cli.invoke(app, ["run", str(flow), "-i", "topic=t", "--report-dir", str(out)])
    assert result.exit_code == 0
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert {e["type"] for e in events} <= EVENT_TYPES
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    assert all(e["ts"].endswith("Z") and e["run_id"] == events[0]["run_id"] for e in events)
    journal = load_journal(out / "events.jsonl")
    assert journal[("collect", 1, None)].output == "t x2 from news"
    assert journal[("shell", None, None)].output == "t"
    # a journal torn by a kill mid-write still reads
    with (out / "events.jsonl").open("a") as handle:
        handle.write('{"seq": 999, "type": "step_succ')
    assert load_journal(out / "events.jsonl") == journal


def test_report_schema_is_committed_and_printed(cli: CliRunner) -> None:
    committed = json.loads(REPORT_SCHEMA.read_text())
    assert committed == json_schema(), "regenerate: agnoctl schema --report > " + str(REPORT_SCHEMA)
    result = cli.invoke(app, ["schema", "--report"])
    assert result.exit_code == 0 and json.loads(result.stdout) == committed


def test_dry_run_prints_the_plan_and_runs_nothing(
    cli: CliRunner, flow: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli.invoke(app, ["run", str(flow), "-i", "topic=t", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "collect" in result.stdout
    assert not (tmp_path / ".agnoctl").exists()


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--report-dir", "out"], "--report-dir"),
        (["--approve", "a", "--reason", "ok"], "--approve, --reason"),
        (["--resume", "latest"], "--resume"),
        (["--mock", "--no-cache"], "--mock, --no-cache"),
        (["--no-show-text"], "--show-text/--no-show-text"),
    ],
)
def test_dry_run_refuses_what_only_a_run_would_use(
    cli: CliRunner, flow: Path, tmp_path: Path, options: list[str], named: str
) -> None:
    # Fail closed: these shape a run, and a dry run would silently ignore them.
    result = cli.invoke(app, ["run", str(flow), "-i", "topic=t", "--dry-run", *options])
    assert result.exit_code == 2
    assert f"so {named} would be ignored" in result.output
    assert not (tmp_path / "out").exists()


def test_secrets_never_reach_the_run_directory(run_cli: Any, tmp_path: Path) -> None:
    secret = "sk-agnoctl-PLANTED-0123456789abcdef"
    spec = {
        "version": 1,
        "name": "secret",
        "agents": {"a": {"model": "mock/echo"}},
        "steps": {
            "leak": {"agent": "a", "prompt": "key is {{ env.KEY }}"},
            "cmd": {"run": ["printenv", "MY_API_KEY"]},
        },
        "env": {"KEY": "${MY_API_KEY}"},
        "outputs": {"leak": "{{ steps.leak.output }}"},
    }
    flow = write(tmp_path, "secret.yaml", spec)
    result = run_cli(
        "run",
        flow,
        "--progress",
        "plain",
        "--report-dir",
        tmp_path / "out",
        env={"MY_API_KEY": secret},
    )
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout + result.stderr
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(), path
