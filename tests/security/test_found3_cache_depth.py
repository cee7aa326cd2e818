"""A response cache entry nested 100,000 deep (a tampered or damaged database) raised
RecursionError as it was read, past the check that makes a damaged entry a miss: the step
failed as an `internal_error`, on every run until the cache was cleared. It is a miss now,
and the call's reply replaces it, as for any other damaged entry."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agnoctl.testing.fake_llm import FakeLLMThread
from tests.security.test_cache import DATABASE, run

DEPTH = 100_000


def test_an_entry_nested_too_deep_is_a_miss_and_is_replaced(
    project: Path, server: FakeLLMThread
) -> None:
    assert run(project).returncode == 0
    deep = "[" * DEPTH + "]" * DEPTH
    value = '{"format": "agnoctl-cache/1", "created": 0, "reply": ' + deep + "}"
    with sqlite3.connect(project / DATABASE) as database:
        assert database.execute("UPDATE Cache SET value = ?", (value,)).rowcount == 1

    asked = server.stats()["requests"]
    again = run(project)
    assert again.returncode == 0, again.stderr
    assert server.stats()["requests"] == asked + 1
    offline = run(project, "--cache-only")
    assert offline.returncode == 0, offline.stderr
