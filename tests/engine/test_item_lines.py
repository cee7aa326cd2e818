"""What a finished item leaves behind says one thing in both places: its line of
``items.jsonl`` (the step's path first, then its ``ItemReport`` fields) and its
``item_succeeded`` event give the same duration, computed once as the item finished.

Through the real CLI (forked: tests/forkcli.py), on test_million's mock fan-out; 1,100 items,
past ``INLINE_ITEMS``, so their records are in ``items.jsonl``.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from agnoctl.reports.items import INLINE_ITEMS
from tests import forkcli
from tests.cli.test_million import flow

ITEMS = INLINE_ITEMS + 100


def test_an_items_line_and_its_event_give_the_same_duration(tmp_path: Path) -> None:
    path = tmp_path / "lines.yaml"
    path.write_text(yaml.safe_dump(flow(ITEMS)), encoding="utf-8")
    run_dir = tmp_path / "run"
    done = forkcli.run(["run", path, "-q", "--report-dir", run_dir], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]

    raw = (run_dir / "items.jsonl").read_bytes().splitlines()
    assert len(raw) == ITEMS
    assert all(line.startswith(b'{"step":"fan","status":"succeeded",') for line in raw)
    lines = {line["index"]: line for line in map(json.loads, raw)}
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    finished = {e["item"]: e for e in events if e["type"] == "item_succeeded"}
    assert finished.keys() == lines.keys() == set(range(ITEMS))
    for index, line in lines.items():
        assert line["duration_ms"] == finished[index]["duration_ms"]
        assert line["output"] == finished[index]["output"] == f"n{index}"
        [attempt] = line["attempts"]
        assert (attempt["number"], attempt["prompt"], attempt["calls"]) == (1, f"n{index}", 1)
