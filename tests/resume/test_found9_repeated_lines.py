"""A journal whose lines were written twice (a copy appended to itself, a line pasted again:
its ``seq`` repeats an earlier one's) counted each repeat as more work: a repeated
``run_started`` made a segment that never ran, and repeated ``llm_call`` lines spent the
run's ``limits`` twice. Event numbers only grow in a journal agnoctl wrote, so a line that
does not number past the one before it holds no new event: it is passed over, and named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agnoctl.engine.resume import load_previous_run
from agnoctl.events import read_events
from agnoctl.session import run_workflow


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    flow = {"version": 1, "name": "twice", "agents": {"a": {"model": "mock/echo"}}}
    flow["steps"] = {"ask": {"agent": "a", "prompt": "hi"}, "more": {"agent": "a", "prompt": "x"}}
    (tmp_path / "flow.yaml").write_text(json.dumps(flow), encoding="utf-8")
    run_workflow("flow.yaml", report_dir=tmp_path / "run")
    return tmp_path / "run"


def test_a_journal_written_twice_is_read_once(run_dir: Path) -> None:
    journal = run_dir / "events.jsonl"
    once = journal.read_bytes()
    lines = once.count(b"\n")
    journal.write_bytes(once + once)

    unreadable: list[int] = []
    assert [e.seq for e in read_events(journal, unreadable)] == list(range(1, lines + 1))
    assert unreadable == list(range(lines + 1, 2 * lines + 1))
    previous = load_previous_run(run_dir)
    assert len(previous.segments) == 1
    assert previous.spent().calls == 2
    note = previous.note()
    assert note is not None and f"{lines} lines hold no event" in note


def test_one_repeated_line_is_named(run_dir: Path) -> None:
    journal = run_dir / "events.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join([lines[0], lines[0], *lines[1:]]))

    previous = load_previous_run(run_dir)
    assert len(previous.segments) == 1
    assert previous.note() == (
        f"{journal}: line 2 holds no event (not UTF-8, not JSON, or not an object with an "
        "event's fields) or repeats an earlier line's event number; passed over"
    )
