"""A damaged journal: lines of events.jsonl that hold no event, through the real CLI.

A disk error or a stray edit can leave lines that are not UTF-8, not JSON, JSON but not an
object, or an object whose `seq`, `step`, `item` or `iteration` is of the wrong type.
`--resume` and the commands that read a journal pass over such a line, say how many they
passed over, and keep every event after it: the finished work is still reused.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.security.cli import agnoctl

FLOW = """\
version: 1
name: journal
agents:
  a: {model: mock/echo}
steps:
  first: {agent: a, prompt: one}
  second: {agent: a, prompt: two, needs: [first]}
  third: {agent: a, prompt: three, needs: [second]}
"""

BAD_LINES = {
    "array": b"[1, 2]",
    "string": b'"text"',
    "number": b"42",
    "null": b"null",
    "not-utf8": b'{"seq": 3, "type": "step_started", "x": "\xff\xfe"}',
    "garbage": b"\xff\xfe\x00 not json",
    "empty": b"",
    "seq-not-a-number": b'{"seq": "x", "type": "step_started", "step": "first"}',
    "item-a-list": b'{"seq": 3, "type": "item_succeeded", "step": "first", "item": [1]}',
    "step-a-map": b'{"seq": 3, "type": "step_succeeded", "step": {"a": 1}}',
}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real run of FLOW, made once: every test damages a copy of it."""
    folder = tmp_path_factory.mktemp("journal")
    (folder / "flow.yaml").write_text(FLOW, encoding="utf-8")
    assert agnoctl(folder, "run", "flow.yaml", "--report-dir", "run").returncode == 0
    return folder


@pytest.fixture
def killed_run(finished_run: Path, tmp_path: Path) -> Path:
    """A run directory as a kill after its second step leaves it: the third never ran."""
    shutil.copy2(finished_run / "flow.yaml", tmp_path / "flow.yaml")
    shutil.copytree(finished_run / "run", tmp_path / "run", symlinks=True)
    journal = tmp_path / "run" / "events.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    third = next(i for i, line in enumerate(lines) if b'"step":"third"' in line)
    journal.write_bytes(b"".join(lines[:third]))
    return tmp_path / "run"


def insert(journal: Path, bad: bytes, at: int) -> None:
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join([*lines[:at], bad + b"\n", *lines[at:]]))


@pytest.mark.parametrize("bad", BAD_LINES.values(), ids=BAD_LINES.keys())
def test_resume_passes_over_a_line_that_holds_no_event(killed_run: Path, bad: bytes) -> None:
    journal = killed_run / "events.jsonl"
    insert(journal, bad, 2)  # after run_started and the first step's start
    result = agnoctl(killed_run.parent, "run", "flow.yaml", "--resume", str(killed_run))
    assert result.returncode == 0, result.stderr
    assert f"{journal}: line 3 holds no event (not UTF-8, not JSON, or not an object" in (
        result.stderr
    )
    appended = journal.read_bytes().split(b'"type":"run_resumed"', 1)[1].splitlines()[1:]
    events = [json.loads(line) for line in appended]
    reused = {e["step"] for e in events if e["type"] == "step_reused"}
    ran = {e["step"] for e in events if e["type"] == "step_succeeded"}
    assert (reused, ran) == ({"first", "second"}, {"third"})


def test_many_bad_lines_are_counted_not_listed(killed_run: Path) -> None:
    journal = killed_run / "events.jsonl"
    for at in (1, 3, 5, 7, 9):
        insert(journal, b"[]", at)
    result = agnoctl(killed_run.parent, "run", "flow.yaml", "--resume", str(killed_run))
    assert result.returncode == 0, result.stderr
    assert f"{journal}: 5 lines hold no event (lines 2, 4, 6, ...)" in result.stderr


def test_reports_and_run_listings_pass_over_such_lines(killed_run: Path) -> None:
    journal = killed_run / "events.jsonl"
    insert(journal, b"[1]", 0)
    insert(journal, b"\xff", 3)
    listed = agnoctl(killed_run.parent, "runs", "list", "--runs-dir", str(killed_run.parent))
    assert listed.returncode == 0
    exported = agnoctl(killed_run.parent, "fixtures", "export", str(killed_run), "-o", "fx.yaml")
    assert exported.returncode == 0, exported.stderr
