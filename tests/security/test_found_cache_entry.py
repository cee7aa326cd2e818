"""One damaged entry in a sound response cache, through the real CLI.

Found by trying it: an entry that is JSON of the cache's format but holds no reply (a field
missing or of another type: edited by hand, written by another program, damaged on disk)
failed its step as an ``internal_error`` (``'tool_calls'``, a KeyError's text), on every run,
until the whole cache was cleared. A cache is disposable: such an entry is now a miss, the call
is made again, and its reply replaces the entry.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from agnoctl.testing.fake_llm import FakeLLMThread
from tests.security.test_cache import DATABASE, run

ENTRIES = {
    "no_reply": {"reply": None},
    "fields_missing": {"reply": {"text": "hello"}},
    "text_not_text": {
        "reply": {
            "text": 5,
            "tool_calls": [],
            "usage": {"input": 1, "output": 1},
            "finish_reason": "stop",
            "model": "m",
        }
    },
    "negative_tokens": {
        "reply": {
            "text": "hello",
            "tool_calls": [],
            "usage": {"input": -5, "output": 1},
            "finish_reason": "stop",
            "model": "m",
        }
    },
    "broken_tool_call": {
        "reply": {
            "text": "",
            "tool_calls": [{"id": 1}],
            "usage": {"input": 1, "output": 1},
            "finish_reason": "tool_calls",
            "model": "m",
        }
    },
}


def _overwrite_the_entry(project: Path, entry: dict[str, object]) -> None:
    value = json.dumps({"format": "agnoctl-cache/1", "created": 0, **entry})
    with sqlite3.connect(project / DATABASE) as database:
        assert database.execute("UPDATE Cache SET value = ?", (value,)).rowcount == 1


@pytest.mark.parametrize("damage", list(ENTRIES))
def test_a_damaged_entry_is_a_miss_and_is_replaced(
    project: Path, server: FakeLLMThread, damage: str
) -> None:
    assert run(project).returncode == 0
    _overwrite_the_entry(project, ENTRIES[damage])

    asked = server.stats()["requests"]
    again = run(project)
    assert again.returncode == 0, again.stderr
    assert server.stats()["requests"] == asked + 1  # the call was made again
    offline = run(project, "--cache-only")  # and its reply replaced the entry
    assert offline.returncode == 0, offline.stderr
    assert server.stats()["requests"] == asked + 1
