"""A group's `timeout` bounds the whole group, as a `uses` step's bounds its invocation: the
children it cuts short fail by it (their programs ended), those it kept from starting are
skipped, the group fails with kind `timeout`, and a loop group is bounded across its passes.
It was refused (E206), and before that accepted and ignored: a 1 s group ran a 30 s child."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import RunCli


def _run(folder: Path, run_cli: RunCli, steps: dict[str, Any]) -> dict[str, Any]:
    flow = {"version": 1, "name": "bounded", "steps": steps}
    (folder / "flow.yaml").write_text(yaml.safe_dump(flow), encoding="utf-8")
    done = run_cli("run", "flow.yaml", "-q", "--report-dir", "run")
    assert done.returncode == 1, done.stderr
    report: dict[str, Any] = json.loads((folder / "run" / "report.json").read_text())
    return report


def _error(record: dict[str, Any]) -> tuple[str, str]:
    return record["error"]["kind"], record["error"]["message"]


def test_a_group_timeout_cuts_its_children_short(tmp_path: Path, run_cli: RunCli) -> None:
    pidfile = tmp_path / "slow.pid"
    steps = {
        "g": {
            "timeout": "1s",
            "steps": {
                "quick": {"run": ["echo", "hi"]},
                "slow": {
                    "needs": ["quick"],
                    "run": ["sh", "-c", f"echo $$ > {pidfile}; exec sleep 30"],
                },
                "later": {"needs": ["slow"], "run": ["echo", "never"]},
            },
        },
        "after": {"needs": ["g"], "run": ["echo", "done"]},
    }
    started = time.monotonic()
    report = _run(tmp_path, run_cli, steps)
    assert time.monotonic() - started < 20  # not the child's 30 s
    group = report["steps"]["g"]
    assert _error(group) == ("timeout", "step g: the group took longer than 1s")
    children = group["steps"]
    assert children["quick"]["status"] == "succeeded"
    assert _error(children["slow"]) == (
        "timeout",
        "step g.slow: cut short: the group took longer than 1s",
    )
    assert (children["later"]["status"], children["later"]["reason"]) == (
        "skipped",
        "upstream_failed",
    )
    assert report["steps"]["after"]["reason"] == "upstream_failed"
    slow = int(pidfile.read_text())
    try:
        os.kill(slow, 0)
    except ProcessLookupError:
        pass  # ended with its step
    else:
        with open(f"/proc/{slow}/stat") as stat:  # only a zombie nobody reaped may be left
            assert stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")


def test_a_loop_group_is_bounded_across_its_passes(tmp_path: Path, run_cli: RunCli) -> None:
    steps = {
        "review": {
            "timeout": "1s",
            "loop": {"max_iterations": 1000, "until": "false"},
            "steps": {"tick": {"run": ["sleep", "0.1"]}},
        }
    }
    report = _run(tmp_path, run_cli, steps)
    group = report["steps"]["review"]
    assert _error(group) == ("timeout", "step review: the group took longer than 1s")
    history = group["loop"]["history"]
    assert 2 <= len(history) < 1000
    assert {run["status"] for run in history[:-1]} == {"succeeded"}
    assert history[-1]["status"] == "failed"  # the pass the timeout cut
    assert group["loop"]["exhausted"] is False
