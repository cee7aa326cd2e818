"""A journal written by the previous release (before events were typed) still resumes.

``data/previous_release/events.jsonl`` is the journal of ``w.yaml`` run by that release: ``a``
and both items of ``fan`` succeeded, ``check`` failed (its file was missing) and ``after`` was
skipped. Resumed by this release, the finished work is read back and reused, and only
``check`` and ``after`` run, as when that release resumed it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import RunCli

DATA = Path(__file__).parent / "data" / "previous_release"


def test_a_journal_of_the_previous_release_resumes(run_cli: RunCli, tmp_path: Path) -> None:
    shutil.copy(DATA / "w.yaml", tmp_path / "w.yaml")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(DATA / "events.jsonl", run_dir / "events.jsonl")
    (tmp_path / "ready").touch()  # what `check` looks for
    result = run_cli("run", "w.yaml", "--resume", "run", "--no-cache", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed over" not in result.stderr  # every line of the old journal was read
    lines = (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    resumed = [json.loads(line) for line in lines[17:]]  # the old journal has 17 lines
    assert resumed[0]["type"] == "run_resumed" and resumed[0]["seq"] == 18
    reused = {(e["step"], e.get("item")) for e in resumed if e["type"].endswith("_reused")}
    assert reused == {("a", None), ("fan", 0), ("fan", 1)}
    asked = [e["step"] for e in resumed if e["type"] == "llm_call"]
    assert asked == ["after"]
    finished = {e["step"] for e in resumed if e["type"] == "step_succeeded"}
    assert finished == {"fan", "check", "after"}  # `fan` from its reused items
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "passed"
