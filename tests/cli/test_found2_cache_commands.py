"""`agnoctl cache stats|clear|prune` on a folder that holds no cache, through the real CLI.

Found by trying it: ``--cache-dir`` naming an existing folder without a cache (a typo, the
project's root) made each of the three commands create a ``cache.db`` there: a read-only
``stats`` wrote into a checkout a file that then showed up in ``git status``. Now a folder
without a cache's database is reported empty and left as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import RunCli


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (("stats",), "cache: project (empty: nothing cached yet)"),
        (("stats", "--format", "json"), '"entries": 0'),
        (("clear",), "cache: project is empty; nothing to clear"),
        (("prune", "--older-than", "0s"), "cache: project is empty; nothing to prune"),
    ],
)
def test_a_folder_without_a_cache_is_left_as_it_was(
    run_cli: RunCli, tmp_path: Path, command: tuple[str, ...], said: str
) -> None:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "README.md").write_text("keep\n", encoding="utf-8")
    result = run_cli("cache", *command, "--cache-dir", "project")
    assert result.returncode == 0, result.stderr
    assert said in result.stdout
    assert sorted(p.name for p in project.rglob("*")) == ["README.md", "src"]
    if "json" in command:
        assert json.loads(result.stdout)["size_bytes"] == 0


@pytest.mark.parametrize("where", ["notes.txt", "notes.txt/cache"])
@pytest.mark.parametrize(
    "command",
    [("stats",), ("stats", "--format", "json"), ("clear",), ("prune", "--older-than", "0s")],
)
def test_a_cache_dir_that_is_a_file_or_below_one_is_a_usage_error(
    run_cli: RunCli, tmp_path: Path, command: tuple[str, ...], where: str
) -> None:
    """Found by trying it: `--cache-dir notes.txt` (or `notes.txt/cache`) was reported as an
    empty cache (exit 0)."""
    (tmp_path / "notes.txt").write_text("keep\n", encoding="utf-8")
    result = run_cli("cache", *command, "--cache-dir", where)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert f"--cache-dir {where}: notes.txt is a file, not a directory" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "keep\n"
