"""`on_gate_failure: retry` on a group or a sub-workflow step, through the real CLI.

Found by trying it: the engine checks a group's gates once, on its output map, and a failed
gate fails the group (it is not re-run: its children have no prompt to carry the findings),
so `retry` written on a group was silently `fail`. `agnoctl plan` meanwhile counted the group's
children up to `max_attempts` times over (1-9 calls for one child retried 3 times, where the
run makes at most 3). Now `retry` written on a group or a `uses` step is an error (E206,
pointing at a review loop), and a `retry` from `defaults` is planned as the run does it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import forkcli

GATE = {"type": "expr", "expr": "output.a == 'never'"}
RETRY = {"max_attempts": 3, "initial_delay": "10ms", "jitter": "none"}
CHILD = {"a": {"agent": "w", "prompt": "a"}}


def _write(folder: Path, name: str, steps: dict[str, Any], **extra: Any) -> str:
    doc = {
        "version": 1,
        "name": name,
        "agents": {"w": {"model": "mock/echo"}},
        "steps": steps,
        **extra,
    }
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    return f"{name}.yaml"


def _errors(folder: Path, file: str) -> tuple[int, list[dict[str, Any]]]:
    done = forkcli.run(["validate", "--format", "json", file], cwd=folder)
    diagnostics = json.loads(done.stdout)["diagnostics"]
    return done.returncode, [d for d in diagnostics if d["severity"] == "error"]


@pytest.mark.parametrize("kind", ["group", "uses"])
def test_retry_written_on_a_group_or_sub_workflow_is_an_error(tmp_path: Path, kind: str) -> None:
    _write(tmp_path, "child", CHILD, outputs={"a": "{{ steps.a.output }}"})
    body: dict[str, Any] = {"steps": CHILD} if kind == "group" else {"uses": "child.yaml"}
    step = {**body, "gates": [GATE], "on_gate_failure": "retry"}
    code, errors = _errors(tmp_path, _write(tmp_path, "flow", {"grp": step}))
    assert code == 2
    [found] = errors
    assert found["code"] == "E206"
    assert "is not re-run" in found["message"] and "loop" in found["message"]
    for fine in ("fail", "warn"):
        ok = {**step, "on_gate_failure": fine}
        assert _errors(tmp_path, _write(tmp_path, "flow", {"grp": ok})) == (0, [])


def test_a_default_retry_is_planned_as_the_group_runs(tmp_path: Path) -> None:
    group = {"steps": CHILD, "gates": [GATE]}
    file = _write(
        tmp_path, "flow", {"grp": group}, defaults={"retry": RETRY, "on_gate_failure": "retry"}
    )
    planned = forkcli.run(["plan", "--format", "json", file], cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    steps = {s["path"]: s for s in json.loads(planned.stdout)["steps"]}
    # The child's own attempts (its gates pass: it has none), once: the group is not re-run.
    assert steps["grp"]["llm_calls"] == {"min": 1, "max": 3}
    assert steps["grp.a"]["tasks"] == {"min": 1, "max": 1}

    ran = forkcli.run(["run", file, "--report-dir", "out", "--progress", "plain"], cwd=tmp_path)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    grp = report["steps"]["grp"]
    assert grp["status"] == "failed" and grp["error"]["kind"] == "gate_failed"
    assert grp["steps"]["a"]["calls"] == 1 and len(grp["attempts"]) == 1
