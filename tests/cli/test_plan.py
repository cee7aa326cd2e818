"""`agnoctl plan` through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from agnoctl.cli import app

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "plan" / "fixtures"
RunCli = Callable[..., subprocess.CompletedProcess[str]]

FLOW = """\
version: 1
name: flow
inputs:
  topic: {type: string}
  regions: {type: array, default: [eu]}
  rounds: {type: integer, default: 1}
agents:
  w: {model: mock/echo, max_tokens: 10}
steps:
  write:
    agent: w
    for_each: inputs.regions
    prompt: "{{ inputs.topic }} in {{ item }}"
"""


def _flow(tmp_path: Path) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW, encoding="utf-8")
    return path


def test_plan_in_a_real_process(run_cli: RunCli) -> None:
    result = run_cli("plan", FIXTURES / "hand_computed.yaml", "--format", "json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["schema_version"] == 1
    assert plan["totals"]["llm_calls"] == {"min": 5, "max": 33}


def test_text_and_markdown(run_cli: RunCli) -> None:
    text = run_cli("plan", FIXTURES / "hand_computed.yaml")
    assert text.returncode == 0
    assert "Critical path\n  summarise -> review -> review.draft" in text.stdout
    markdown = run_cli("plan", FIXTURES / "hand_computed.yaml", "--format", "markdown")
    assert "| step | kind | model |" in markdown.stdout


def test_inputs_are_typed_by_their_declaration(tmp_path: Path, cli: CliRunner) -> None:
    path = _flow(tmp_path)
    inputs_file = tmp_path / "inputs.yaml"
    inputs_file.write_text("regions: [eu, us, apac]\n", encoding="utf-8")
    result = cli.invoke(
        app,
        [
            "plan",
            str(path),
            "-i",
            "topic=fintech",
            "-i",
            "rounds=2",
            "--inputs-file",
            str(inputs_file),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["inputs"] == {"topic": "fintech", "regions": ["eu", "us", "apac"], "rounds": 2}
    assert plan["steps"][0]["tasks"] == {"min": 3, "max": 3}
    assert plan["warnings"] == []


def test_a_missing_required_input_still_plans(tmp_path: Path, cli: CliRunner) -> None:
    result = cli.invoke(app, ["plan", str(_flow(tmp_path)), "--format", "json"])
    assert result.exit_code == 0
    assert "input 'topic' is required" in json.loads(result.stdout)["warnings"][0]


def test_bad_input_is_a_usage_error(tmp_path: Path, cli: CliRunner) -> None:
    result = cli.invoke(app, ["plan", str(_flow(tmp_path)), "-i", "rounds=many"])
    assert result.exit_code == 2
    assert "error: input 'rounds' must be an integer" in result.stderr
    unknown = cli.invoke(app, ["plan", str(_flow(tmp_path)), "-i", "topix=x"])
    assert unknown.exit_code == 2 and "did you mean 'topic'" in unknown.stderr


def test_assume_items(tmp_path: Path, cli: CliRunner) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            version: 1
            name: flow
            agents:
              w: {model: mock/echo}
            steps:
              a: {agent: w, prompt: x}
              b: {agent: w, prompt: "{{ item }}", needs: [a], for_each: steps.a.output}
            """
        ),
        encoding="utf-8",
    )
    result = cli.invoke(app, ["plan", str(path), "--assume-items", "25", "--format", "json"])
    assert json.loads(result.stdout)["steps"][1]["tasks"] == {"min": 1, "max": 25}


def test_an_invalid_workflow_exits_2_with_diagnostics(tmp_path: Path, run_cli: RunCli) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nname: bad\nsteps:\n  a: {agent: nobody, prompt: x}\n")
    result = run_cli("plan", path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"{path}:4:" in result.stderr and "nobody" in result.stderr


def test_a_template_that_cannot_render_exits_2_with_its_line(
    tmp_path: Path, run_cli: RunCli
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "version: 1\nname: bad\ninputs:\n  n: {type: integer, default: 1}\n"
        'steps:\n  a:\n    run: [echo, "{{ inputs.n ~ 1 }}", "{{ inputs.n + \'x\' }}"]\n'
    )
    result = run_cli("plan", path)
    assert result.returncode == 2
    assert f"{path}:7:" in result.stderr and "E501" in result.stderr
    assert "Traceback" not in result.stderr


def test_planning_imports_no_network_or_async_library() -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from agnoctl.cli import app
        try:
            app(["plan", {str(FIXTURES / "market.yaml")!r}, "--format", "json"])
        except SystemExit as exc:
            assert exc.code in (0, None), exc.code
        loaded = sorted(m for m in ("httpx", "anyio", "aiohttp", "rich.live") if m in sys.modules)
        assert not loaded, loaded
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
