"""The CI examples and the action do what they say, run as written (real CLI).

docs/ci/github-actions.yml's run job passes on the clone it checks out. Found by running the
example's commands in a clone like the one its job makes: the `run` job
checked out with actions/checkout's default, a clone of one commit, and ran
workflows/code-review.yaml, which diffs against HEAD~1 (its `base` input). The clone has no
HEAD~1, so its first step (`git diff --name-only HEAD~1`) failed and so did the job, for every
repository that copied the example. Now the example fetches two commits.

The action's `report-dir` output names no run when nothing ran. Found by running its script
twice in one job: when the second workflow was invalid (exit 2: nothing ran), its
`report-dir` was the newest run in `.agnoctl/runs`, the first one's, which an
`upload-artifact` step then kept as this run's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO, RunCli

_GIT = [
    "git",
    "-c",
    "user.name=ci",
    "-c",
    "user.email=ci@example.com",
    "-c",
    "commit.gpgsign=false",
]


def _run_job() -> dict[str, Any]:
    example = yaml.safe_load((REPO / "docs/ci/github-actions.yml").read_text(encoding="utf-8"))
    job: dict[str, Any] = example["jobs"]["run"]
    return job


def _action_script() -> str:
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    [step] = [s for s in action["runs"]["steps"] if s.get("name") == "Run the workflow"]
    script: str = step["run"]
    return script


def _step(job: dict[str, Any], uses: str) -> dict[str, Any]:
    [step] = [s for s in job["steps"] if uses in s.get("uses", "")]
    return step


def _repository(root: Path) -> Path:
    """A repository keeping agnoctl's workflows, with a change on top of its first commit."""
    origin = root / "origin"
    shutil.copytree(REPO / "workflows", origin / "workflows")
    subprocess.run([*_GIT, "init", "-q", str(origin)], check=True)
    subprocess.run([*_GIT, "-C", str(origin), "add", "-A"], check=True)
    subprocess.run([*_GIT, "-C", str(origin), "commit", "-qm", "workflows"], check=True)
    with (origin / "workflows" / "README.md").open("a", encoding="utf-8") as readme:
        readme.write("\nA change to review.\n")
    subprocess.run([*_GIT, "-C", str(origin), "commit", "-qam", "change"], check=True)
    return origin


def _checkout(origin: Path, step: dict[str, Any], into: Path) -> None:
    """What actions/checkout@v4 fetches: `fetch-depth` commits (default 1; 0 for all)."""
    depth = int((step.get("with") or {}).get("fetch-depth", 1))
    shallow = ["--depth", str(depth)] if depth > 0 else []
    subprocess.run([*_GIT, "clone", "-q", *shallow, origin.as_uri(), str(into)], check=True)


def test_the_run_job_passes_on_its_checkout(run_cli: RunCli, tmp_path: Path) -> None:
    job = _run_job()
    clone = tmp_path / "clone"
    _checkout(_repository(tmp_path), _step(job, "actions/checkout"), clone)
    action = _step(job, "/agnoctl@")["with"]
    result = run_cli(
        "run", action["workflow"], *action["args"].split(), "--report-dir", "run", "-q", cwd=clone
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("passed: 4 of 4 steps succeeded")


def _run_action(workflow: str, cwd: Path) -> tuple[int, dict[str, str]]:
    """The action's script as its step runs it; its exit code and its step outputs."""
    outputs = cwd / f"{workflow}.outputs"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "NO_COLOR": "1",
        "AGNOCTL_WORKFLOW": workflow,
        "AGNOCTL_ARGS": "",
        "AGNOCTL_REPORT_DIR": "",
        "GITHUB_OUTPUT": str(outputs),
    }
    env.pop("GITHUB_STEP_SUMMARY", None)
    result = subprocess.run(
        ["bash", "-c", _action_script()], cwd=cwd, env=env, capture_output=True, check=False
    )
    lines = outputs.read_text(encoding="utf-8").splitlines()
    return result.returncode, dict(line.split("=", 1) for line in lines)


def test_the_action_names_no_run_dir_when_nothing_ran(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(
        "version: 1\nname: good\nsteps:\n  s: {run: [echo, hi]}\n", encoding="utf-8"
    )
    (tmp_path / "bad.yaml").write_text(
        "version: 1\nname: bad\nsteps:\n  s: {agent: nobody, prompt: hi}\n", encoding="utf-8"
    )
    code, first = _run_action("good.yaml", tmp_path)
    assert code == 0 and first["exit-code"] == "0", first
    assert (tmp_path / first["report-dir"] / "report.json").is_file()
    code, second = _run_action("bad.yaml", tmp_path)
    assert code == 2 and second == {"report-dir": "", "exit-code": "2"}
