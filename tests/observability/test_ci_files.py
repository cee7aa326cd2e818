"""The GitHub Action, the pre-commit hook and the CI examples: valid, and their commands run."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from agnoctl.cli import app
from tests.conftest import REPO, RunCli
from tests.observability.conftest import SECRET, ObsRuns


def _yaml(path: str) -> Any:
    return yaml.safe_load((REPO / path).read_text(encoding="utf-8"))


def _action_step(name: str) -> dict[str, Any]:
    [step] = [s for s in _yaml("action.yml")["runs"]["steps"] if s.get("name") == name]
    return step


def test_action_is_a_composite_action_installing_itself() -> None:
    action = _yaml("action.yml")
    assert action["runs"]["using"] == "composite"
    assert action["inputs"]["workflow"]["required"] is True
    assert {"args", "python-version"} <= action["inputs"].keys()
    for step in action["runs"]["steps"]:
        assert "uses" in step or step["shell"] == "bash"
    # It installs the package at its own path: this repository's pyproject.
    assert '"$GITHUB_ACTION_PATH"' in _action_step("Install agnoctl")["run"]
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == "agnoctl"
    assert project["project"]["scripts"]["agnoctl"] == "agnoctl.__main__:console"
    # Inputs reach scripts through env only (no ${{ inputs.x }} pasted into shell code).
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", "")


def test_action_run_script_runs(obs_runs: ObsRuns, tmp_path: Path) -> None:
    script = _action_step("Run the workflow")["run"]
    outputs, summary = tmp_path / "github_output", tmp_path / "step_summary"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "NO_COLOR": "1",
        "AGNOCTL_WORKFLOW": str(obs_runs.root / "workflow.yaml"),
        "AGNOCTL_ARGS": f"--mock --mock-fixtures {obs_runs.root / 'fixtures-0.9.yaml'}",
        "AGNOCTL_REPORT_DIR": "",
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        "OBS_API_KEY": SECRET,
    }
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert values["exit-code"] == "0"
    run_dir = tmp_path / values["report-dir"]
    assert (run_dir / "report.json").is_file() and (run_dir / "report.html").is_file()
    # The engine appended summary.md to the job page's summary.
    assert (
        summary.read_text(encoding="utf-8")
        == (run_dir / "summary.md").read_text(encoding="utf-8") + "\n"
    )
    # --format github: the retried item shows up as nothing; the run passed, so no error.
    assert "::error" not in result.stdout


def test_pre_commit_hook(obs_runs: ObsRuns, run_cli: RunCli, tmp_path: Path) -> None:
    [hook] = _yaml(".pre-commit-hooks.yaml")
    assert hook["id"] == "agnoctl-validate" and hook["language"] == "python"
    files, exclude = re.compile(hook["files"]), re.compile(hook["exclude"])

    def checked(path: str) -> bool:
        return bool(files.search(path)) and not exclude.search(path)

    assert checked("workflows/review.yaml") and checked("ci/agents.yml")
    for other in (
        ".github/workflows/ci.yml",
        ".gitlab-ci.yml",
        "docker-compose.yml",
        "workflows/review.fixtures.yaml",
        "examples/x/fixtures.yaml",
        "action.yml",
    ):
        assert not checked(other), other
    # The entry is a real command: pre-commit appends the file names.
    command = shlex.split(hook["entry"])
    assert command[0] == "agnoctl"
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nname: x\nsteps: {a: {agent: nobody, prompt: hi}}\n")
    both = run_cli(
        *command[1:], obs_runs.root / "workflow.yaml", broken, env={"OBS_API_KEY": SECRET}
    )
    assert both.returncode == 2 and "broken.yaml:3" in both.stdout
    assert "workflow.yaml" not in both.stdout  # the valid file has nothing to report
    assert "2 files checked, 1 error(s)" in both.stderr


def _shell_lines(node: Any) -> list[str]:
    """Every line of every `run:` (GitHub) and `script:` (GitLab) in a CI file."""
    if isinstance(node, dict):
        found = []
        for key, value in node.items():
            if key in ("run", "script", "before_script"):
                for text in value if isinstance(value, list) else [value]:
                    found += [line.strip() for line in str(text).splitlines()]
            else:
                found += _shell_lines(value)
        return found
    if isinstance(node, list):
        return [line for item in node for line in _shell_lines(item)]
    return []


@pytest.mark.parametrize("path", ["docs/ci/github-actions.yml", "docs/ci/gitlab-ci.yml"])
def test_ci_examples_are_valid_yaml_using_real_commands(path: str, cli: CliRunner) -> None:
    lines = [line for line in _shell_lines(_yaml(path)) if line.startswith("agnoctl ")]
    assert lines
    for line in lines:
        words = shlex.split(line.rstrip("\\"))
        command = [w for w in words[1:3] if re.fullmatch(r"[a-z]+", w)]
        if command[:1] != ["report"]:
            command = command[:1]
        result = cli.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, f"{path}: {line}"


def test_gitlab_example_reports_junit() -> None:
    job = _yaml("docs/ci/gitlab-ci.yml")["code-review"]
    assert job["artifacts"]["reports"]["junit"] == "agnoctl-run/junit.xml"
    assert job["artifacts"]["when"] == "always"
    assert "--report-dir" in " ".join(job["script"])
