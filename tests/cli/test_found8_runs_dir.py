"""`--runs-dir` naming a file (found by the secondary commands pass).

`runs list --runs-dir flow.yaml` said "no runs in flow.yaml yet" and exited 0, and `report
show`, `report diff` and `fixtures export` said there was no run in it: the mistake (a file
where the runs folder belongs) was hidden. Now it is a usage error, exit 2, as `--cache-dir`
naming a file is; a folder that does not exist yet still has no runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agnoctl.cli import app


@pytest.mark.parametrize(
    "command",
    [["runs", "list"], ["report", "show"], ["report", "diff", "latest"], ["fixtures", "export"]],
    ids=" ".join,
)
def test_a_runs_dir_that_is_a_file_is_a_usage_error(
    cli: CliRunner, tmp_path: Path, command: list[str]
) -> None:
    file = tmp_path / "flow.yaml"
    file.write_text("version: 1\n", encoding="utf-8")
    result = cli.invoke(app, [*command, "--runs-dir", str(file)])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '--runs-dir': {file} is not a directory" in result.stderr


def test_a_runs_dir_not_made_yet_has_no_runs(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["runs", "list", "--runs-dir", str(tmp_path / "new")])
    assert result.exit_code == 0
    assert "no runs in" in result.stdout
