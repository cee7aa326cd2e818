"""docs/ci/github-actions.yml's run job passes as written on the clone it checks out (real CLI).

Found by running the example's commands in a clone like the one its job makes: the `run` job
checked out with actions/checkout's default, a clone of one commit, and ran
workflows/code-review.yaml, which diffs against HEAD~1 (its `base` input). The clone has no
HEAD~1, so its first step (`git diff --name-only HEAD~1`) failed and so did the job, for every
repository that copied the example. Now the example fetches two commits.
"""

from __future__ import annotations

import shutil
import subprocess
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
