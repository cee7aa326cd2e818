"""`steps.<g>.<child>` where `g` is a for_each group, read from outside `g` (a later step, or
`outputs`), validated, but each item of `g` has its own child: at run time there was no one
`child` to read, and the step failed with "undefined value". It is now E407 with the reads
that work; inside the group (a sibling, its loop's `until`) each item reads its own, as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import RunCli

FAN_OUT: dict[str, Any] = {
    "for_each": [1, 2],
    "loop": {"max_iterations": 2, "until": "steps.fg.c.output == '2'"},
    "steps": {
        "c": {"run": ["echo", "{{ item }}"]},
        "d": {"run": ["echo", "{{ steps.fg.c.output }}"], "needs": ["c"]},
    },
}


def write(folder: Path, flow: dict[str, Any]) -> None:
    text = yaml.safe_dump({"version": 1, "name": "t", **flow})
    (folder / "flow.yaml").write_text(text, encoding="utf-8")


def test_a_child_of_a_fan_out_read_from_outside_is_an_error(
    tmp_path: Path, run_cli: RunCli
) -> None:
    later = {"run": ["echo", "{{ steps.fg.c.output }}"], "needs": ["fg"]}
    write(
        tmp_path, {"steps": {"fg": FAN_OUT, "later": later}, "outputs": {"o": "{{ steps.fg.d }}"}}
    )
    done = run_cli("validate", "--format", "json", "flow.yaml")
    assert done.returncode == 2
    found = json.loads(done.stdout)["diagnostics"]
    assert sorted((d["code"], d["message"]) for d in found) == [
        ("E407", "`steps.fg.c`: `fg` is a for_each group, so each of its items has its own `c`"),
        ("E407", "`steps.fg.d`: `fg` is a for_each group, so each of its items has its own `d`"),
    ]
    hints = {d["hint"] for d in found}
    assert "read one item's as steps.fg.output[0].c, or all of them from steps.fg.output" in hints


def test_inside_the_fan_out_each_item_reads_its_own(tmp_path: Path, run_cli: RunCli) -> None:
    later = {"run": ["echo", "{{ steps.fg.output[1].d }}"], "needs": ["fg"]}
    write(
        tmp_path,
        {"steps": {"fg": FAN_OUT, "later": later}, "outputs": {"o": "{{ steps.later.output }}"}},
    )
    done = run_cli("run", "flow.yaml", "--report-dir", "r", "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    assert report["steps"]["fg"]["output"] == [{"c": "1", "d": "1"}, {"c": "2", "d": "2"}]
    assert report["outputs"] == {"o": "2"}
