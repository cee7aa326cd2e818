"""A resumed run reuses every item of a for_each nested in a for_each group or sub-workflow
(found by the sub-workflows/approvals/resume pass).

The journal names an item by (step path, item index, loop iteration), and a nested step's own
events by (step path, the enclosing item's index, iteration): the `step_succeeded` of
`g[1].each` and the `item_succeeded` of its item 1 had the same name, so the step's event
took the item's place and the resume asked the model again for item i of `g[i].each`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from resume_helpers import events, latest

RunCli = Any

# A command step that fails while the file `broken` exists in the run's directory.
FLAKY = {"run": ["test", "!", "-e", "broken"]}


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _asked_after_resume(run_cli: RunCli, tmp_path: Path, flow: Path) -> list[Any]:
    """Run ``flow`` with `z` failing, then resume it with `z` fixed: the model calls made."""
    (tmp_path / "broken").touch()
    first = run_cli("run", flow, "-q")
    assert first.returncode == 1, first.stdout + first.stderr
    (tmp_path / "broken").unlink()
    resumed = run_cli("run", flow, "--resume", "latest", "-q")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    journal = events(latest(tmp_path))
    start = max(i for i, e in enumerate(journal) if e["type"] == "run_resumed")
    return sorted((e["step"], e.get("item")) for e in journal[start:] if e["type"] == "llm_call")


def test_items_of_a_for_each_inside_a_for_each_group_are_all_reused(
    run_cli: RunCli, tmp_path: Path
) -> None:
    flow = _write(
        tmp_path / "flow.yaml",
        {
            "version": 1,
            "name": "nested-fan",
            "agents": {"a": {"model": "mock/echo"}},
            "steps": {
                "g": {
                    "for_each": ["x", "y", "z"],
                    "steps": {
                        "each": {"agent": "a", "for_each": [0, 1, 2], "prompt": "{{ item }}"}
                    },
                },
                "z": FLAKY,
            },
        },
    )
    assert _asked_after_resume(run_cli, tmp_path, flow) == []


def test_items_of_a_for_each_inside_a_mapped_sub_workflow_are_all_reused(
    run_cli: RunCli, tmp_path: Path
) -> None:
    _write(
        tmp_path / "child.yaml",
        {
            "version": 1,
            "name": "child",
            "inputs": {"t": {"type": "string"}},
            "agents": {"a": {"model": "mock/echo"}},
            "steps": {
                "each": {"agent": "a", "for_each": [0, 1, 2], "prompt": "{{ inputs.t }} {{ item }}"}
            },
            "outputs": {"all": "{{ steps.each.output }}"},
        },
    )
    flow = _write(
        tmp_path / "flow.yaml",
        {
            "version": 1,
            "name": "mapped-child",
            "steps": {
                "fan": {"uses": "child.yaml", "for_each": ["x", "y"], "with": {"t": "{{ item }}"}},
                "z": FLAKY,
            },
        },
    )
    assert _asked_after_resume(run_cli, tmp_path, flow) == []


def test_tasks_of_an_inner_loop_in_every_outer_iteration_are_reused(
    run_cli: RunCli, tmp_path: Path
) -> None:
    # The journal names a task in nested loops by the inner loop's iteration alone: each
    # outer iteration's tasks had the name of the last one's, which took their place.
    flow = _write(
        tmp_path / "flow.yaml",
        {
            "version": 1,
            "name": "nested-loops",
            "agents": {"a": {"model": "mock/echo"}},
            "steps": {
                "outer": {
                    "loop": {"max_iterations": 3, "until": "false"},
                    "steps": {
                        "inner": {
                            "loop": {"max_iterations": 2, "until": "false"},
                            "steps": {"x": {"agent": "a", "prompt": "{{ loop.iteration }}"}},
                        },
                    },
                },
                "z": FLAKY,
            },
        },
    )
    assert _asked_after_resume(run_cli, tmp_path, flow) == []
