"""A report.json holding NaN or Infinity (agnoctl writes neither: a report from elsewhere, a
baseline kept by hand), read by `report diff` and `report show`, through the real CLI.

Found by the cli pass: the report loaded (`runs list` called the run incomplete), `report diff`
printed `duration nan s → ... (+nan s)`, and `--format json` printed `"duration_ms_a": NaN`,
which no strict JSON reader parses. It is now refused as not a valid report, with where.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: damaged
agents:
  w: {model: mock/echo}
steps:
  a: {agent: w, prompt: NaN Infinity}
"""


@pytest.fixture
def runs(run_cli: RunCli, tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    assert run_cli("run", "wf.yaml", "-q", "--report-dir", "good").returncode == 0
    assert run_cli("run", "wf.yaml", "-q", "--report-dir", "bad").returncode == 0
    return tmp_path / "good", tmp_path / "bad"


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize(
    "command",
    [
        ("report", "diff", "bad", "good", "--format", "json"),
        ("report", "diff", "good", "bad"),
        ("report", "show", "bad"),
        ("report", "show", "bad", "--format", "json"),
    ],
)
def test_a_report_with_a_non_finite_number_is_refused(
    run_cli: RunCli, runs: tuple[Path, Path], token: str, command: tuple[str, ...]
) -> None:
    report = runs[1] / "report.json"
    text = report.read_text()
    data = json.loads(text)
    damaged = text.replace(f'"duration_ms": {data["duration_ms"]},', f'"duration_ms": {token},', 1)
    assert damaged != text
    report.write_text(damaged)
    done = run_cli(*command)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(
        f"error: {report.relative_to(runs[1].parent)} is not a valid report: "
    )
    assert "NaN or Infinity" in done.stderr
    assert "line " in done.stderr


def test_nan_in_a_string_is_no_number(run_cli: RunCli, runs: tuple[Path, Path]) -> None:
    done = run_cli("report", "diff", "good", "bad", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout, parse_constant=pytest.fail)["regressed"] is False
