"""SPEC: `steps.<id>.results` is the list of `{item, status, output, error}` "for `for_each`".
A template that read `.results` of a step without for_each (a plain step, a group, a group's
child) validated, and at run time rendered null, whatever the step did: a report built from
it said nothing, silently. It is now E407, at validation, with the attributes the step has."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import RunCli


def errors(folder: Path, run_cli: RunCli, flow: dict[str, object]) -> list[str]:
    (folder / "flow.yaml").write_text(
        yaml.safe_dump({"version": 1, "name": "t", **flow}), encoding="utf-8"
    )
    done = run_cli("validate", "--format", "json", "flow.yaml")
    found = json.loads(done.stdout)["diagnostics"]
    said = [f"{d['code']} {d['message']}" for d in found if d["severity"] == "error"]
    assert done.returncode == (2 if said else 0)
    return said


def test_results_of_a_step_without_for_each_is_an_error(tmp_path: Path, run_cli: RunCli) -> None:
    flow = {
        "steps": {
            "a": {"run": ["echo", "x"]},
            "g": {"steps": {"c": {"run": ["echo", "x"]}}},
            "b": {
                "needs": ["a", "g"],
                "run": ["echo", "{{ steps.a.results }}", "{{ steps.g.c.results | length }}"],
            },
        },
        "outputs": {"o": "{{ steps.g.results }}"},
    }
    assert sorted(errors(tmp_path, run_cli, flow)) == [
        "E407 `steps.a.results`: step `a` has no for_each, so no results",
        "E407 `steps.g.c.results`: step `g.c` has no for_each, so no results",
        "E407 `steps.g.results`: step `g` has no for_each, so no results",
    ]


def test_results_of_a_fan_out_is_valid(tmp_path: Path, run_cli: RunCli) -> None:
    flow = {
        "steps": {
            "a": {"run": ["echo", "{{ item }}"], "for_each": [1, 2]},
            "g": {"for_each": [1], "steps": {"c": {"run": ["echo", "x"]}}},
            "b": {
                "needs": ["a", "g"],
                "run": ["echo", "{{ steps.a.results[0].item }}", "{{ steps.g.results }}"],
            },
        },
    }
    assert errors(tmp_path, run_cli, flow) == []
