"""Plain lines of a large fan-out (a CI log, a pipe): its items summed up in progress lines,
what needs a person's eye still told line by line (agnoctl.terminal.PlainLines)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from tests import forkcli

PROGRESS = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} fan: ([\d,]+)/([\d,]+) items done \((.*)\)$")


def flow(items: int, **fan: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "name": "plain",
        "agents": {"w": {"model": "mock/echo"}},
        "steps": {
            "fan": {
                "agent": "w",
                "for_each": f"range({items})",
                "prompt": "item {{ item }}",
                **fan,
            },
            "last": {"agent": "w", "needs": ["fan"], "prompt": "done"},
        },
    }


def run(folder: Path, workflow: dict[str, Any], *args: str) -> tuple[int, list[str]]:
    """``agnoctl run`` with its output to a pipe (plain lines by default): the exit code and
    the lines before the summary table."""
    path = folder / "flow.yaml"
    path.write_text(yaml.safe_dump(workflow), encoding="utf-8")
    done = forkcli.run(
        ["run", str(path), "--mock", *args],
        cwd=folder,
        env={**os.environ, "NO_COLOR": "1"},
    )
    lines = done.stdout.splitlines()
    ended = next(i for i, line in enumerate(lines) if " run_finished " in line)
    return done.returncode, lines[: ended + 1]


def progress(lines: list[str]) -> list[tuple[int, int, str]]:
    found = [PROGRESS.match(line) for line in lines]
    return [(int(m[1].replace(",", "")), int(m[2].replace(",", "")), m[3]) for m in found if m]


def test_a_large_fan_out_prints_bounded_ordered_progress(tmp_path: Path) -> None:
    code, lines = run(tmp_path, flow(200), "--report-dir", "run")
    assert code == 0, lines
    told = progress(lines)
    assert [done for done, _, _ in told] == list(range(20, 201, 20))  # each tenth, in order
    assert told[-1] == (200, 200, "200 succeeded, 0 failed")
    assert not [line for line in lines if "fan[" in line]  # no item told one by one
    events = [line.split()[1] for line in lines if not PROGRESS.match(line)]
    assert events == [
        *("run_started", "step_started", "step_succeeded"),
        *("step_started", "llm_call", "step_succeeded", "run_finished"),
    ]
    assert len(lines) == 17
    assert lines.index(next(line for line in lines if "step_succeeded   fan" in line)) == 12


def test_each_failed_item_keeps_its_line_with_its_error(tmp_path: Path) -> None:
    retry = {"max_attempts": 2, "initial_delay": 0, "jitter": "none"}
    gate = {"gates": [{"type": "regex", "pattern": "[0-8]$"}], "retry": retry}
    gate["on_gate_failure"] = "retry"
    code, lines = run(tmp_path, flow(200, **gate), "--report-dir", "run")
    assert code == 1
    failing = sorted(f"fan[{i}]" for i in range(9, 200, 10))  # items run concurrently
    for kind in ("retry_scheduled", "attempt_started"):  # each retry is told
        told = [line.split()[2] for line in lines if f" {kind} " in line]
        assert sorted(told) == failing, kind
    failed = [line for line in lines if " item_failed " in line]
    assert sorted(line.split()[2] for line in failed) == failing
    assert all("no match for the pattern [0-8]$" in line for line in failed)
    gates = [line.split()[2] for line in lines if " gate_result " in line]
    assert sorted(gates) == sorted(failing * 2)
    assert progress(lines)[-1] == (200, 200, "180 succeeded, 20 failed")
    assert not [line for line in lines if " item_succeeded " in line or " llm_call  " in line]


def test_a_resumed_fan_out_counts_its_reused_items_as_done(tmp_path: Path) -> None:
    gate = {"gates": [{"type": "regex", "pattern": "[0-8]$"}], "retry": {"max_attempts": 1}}
    code, _ = run(tmp_path, flow(200, **gate), "--report-dir", "run")
    assert code == 1
    code, lines = run(tmp_path, flow(200, **gate), "--resume", "run")
    assert code == 1
    assert progress(lines)[-1] == (200, 200, "0 succeeded, 180 reused, 20 failed")
    assert not [line for line in lines if " item_reused " in line]


def test_a_fan_out_of_groups_hides_its_items_steps_but_not_a_failure(tmp_path: Path) -> None:
    """The steps inside a group item are that item's: told only when they fail."""
    workflow = flow(30)
    check = {"gates": [{"type": "regex", "pattern": "[0-8]$"}], "retry": {"max_attempts": 1}}
    workflow["steps"]["fan"] = {
        "for_each": "range(30)",
        "steps": {"a": {"agent": "w", "prompt": "{{ item }}", **check}},
        "success_threshold": 0.5,
    }
    code, lines = run(tmp_path, workflow, "--report-dir", "run")
    assert code == 0, lines
    failed = [line.split()[1:3] for line in lines if "fan[" in line and "_failed " in line]
    assert sorted(failed) == sorted(
        told
        for i in (9, 19, 29)
        for told in (
            ["attempt_failed", f"fan[{i}].a"],  # `a` is no fan-out: no number of its own
            ["step_failed", f"fan[{i}].a"],
            ["item_failed", f"fan[{i}]"],
        )
    )
    assert not [
        line
        for line in lines
        if "fan[" in line and "_failed " not in line and " gate_result " not in line
    ]
    assert progress(lines)[-1] == (30, 30, "27 succeeded, 3 failed")
    assert len(progress(lines)) == 10


def test_a_small_fan_out_prints_every_item_as_before(tmp_path: Path) -> None:
    code, lines = run(tmp_path, flow(5), "--report-dir", "run")
    assert code == 0, lines
    assert not progress(lines)
    for kind in ("item_started", "llm_call", "item_succeeded"):
        told = [line.split()[2] for line in lines if f" {kind} " in line and "fan[" in line]
        assert sorted(told) == [f"fan[{i}]" for i in range(5)], kind
    assert len(lines) == 5 * 3 + 7


def test_a_step_inside_a_group_item_is_named_by_its_path_alone(tmp_path: Path) -> None:
    """A step inside a group item carries that item's number in its events; only a fan-out's
    item is named with one (`outer[1].inner[2]`), never a plain step (`outer[1].bad`, not
    `outer[1].bad[1]`, which read as a fan-out of its own)."""
    workflow = {
        "version": 1,
        "name": "groups",
        "steps": {
            "outer": {
                "for_each": ["a", "b"],
                "steps": {
                    "inner": {"for_each": ["x", "y", "z"], "run": ["echo", "{{ item }}"]},
                    "bad": {"run": ["sh", "-c", "exit 3"]},
                },
            }
        },
    }
    code, lines = run(tmp_path, workflow, "--report-dir", "run")
    assert code == 1, lines
    told = [line.split()[1:3] for line in lines]
    assert ["attempt_failed", "outer[0].bad"] in told
    assert ["attempt_failed", "outer[1].bad"] in told
    assert ["step_started", "outer[1].inner"] in told
    assert ["item_succeeded", "outer[1].inner[2]"] in told
    assert ["item_failed", "outer[1]"] in told
    wheres = [told_line[1] for told_line in told if len(told_line) == 2]
    numbered_children = {w for w in wheres if re.fullmatch(r"outer\[\d\]\.\w+\[\d\]", w)}
    assert numbered_children == {f"outer[{i}].inner[{j}]" for i in range(2) for j in range(3)}
