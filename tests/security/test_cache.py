"""A damaged response cache and a wrong cache setting, through the real CLI.

A cache is disposable: a run whose cache database is damaged (garbage written over it, or cut
short) goes on without it and says so, with the command that starts it afresh. `--cache-only`
has nothing else to run from, so there it is an error, as is a `--cache-dir` that cannot be a
directory. None of these ends in a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agnoctl.testing.fake_llm import FakeLLMThread
from tests.security import cli

DATABASE = Path(".agnoctl") / "cache" / "cache.db"


def agnoctl(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AGNOCTL_"))}
    return cli.agnoctl(cwd, *args, env=env)


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return agnoctl(cwd, "run", "flow.yaml", "--quiet", *args)


def damage(project: Path, how: str) -> None:
    database = project / DATABASE
    if how == "garbage":
        database.parent.mkdir(parents=True)
        database.write_bytes(os.urandom(64 * 1024))
    else:  # cut short: a real database, half of it gone
        assert run(project).returncode == 0
        data = database.read_bytes()
        database.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("how", ["garbage", "truncated"])
def test_a_damaged_cache_is_passed_over_with_a_warning(project: Path, how: str) -> None:
    damage(project, how)
    result = run(project, "--report-dir", "out")
    assert result.returncode == 0, result.stderr
    assert "the response cache" in result.stderr
    assert f"agnoctl cache clear --cache-dir {Path('.agnoctl/cache')}" in result.stderr
    report = json.loads((project / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["cost"]["total"]["calls"] == 1  # the model answered: no cache involved
    started = json.loads((project / "out" / "events.jsonl").read_text().splitlines()[0])
    assert "the response cache" in started["note"]


def test_cache_only_with_a_damaged_cache_is_an_error(project: Path) -> None:
    damage(project, "garbage")
    result = run(project, "--cache-only", "--report-dir", "out")
    assert result.returncode == 2
    assert result.stderr.startswith("error: the response cache .agnoctl/cache cannot be read")
    assert "--cache-only" in result.stderr
    assert "agnoctl cache clear" in result.stderr
    assert not (project / "out").exists()


@pytest.mark.parametrize("where", ["a-file", "beneath-a-file"])
def test_a_cache_dir_that_cannot_be_a_directory_is_an_error(project: Path, where: str) -> None:
    (project / "a-file").write_text("not a directory\n", encoding="utf-8")
    cache_dir = "a-file" if where == "a-file" else "a-file/cache"
    result = run(project, "--cache-dir", cache_dir, "--report-dir", "out")
    assert result.returncode == 2
    assert result.stderr == f"error: --cache-dir {cache_dir}: a-file is a file, not a directory\n"
    assert not (project / "out").exists()


@pytest.mark.parametrize("command", [["stats"], ["prune", "--older-than", "1d"]])
def test_cache_commands_on_a_damaged_cache_say_how_to_clear_it(
    project: Path, command: list[str]
) -> None:
    damage(project, "garbage")
    result = agnoctl(project, "cache", *command)
    assert result.returncode == 2
    assert result.stderr.startswith("error: the response cache .agnoctl/cache cannot be read")
    assert "agnoctl cache clear" in result.stderr


def test_cache_clear_deletes_a_damaged_cache(project: Path) -> None:
    damage(project, "garbage")
    (project / ".agnoctl" / "cache" / "notes.txt").write_text("mine\n", encoding="utf-8")
    cleared = agnoctl(project, "cache", "clear")
    assert cleared.returncode == 0, cleared.stderr
    assert "removed the damaged cache database" in cleared.stdout
    assert not (project / DATABASE).exists()
    assert (project / ".agnoctl" / "cache" / "notes.txt").exists()  # only what the cache wrote
    assert run(project).returncode == 0
    again = run(project, "--cache-only", "--report-dir", "again")
    assert again.returncode == 0, again.stderr
    report = json.loads((project / "again" / "report.json").read_text(encoding="utf-8"))
    assert report["cost"]["total"]["cache_hits"] == 1


# Writes random bytes over the database and its log in place, as a stray write would: the run's
# open connection then reads "file is not a database".
_CORRUPT = (
    "import os, pathlib, sys\n"
    "for name in ('cache.db', 'cache.db-wal', 'cache.db-shm'):\n"
    "    path = pathlib.Path(sys.argv[1], name)\n"
    "    if path.exists():\n"
    "        with path.open('r+b') as file:\n"
    "            file.write(os.urandom(max(path.stat().st_size, 4096)))\n"
)


def test_a_cache_damaged_during_the_run_is_passed_over_with_one_warning(
    project: Path, server: FakeLLMThread
) -> None:
    """A cache damaged after the run opened it failed the next step with SQLite's message.
    The run now passes it over as it does a cache damaged before: the model answers every
    later call (also one the cache held), the warning is said once, and the run passes."""
    cache_dir = project / ".agnoctl" / "cache"
    corrupt = json.dumps([sys.executable, "-c", _CORRUPT, str(cache_dir)])
    (project / "flow.yaml").write_text(
        "version: 1\n"
        "name: damaged\n"
        "providers:\n"
        f"  local: {{type: openai, base_url: '{server.url}/v1', api_key: sk-cache-test}}\n"
        "agents:\n"
        "  a: {model: local/m}\n"
        "steps:\n"
        "  first: {agent: a, prompt: what is cached}\n"
        f"  corrupt: {{needs: [first], run: {corrupt}}}\n"
        "  second: {needs: [corrupt], agent: a, prompt: asked after the damage}\n"
        "  again: {needs: [second], agent: a, prompt: what is cached}\n",
        encoding="utf-8",
    )
    result = run(project, "--report-dir", "out")
    assert result.returncode == 0, result.stderr
    warning = "the response cache .agnoctl/cache cannot be read (file is not a database)"
    assert result.stderr.count(warning) == 1, result.stderr
    assert "agnoctl cache clear --cache-dir .agnoctl/cache" in result.stderr
    report = json.loads((project / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "passed"
    assert (report["cost"]["total"]["calls"], report["cost"]["total"]["cache_hits"]) == (3, 0)
    lines = (project / "out" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    calls = [event for event in map(json.loads, lines) if event["type"] == "llm_call"]
    assert [(c["step"], c.get("error"), c.get("cached")) for c in calls] == [
        ("first", None, None),
        ("second", None, None),
        ("again", None, None),
    ]
