"""`run --no-cache --cache-dir DIR` ran without a word about DIR (found by the offline pass):
the directory named was never read nor written, so a CI job that points every run at a shared
cache and turns it off for one job believed the job used it. It is refused, as every option
that would be ignored is."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RunCli


def test_no_cache_refuses_a_cache_dir(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(
        "version: 1\nname: w\nagents:\n  a: {model: mock/echo}\n"
        "steps:\n  s: {agent: a, prompt: hi}\n",
        encoding="utf-8",
    )
    done = run_cli("run", "wf.yaml", "--no-cache", "--cache-dir", "shared", "-q")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == (
        "error: --no-cache turns the response cache off, so --cache-dir would be ignored: "
        "drop one or the other\n"
    )
    assert not (tmp_path / ".agnoctl").exists() and not (tmp_path / "shared").exists()
