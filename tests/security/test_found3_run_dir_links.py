"""Symbolic links planted in a run directory, through the real CLI.

Found by trying it: a run wrote through them. ``run.lock`` linked to a file (in a ``--report-dir``
holding only it, which counts as empty) had that file cut to nothing and the run's pid written
in it; a resumed run appended its journal to the file ``events.jsonl`` linked to (after cutting
off its last line if it did not end in a newline: a torn line, to the journal's repair), and
wrote outputs/ into the folder ``outputs`` linked to. A run directory holds only what agnoctl
writes: a link in it is now refused (exit 2, naming it), before anything is written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.security.cli import agnoctl

WORKFLOW = """\
version: 1
name: linked
steps:
  s: {run: [sh, -c, "test -f passed || { touch passed; exit 1; }"]}
outputs:
  o: written
"""

PRECIOUS = "precious\nno newline at its end"


def _refused(result_stderr: str, link: Path, target: Path) -> bool:
    return f"error: {link} is a symbolic link (to {target}): " in result_stderr


def test_a_link_at_the_lock_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    precious = tmp_path / "precious.txt"
    precious.write_text(PRECIOUS, encoding="utf-8")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "run.lock").symlink_to(precious)
    result = agnoctl(tmp_path, "run", "wf.yaml", "-q", "--report-dir", "out")
    assert result.returncode == 2, result.stderr
    assert _refused(result.stderr, Path("out/run.lock"), precious)
    assert precious.read_text(encoding="utf-8") == PRECIOUS  # was the run's pid


@pytest.mark.parametrize("planted", ["events.jsonl", "outputs"])
def test_a_resumed_run_refuses_a_link_in_its_directory(tmp_path: Path, planted: str) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    first = agnoctl(tmp_path, "run", "wf.yaml", "-q", "--report-dir", "out")
    assert first.returncode == 1, first.stderr  # s fails once: a run to resume
    # The journal, or the outputs folder emptied, moved out of the run and linked to.
    moved = Path(shutil.move(tmp_path / "out" / planted, tmp_path / planted))
    for output in moved.iterdir() if moved.is_dir() else ():
        output.unlink()
    before = _contents(moved)
    (tmp_path / "out" / planted).symlink_to(moved)

    result = agnoctl(tmp_path, "run", "wf.yaml", "-q", "--resume", "out")
    assert result.returncode == 2, result.stderr
    assert _refused(result.stderr, Path("out") / planted, moved)
    assert _contents(moved) == before  # was appended to, or given outputs/o.txt


def _contents(path: Path) -> object:
    return sorted(path.iterdir()) if path.is_dir() else path.read_bytes()
