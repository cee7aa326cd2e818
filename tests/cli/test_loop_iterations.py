"""Every iteration of a loop group is visible: in the terminal's summary table, in report.json
(with its children's records) and in report.html's timeline; and the table's tokens column
adds up to its total row."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import forkcli

FLOW: dict[str, Any] = {
    "version": 1,
    "name": "loops",
    "agents": {
        "w": {"model": "mock/echo"},
        "judge": {
            "model": "mock/echo",
            "output_schema": {
                "type": "object",
                "required": ["score"],
                "properties": {"score": {"type": "number"}},
            },
        },
    },
    "steps": {
        "first": {"agent": "w", "prompt": "start here"},
        "review": {
            "needs": ["first"],
            "loop": {"max_iterations": 3, "until": "false"},
            # The group's own calls (a judge gate) are counted on the group's row.
            "gates": [{"type": "judge", "agent": "judge", "rubric": "good?", "min": 0.5}],
            "steps": {
                "draft": {"agent": "w", "prompt": "draft number {{ loop.iteration }}"},
                "check": {
                    "agent": "w",
                    "needs": ["draft"],
                    "prompt": "check {{ steps.review.draft.output }} please",
                },
            },
        },
        "fan": {
            "needs": ["review"],
            "for_each": "[1, 2]",
            "steps": {
                "inner": {
                    "loop": {"max_iterations": 2, "until": "loop.iteration >= 2"},
                    "steps": {"say": {"agent": "w", "prompt": "item {{ item }} round"}},
                },
            },
        },
    },
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("loops")
    path = folder / "loops.yaml"
    path.write_text(yaml.safe_dump(FLOW, sort_keys=False), encoding="utf-8")
    done = forkcli.run(
        ["run", str(path), "--report-dir", "run", "--no-cache"],
        cwd=folder,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},  # a table wide enough
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, folder / "run"


def table_rows(stdout: str) -> dict[str, list[str]]:
    """The summary table's rows by their first cell (repeated labels get ` #2`, ` #3`)."""
    rows: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        label, n = cells[0], 2
        while label in rows:
            label, n = f"{cells[0]} #{n}", n + 1
        rows[label] = cells
    return rows


def test_the_table_shows_every_iteration_with_its_children(run: tuple[str, Path]) -> None:
    rows = table_rows(run[0])
    labels = list(rows)
    review = labels.index("review")
    assert labels[review + 1 : review + 10] == [
        "review (iteration 1)",
        "review.draft",
        "review.check",
        "review (iteration 2)",
        "review.draft #2",
        "review.check #2",
        "review (iteration 3)",
        "review.draft #3",
        "review.check #3",
    ]
    assert "fan[0].inner (iteration 2)" in rows and "fan[1].inner (iteration 2)" in rows


def test_the_tokens_column_adds_up_to_the_total(run: tuple[str, Path]) -> None:
    rows = table_rows(run[0])
    total = rows.pop("total")
    report = json.loads((run[1] / "report.json").read_text(encoding="utf-8"))
    assert int(total[3]) == report["cost"]["total"]["tokens"]
    assert sum(int(cells[3]) for cells in rows.values() if cells[3]) == int(total[3])
    assert rows["review"][3]  # its judge gate's call, counted on the group's row only


def test_report_json_keeps_every_iteration_and_its_records(run: tuple[str, Path]) -> None:
    report = json.loads((run[1] / "report.json").read_text(encoding="utf-8"))
    review = report["steps"]["review"]
    history = review["loop"]["history"]
    assert [i["number"] for i in history] == [1, 2, 3]
    assert [i["steps"]["draft"]["output"] for i in history] == [
        "draft number 1",
        "draft number 2",
        "draft number 3",
    ]
    assert all(i["status"] == "succeeded" and i["steps"]["check"]["attempts"] for i in history)
    children = sum(i["tokens_in"] + i["tokens_out"] for i in history)
    own = sum(a["tokens_in"] + a["tokens_out"] for a in review["attempts"])
    assert review["tokens_in"] + review["tokens_out"] == children + own
    assert review["steps"]["draft"]["output"] == "draft number 3"  # the last, as before
    item = report["steps"]["fan"]["items"][1]["steps"]["inner"]
    assert [i["steps"]["say"]["status"] for i in item["loop"]["history"]] == ["succeeded"] * 2


def test_report_html_timeline_has_a_row_per_iteration(run: tuple[str, Path]) -> None:
    page = (run[1] / "report.html").read_text(encoding="utf-8")
    labels = re.findall(r'<div class="g-row" data-filter="([^"]+)"', page)
    for number in (1, 2, 3):
        assert f"review (iteration {number})" in labels
    assert labels.count("review.draft") == 3 and labels.count("review.check") == 3
    assert labels.index("review (iteration 2)") < labels.index("review (iteration 3)")
