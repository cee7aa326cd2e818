"""SPEC: "A template may only read `steps.X` where X is one of the step's transitive `needs`:
anything else is a validation error (this catches a missing dependency before any call)."

Two templates that render in a step's context were not held to it: a command step's `cwd`
(not checked at all: an undeclared input passed too), and an agent's `instructions` (and its
templated attachments), which render for every step that uses the agent or judges with it.
Such a workflow validated, then its step failed at run time with "undefined value"."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import RunCli


def write(folder: Path, flow: dict[str, object]) -> Path:
    path = folder / "flow.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "name": "t", **flow}), encoding="utf-8")
    return path


def test_a_cwd_that_reads_a_step_it_does_not_need_is_an_error(
    tmp_path: Path, run_cli: RunCli
) -> None:
    flow = {
        "steps": {"a": {"run": ["echo", "x"]}, "b": {"run": ["pwd"], "cwd": "{{ steps.a.output }}"}}
    }
    done = run_cli("validate", write(tmp_path, flow))
    assert done.returncode == 2, done.stdout
    assert "E406 `steps.a` is read by step `b`, but is not among its needs" in done.stdout


def test_a_cwd_is_checked_as_the_step_s_other_templates_are(
    tmp_path: Path, run_cli: RunCli
) -> None:
    flow = {"steps": {"b": {"run": ["pwd"], "cwd": "{{ inputs.nope }}"}}}
    done = run_cli("validate", write(tmp_path, flow))
    assert done.returncode == 2
    assert "E411 `inputs.nope` reads an undeclared input" in done.stdout


def test_a_cwd_that_reads_a_need_runs_there(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "sub").mkdir()
    flow = {
        "steps": {
            "a": {"run": ["echo", "sub"]},
            "b": {"run": ["pwd"], "needs": ["a"], "cwd": "{{ steps.a.output }}"},
        },
        "outputs": {"where": "{{ steps.b.output }}"},
    }
    done = run_cli("run", write(tmp_path, flow), "--report-dir", "r", "--no-cache")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r" / "outputs").is_dir()


def test_instructions_are_read_in_the_context_of_each_step_that_uses_the_agent(
    tmp_path: Path, run_cli: RunCli
) -> None:
    flow = {
        "agents": {
            "w": {"model": "mock/echo", "instructions": "Know {{ steps.a.output }}."},
            "judge": {"model": "mock/echo", "instructions": "Judge {{ steps.a.output }}."},
        },
        "steps": {
            "a": {"run": ["echo", "x"]},
            "fine": {"agent": "w", "prompt": "hi", "needs": ["a"]},
            "b": {"agent": "w", "prompt": "hi"},
            "c": {
                "run": ["echo", "y"],
                "gates": [{"type": "judge", "agent": "judge", "rubric": "r", "min": 0.5}],
            },
        },
    }
    done = run_cli("validate", write(tmp_path, flow))
    assert done.returncode == 2, done.stdout
    assert "E406 `steps.a` is read by step `b`, but is not among its needs" in done.stdout
    assert "E406 `steps.a` is read by step `c`, but is not among its needs" in done.stdout
    assert "step `fine`" not in done.stdout


def test_item_in_instructions_needs_a_for_each_step(tmp_path: Path, run_cli: RunCli) -> None:
    agents = {"w": {"model": "mock/echo", "instructions": "Item {{ item }}."}}
    lone = {"agents": agents, "steps": {"b": {"agent": "w", "prompt": "hi"}}}
    done = run_cli("validate", write(tmp_path, lone))
    assert done.returncode == 2
    assert "E409 `item` is only defined in for_each steps (agents.w.instructions)" in done.stdout
    fan_out = {"agents": agents, "steps": {"b": {"agent": "w", "prompt": "hi", "for_each": [1]}}}
    assert run_cli("validate", write(tmp_path, fan_out)).returncode == 0
