"""`--cache-only` where no cache is (a `--cache-dir` typo, a CI cache that was not restored)
made an empty cache there and failed every model step as a miss, exit 1 as if the workflow had
failed (found by the offline pass). It is a wrong setting: refused before the run (exit 2),
naming the directory, and nothing is made."""

from __future__ import annotations

from pathlib import Path

import pytest

from agnoctl.cache import ResponseCache
from tests.conftest import RunCli

FLOW = (
    "version: 1\nname: w\n"
    "providers:\n  p: {type: openai, base_url: 'http://127.0.0.1:9/v1', api_key: x}\n"
    "agents:\n  a: {model: p/m}\nsteps:\n  s: {agent: a, prompt: hi}\n"
)


@pytest.mark.parametrize("where", [[], ["--cache-dir", "typo"]])
def test_cache_only_without_a_cache_is_refused(
    run_cli: RunCli, tmp_path: Path, where: list[str]
) -> None:
    (tmp_path / "wf.yaml").write_text(FLOW, encoding="utf-8")
    directory = Path(where[-1]) if where else Path(".agnoctl") / "cache"
    done = run_cli("run", "wf.yaml", "--cache-only", *where, "-q")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == (
        f"error: --cache-only replays the response cache, but {directory} holds none: run "
        "once without --cache-only to fill it, or name the cache with --cache-dir\n"
    )
    assert not (tmp_path / directory).exists() and not (tmp_path / ".agnoctl").exists()


def test_an_empty_cache_is_a_miss(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(FLOW, encoding="utf-8")
    with ResponseCache(tmp_path / "c") as cache:
        cache.stats()  # opens it: the database is made, with no entry
    done = run_cli("run", "wf.yaml", "--cache-only", "--cache-dir", "c", "-q")
    assert done.returncode == 1, done.stdout + done.stderr
