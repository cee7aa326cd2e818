"""A run whose approval waits exits 75 even when its success_threshold is met, through the real CLI.

Found by checking docs/ci.md's exit codes: a run waited for a decision only when it would
otherwise fail. With `success_threshold: 0.5`, the waiting approval and the step behind it
counted as two misses of four, the run "passed" and exited 0: CI took it as done, though the
step behind the approval never ran and nobody had been asked to decide. Now it waits (75),
and `--resume --approve` carries it on as always.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: release
success_threshold: 0.5
steps:
  build: {run: [echo, built]}
  test: {run: [echo, tested]}
  publish_ok:
    needs: [build, test]
    approval: {message: Publish?}
  publish:
    needs: [publish_ok]
    if: steps.publish_ok.output.approved
    run: [echo, published]
"""


def _status(run_dir: Path) -> tuple[str, dict[str, str]]:
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    return report["status"], {sid: step["status"] for sid, step in report["steps"].items()}


def test_a_waiting_approval_is_exit_75_under_a_met_threshold(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    waiting = run_cli("run", "wf.yaml", "--no-input", "--report-dir", "run", "-q")
    assert waiting.returncode == 75, waiting.stdout + waiting.stderr
    assert waiting.stdout.startswith("waiting: waiting for approval: publish_ok")
    assert _status(tmp_path / "run") == (
        "waiting",
        {"build": "succeeded", "test": "succeeded", "publish_ok": "waiting", "publish": "skipped"},
    )

    approved = run_cli("run", "wf.yaml", "--resume", "run", "--approve", "publish_ok", "-q")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert _status(tmp_path / "run") == (
        "passed",
        {key: "succeeded" for key in ("build", "test", "publish_ok", "publish")},
    )
