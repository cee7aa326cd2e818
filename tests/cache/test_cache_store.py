"""The on-disk store: round trips, stats, clear, prune, foreign entries, concurrent processes."""

from __future__ import annotations

import multiprocessing
import pickle
from pathlib import Path

import diskcache
import pytest

import agnoctl.cache
from agnoctl.cache import ResponseCache
from agnoctl.providers.base import ModelReply, ToolCall, Usage

REPLY = ModelReply(
    text="héllo",
    tool_calls=(ToolCall("c1", "grep", {"q": ["a", 1, None]}),),
    usage=Usage(12, 34),
    finish_reason="tool_calls",
    model="gpt-4o-mini-2024",
)


@pytest.fixture
def cache(tmp_path: Path) -> ResponseCache:
    with ResponseCache(tmp_path / "cache") as opened:
        yield opened


def test_a_reply_round_trips(cache: ResponseCache) -> None:
    assert cache.get("k") is None
    cache.put("k", REPLY)
    assert cache.get("k") == REPLY
    assert (cache.hits, cache.misses) == (1, 1)


def test_a_large_reply_round_trips_through_a_file(cache: ResponseCache) -> None:
    big = ModelReply(text="x" * 200_000)
    cache.put("big", big)
    assert cache.get("big") == big


def test_entries_survive_reopening(tmp_path: Path) -> None:
    with ResponseCache(tmp_path / "c") as first:
        first.put("k", REPLY)
    with ResponseCache(tmp_path / "c") as second:
        assert second.get("k") == REPLY


def test_stats_count_entries_and_ages(
    cache: ResponseCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cache.stats().entries == 0
    assert cache.stats().oldest is None
    for created, key in ((1000.0, "a"), (3000.0, "b"), (2000.0, "c")):
        monkeypatch.setattr(agnoctl.cache.time, "time", lambda created=created: created)
        cache.put(key, REPLY)
    stats = cache.stats()
    assert (stats.entries, stats.oldest, stats.newest) == (3, 1000.0, 3000.0)
    assert stats.size_bytes > 0


def test_clear_removes_everything(cache: ResponseCache) -> None:
    for key in "abc":
        cache.put(key, REPLY)
    assert cache.clear() == 3
    assert cache.stats().entries == 0
    assert cache.get("a") is None


def test_prune_removes_only_old_entries(
    cache: ResponseCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [0.0]
    monkeypatch.setattr(agnoctl.cache.time, "time", lambda: clock[0])
    for created, key in ((100.0, "old"), (900.0, "new"), (500.0, "middle")):
        clock[0] = created
        cache.put(key, REPLY)
    clock[0] = 1000.0
    assert cache.prune(older_than=600) == 1
    assert cache.get("old") is None
    assert cache.get("middle") == REPLY
    assert cache.prune(older_than=0) == 2
    assert cache.stats().entries == 0


class _Bomb:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def test_pickled_entries_are_never_loaded(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    marker = tmp_path / "marker"
    with diskcache.Cache(str(directory)) as foreign:
        foreign.set("k", _Bomb(marker))
        foreign.set(("tuple", "key"), "value")
        foreign.set("bytes", b"\x80\x04binary" * 10_000)
    assert not marker.exists()
    with ResponseCache(directory) as cache:
        assert cache.get("k") is None
        assert cache.get("bytes") is None
        assert cache.stats().entries == 0
        assert cache.prune(0) == 0
    assert not marker.exists()
    pickle.loads(pickle.dumps(_Bomb(marker))).close()
    assert marker.exists()  # the bomb is real: loading the entry would have run it


def test_only_text_is_stored(cache: ResponseCache) -> None:
    with pytest.raises(TypeError):
        cache._store.set("k", {"a": 1})


def _hammer(directory: str, worker: int, keys: int) -> None:
    with ResponseCache(Path(directory)) as cache:
        for round_ in range(3):
            for index in range(keys):
                key = f"key-{index}"
                reply = cache.get(key)
                if reply is not None:
                    assert reply.text == f"answer {index}", reply
                else:
                    cache.put(key, ModelReply(text=f"answer {index}", model=f"w{worker}r{round_}"))


def test_processes_sharing_a_directory_stay_consistent(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_hammer, args=(str(tmp_path / "c"), worker, 150))
        for worker in range(4)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=60)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]
    with ResponseCache(tmp_path / "c") as cache:
        assert cache.stats().entries == 150
        assert all(cache.get(f"key-{i}").text == f"answer {i}" for i in range(150))
