"""``--format github`` names the workflow file as GitHub finds it: relative to the checkout.

Found by running from a job's ``working-directory`` (and with an absolute path): the
annotations said ``file=wf.yaml`` (``file=/home/runner/work/repo/repo/ci/wf.yaml``), while
GitHub matches ``file=`` against the repository's paths (``ci/wf.yaml``), so the annotation
never reached the file's line in the pull request. Now a file under ``$GITHUB_WORKSPACE`` is
named relative to it, by ``run`` and ``validate`` alike; elsewhere as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunCli

_WORKFLOW = """\
version: 1
name: where
steps:
  bad: {run: [sh, -c, "exit 3"]}
"""


def _files(stdout: str) -> set[str]:
    return {
        line.split("file=", 1)[1].split(",", 1)[0]
        for line in stdout.splitlines()
        if line.startswith("::") and "file=" in line
    }


@pytest.mark.parametrize("absolute", [False, True])
def test_run_names_the_file_from_the_checkout(
    run_cli: RunCli, tmp_path: Path, absolute: bool
) -> None:
    folder = tmp_path / "ci"
    folder.mkdir()
    (folder / "wf.yaml").write_text(_WORKFLOW, encoding="utf-8")
    name = str(folder / "wf.yaml") if absolute else "wf.yaml"
    env = {"GITHUB_WORKSPACE": str(tmp_path)}
    result = run_cli(
        "run", name, "--report-dir", "r", "-q", "--format", "github", cwd=folder, env=env
    )
    assert result.returncode == 1, result.stderr
    assert _files(result.stdout) == {"ci/wf.yaml"}, result.stdout


def test_validate_names_the_file_from_the_checkout(run_cli: RunCli, tmp_path: Path) -> None:
    folder = tmp_path / "ci"
    folder.mkdir()
    (folder / "wf.yaml").write_text(_WORKFLOW + "  bad2: {needs: [nothing], run: [echo]}\n")
    env = {"GITHUB_WORKSPACE": str(tmp_path)}
    result = run_cli("validate", "wf.yaml", "--format", "github", cwd=folder, env=env)
    assert result.returncode == 2, result.stderr
    assert _files(result.stdout) == {"ci/wf.yaml"}, result.stdout


def test_a_file_outside_the_checkout_keeps_its_name(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(_WORKFLOW, encoding="utf-8")
    env = {"GITHUB_WORKSPACE": str(tmp_path / "elsewhere")}
    result = run_cli("run", "wf.yaml", "--report-dir", "r", "-q", "--format", "github", env=env)
    assert _files(result.stdout) == {"wf.yaml"}, result.stdout
