"""`agnoctl cache stats|clear|prune` through the real command line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

import agnoctl.cache
from agnoctl.cache import ResponseCache, parse_age
from agnoctl.cli import app
from agnoctl.errors import UsageError
from agnoctl.providers.base import ModelReply
from tests import forkcli


def _agnoctl(*args: str) -> subprocess.CompletedProcess[str]:
    return forkcli.run(args, cwd=Path.cwd())


def _fill(directory: Path, ages: dict[str, float], monkeypatch: pytest.MonkeyPatch) -> None:
    now = agnoctl.cache.time.time()
    with ResponseCache(directory) as cache:
        for key, age in ages.items():
            monkeypatch.setattr(agnoctl.cache.time, "time", lambda age=age: now - age)
            cache.put(key, ModelReply(text=key))
    monkeypatch.undo()


def test_stats_prune_clear_in_a_real_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "cache"
    _fill(directory, {"fresh": 60, "week": 7 * 86_400, "ancient": 90 * 86_400}, monkeypatch)

    stats = _agnoctl("cache", "stats", "--cache-dir", str(directory))
    assert stats.returncode == 0, stats.stderr
    assert "entries: 3" in stats.stdout

    pruned = _agnoctl("cache", "prune", "--older-than", "30d", "--cache-dir", str(directory))
    assert pruned.returncode == 0, pruned.stderr
    assert "removed 1 cached replies older than 30d" in pruned.stdout

    pruned = _agnoctl("cache", "prune", "--older-than", "12h", "--cache-dir", str(directory))
    assert "removed 1 " in pruned.stdout

    cleared = _agnoctl("cache", "clear", "--cache-dir", str(directory))
    assert cleared.returncode == 0
    assert "removed 1 cached replies" in cleared.stdout
    with ResponseCache(directory) as cache:
        assert cache.stats().entries == 0


def test_a_bad_age_is_a_usage_error(tmp_path: Path) -> None:
    result = _agnoctl("cache", "prune", "--older-than", "soon", "--cache-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == "error: 'soon' is not an age: use e.g. 30d, 12h, 90m or seconds\n"


@pytest.mark.parametrize("command", ["stats", "clear", "prune"])
def test_a_missing_cache_is_reported_not_created(tmp_path: Path, command: str) -> None:
    directory = tmp_path / "none"
    result = CliRunner().invoke(app, ["cache", command, "--cache-dir", str(directory)])
    assert result.exit_code == 0
    assert "nothing" in result.stdout
    assert not directory.exists()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * 86_400.0), ("1.5d", 129_600.0), ("12h", 43_200.0), ("90m", 5400.0), ("42", 42.0)],
)
def test_ages(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["", "d", "-1d", "1w", "x1d"])
def test_bad_ages(text: str) -> None:
    with pytest.raises(UsageError):
        parse_age(text)
