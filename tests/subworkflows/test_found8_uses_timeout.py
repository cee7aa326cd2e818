"""What a `uses` step's timeout cut short is reported as such (found by the
sub-workflows/approvals/resume pass).

The child's step that was running when the invocation's `timeout` passed was reported
`skipped: upstream_failed`, though every step it needs had succeeded: now it is `failed`,
`kind: timeout`, saying the sub-workflow's timeout cut it short. Steps that had not started
stay skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

RunCli = Any


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def test_the_child_step_a_uses_timeout_cuts_short_is_failed_by_the_timeout(
    run_cli: RunCli, tmp_path: Path
) -> None:
    _write(
        tmp_path / "child.yaml",
        {
            "version": 1,
            "name": "child",
            "steps": {
                "quick": {"run": ["echo", "quick"]},
                "slow": {"run": ["sleep", "30"], "needs": ["quick"]},
                "last": {"run": ["echo", "last"], "needs": ["slow"]},
            },
        },
    )
    _write(
        tmp_path / "flow.yaml",
        {
            "version": 1,
            "name": "parent",
            "steps": {"u": {"uses": "child.yaml", "timeout": "300ms"}},
        },
    )
    proc = run_cli("run", "flow.yaml", "--report-dir", "out", "-q")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    steps = report["steps"]["u"]["steps"]
    assert report["steps"]["u"]["error"]["kind"] == "timeout"
    assert steps["quick"]["status"] == "succeeded"
    assert (steps["slow"]["status"], steps["slow"]["error"]) == (
        "failed",
        {
            "message": "step u.slow: cut short: the sub-workflow took longer than 0.3s",
            "kind": "timeout",
        },
    )
    assert (steps["last"]["status"], steps["last"]["reason"]) == ("skipped", "upstream_failed")
