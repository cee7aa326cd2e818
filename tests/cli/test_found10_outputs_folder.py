"""SPEC "Run directory": a run writes report.json, events.jsonl, junit.xml, summary.md and
`outputs/`. A workflow without `outputs` left no outputs/ folder, so a CI step collecting
`<run dir>/outputs` (an artifact upload, a `cp -r`) found nothing there and failed or
warned. The folder is always made, empty when the workflow names no output."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RunCli


def test_a_run_without_outputs_still_has_the_folder(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "flow.yaml").write_text(
        "version: 1\nname: t\nsteps:\n  a: {run: [echo, hi]}\n", encoding="utf-8"
    )
    done = run_cli("run", "flow.yaml", "--report-dir", "out", "-q")
    assert done.returncode == 0, done.stderr
    outputs = tmp_path / "out" / "outputs"
    assert outputs.is_dir() and not outputs.is_symlink()
    assert list(outputs.iterdir()) == []
