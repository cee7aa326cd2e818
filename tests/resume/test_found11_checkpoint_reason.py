"""The reason a checkpoint report.json gives (a run still going, or killed) is a command that
carries the run on. It said `agnoctl run --resume <id>`, which lacks the workflow file (a
usage error) and, for a `--report-dir` run, names an id no runs folder holds (found by the
docs-core pass: docs/caching-resume.md quotes it). A final report that cannot be written
leaves the checkpoint on disk, as a kill would."""

from __future__ import annotations

import json
import resource
from pathlib import Path

from tests import forkcli
from tests.resume.resume_helpers import latest, valid_report
from tests.security import cli

LIMIT = 32 * 1024  # above the journal and the checkpoint, below the final report


def _checkpoint(folder: Path, *options: str) -> dict[str, object]:
    flow = {
        "version": 1,
        "name": "kept",
        "agents": {"a": {"model": "mock/echo"}},
        "steps": {"a": {"agent": "a", "prompt": "hello"}},
        "outputs": {"big": "{{ steps.a.output * 9000 }}"},
    }
    (folder / "my flow.yaml").write_text(json.dumps(flow), encoding="utf-8")
    limits: forkcli.Limits = {resource.RLIMIT_FSIZE: (LIMIT, LIMIT)}
    result = cli.agnoctl(folder, "run", "my flow.yaml", "-q", *options, limits=limits)
    assert result.returncode == 1, result.stdout + result.stderr
    run_dir = folder / options[1] if options else latest(folder)
    report = valid_report(run_dir)
    assert report["status"] == "interrupted"
    return report


def test_the_checkpoint_names_the_workflow_and_the_run(tmp_path: Path) -> None:
    report = _checkpoint(tmp_path)
    assert report["reason"] == (
        "the run has not finished (running, or killed); "
        f"`agnoctl run 'my flow.yaml' --resume {report['run_id']}` finishes it"
    )


def test_a_report_dir_run_is_carried_on_by_its_directory(tmp_path: Path) -> None:
    report = _checkpoint(tmp_path, "--report-dir", "out")
    assert report["reason"] == (
        "the run has not finished (running, or killed); "
        "`agnoctl run 'my flow.yaml' --resume out` finishes it"
    )
