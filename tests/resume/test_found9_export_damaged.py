"""`fixtures export` of a damaged journal (found by the offline pass): a reply whose
`tool_calls` is no list ended in a TypeError traceback, and one with a tool call named by a
number, an unknown `finish_reason` or an unknown purpose was written as fixtures that
`--mock-fixtures` then refuses. Each is now refused when exported, naming the journal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunCli


def _journal(run_dir: Path, **call: Any) -> None:
    base = {"ts": "2026-12-07T22:52:16.854Z", "run_id": "r1"}
    started = {"seq": 1, "type": "run_started", "fingerprint": "x", "workflow": "w"}
    started |= {"file": "wf.yaml", "inputs": {}}
    llm = {"seq": 2, "type": "llm_call", "step": "s", "attempt": 1, "purpose": "task"}
    llm |= {"provider": "p", "model": "m", "tokens_in": 1, "tokens_out": 2, "duration_ms": 1.0}
    run_dir.mkdir()
    lines = [base | started, base | llm | call]
    (run_dir / "events.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


@pytest.mark.parametrize(
    "call",
    [
        {"reply": {"text": "", "tool_calls": "x"}},
        {"reply": {"text": "", "tool_calls": ["x"]}},
        {"reply": {"text": "", "tool_calls": [{"name": 5}]}},
        {"reply": {"text": "a", "finish_reason": "weird"}},
        {"reply": {"text": "a"}, "purpose": "bogus"},
    ],
)
def test_a_reply_no_fixture_can_hold_is_refused(
    run_cli: RunCli, tmp_path: Path, call: dict[str, Any]
) -> None:
    _journal(tmp_path / "run", **call)
    done = run_cli("fixtures", "export", "run", "-o", "f.yaml")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(
        f"error: {Path('run') / 'events.jsonl'} holds a reply that makes no valid fixture"
    ), done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "f.yaml").exists()


def test_a_sound_journal_still_exports(run_cli: RunCli, tmp_path: Path) -> None:
    call = {"name": "t", "arguments": {"q": 1}}
    _journal(tmp_path / "run", reply={"text": "", "tool_calls": [call]})
    done = run_cli("fixtures", "export", "run", "-o", "-")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["steps"]["s"][0]["tool_calls"] == [call]
