"""A for_each item that is null is an item like any other: it runs and stays in the report."""

from __future__ import annotations

from pathlib import Path

from agnoctl.session import RunOptions, run_workflow


def test_items_that_are_null_stay_in_the_report(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(
        "version: 1\nname: t\nagents: {w: {model: mock/echo}}\n"
        "steps: {fan: {agent: w, for_each: [null, 1], prompt: '{{ item }}'}}\n",
        encoding="utf-8",
    )
    report = run_workflow(tmp_path / "w.yaml", RunOptions(report_dir=tmp_path / "run"))
    items = report.steps["fan"].items or []
    assert [(i.item, i.output) for i in items] == [(None, "None"), (1, "1")]
