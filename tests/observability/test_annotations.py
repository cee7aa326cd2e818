"""`agnoctl run --format github`: workflow commands for what failed."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from agnoctl.reports.annotations import github_annotations
from agnoctl.reports.model import RunReport
from tests.observability.conftest import WORKFLOW, ObsRuns, invoke_run


def test_run_prints_gate_annotations(obs_runs: ObsRuns, cli: CliRunner, in_tmp: Path) -> None:
    result = invoke_run(cli, obs_runs, "-q", "--format", "github", confidence=0.5)
    workflow = obs_runs.root / "workflow.yaml"
    assert result.exit_code == 0, result.output  # a warn gate: the run passes
    [line] = [line for line in result.stdout.splitlines() if line.startswith("::")]
    # The annotation points at the line where the score step is declared.
    declared = WORKFLOW.splitlines().index("  score:") + 1
    assert line.startswith(f"::warning file={workflow},line={declared},col=3,")
    assert "title=agnoctl%3A gate threshold confidence >= 0.7 failed on score::" in line
    assert line.endswith("confidence was 0.5, below the minimum 0.7")


def test_failed_run_and_steps_are_errors(obs_runs: ObsRuns) -> None:
    data = obs_runs.a.report.model_dump(mode="json")
    data.update(status="failed", exit_code=1, reason="1 of 3 steps failed:\nsee report")
    data["steps"]["publish"].update(
        status="failed", error={"message": "exit 3, a,b:c", "kind": "exit_code"}
    )
    data["steps"]["collect"]["items"][2].update(
        status="failed", error={"message": "boom", "kind": "x"}
    )
    lines = github_annotations(RunReport.model_validate(data)).splitlines()
    assert lines[0] == "::error title=agnoctl%3A obs-demo failed::1 of 3 steps failed:%0Asee report"
    assert "::warning file=" in lines[1] and "collect[2] failed::boom" in lines[1]
    assert lines[2].startswith("::error file=") and lines[2].endswith(
        "step publish failed::exit 3, a,b:c"
    )
    assert len(lines) == 3


def test_nothing_to_say_about_a_clean_run(obs_runs: ObsRuns) -> None:
    data = obs_runs.a.report.model_dump(mode="json")
    data["steps"]["collect"]["items"][1]["attempts"] = data["steps"]["collect"]["items"][1][
        "attempts"
    ][1:]
    assert github_annotations(RunReport.model_validate(data)) == ""
