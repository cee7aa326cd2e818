"""A journal whose first line (the run's `run_started`, the one that names its workflow) was
damaged: `--resume latest` took the run for none of this workflow's, said `no earlier run ...
this is a new run` and did every finished task again, though the journal's other lines held
them and `--resume <run id>` reused them. The run's workflow is then read from its
report.json."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli
from tests.resume.resume_helpers import latest


def test_resume_latest_finds_a_run_whose_first_line_is_damaged(
    tmp_path: Path, run_cli: RunCli
) -> None:
    mark = tmp_path / "ran.txt"
    flow = {"version": 1, "name": "first-line", "agents": {"a": {"model": "mock/echo"}}}
    flow["steps"] = {
        "ask": {"agent": "a", "prompt": "hi"},
        "mark": {"run": ["sh", "-c", f"echo ran >> {mark}; test -f {tmp_path / 'ok'}"]},
    }
    (tmp_path / "flow.yaml").write_text(json.dumps(flow), encoding="utf-8")
    first = run_cli("run", "flow.yaml", "-q", "--no-cache")
    assert first.returncode == 1, first.stdout + first.stderr
    run_dir = latest(tmp_path)
    journal = run_dir / "events.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join([lines[0][:30] + b"\n", *lines[1:]]))
    (tmp_path / "ok").touch()

    resumed = run_cli("run", "flow.yaml", "-q", "--no-cache", "--resume", "latest")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "no earlier run" not in resumed.stderr
    assert "line 1 holds no event" in resumed.stderr
    assert resumed.stdout.splitlines()[-1] == (
        f"resumed run {run_dir.name}: 1 task(s) reused, 0 model call(s) made"
    )
    assert [p.name for p in run_dir.parent.iterdir() if p.name != "latest"] == [run_dir.name]
    assert mark.read_text(encoding="utf-8") == "ran\nran\n"  # the failed step alone ran again
