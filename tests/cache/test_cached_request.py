"""cached_request: the wrapper the engine puts around every provider call."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from agnoctl.cache import ResponseCache, cached_request, caching_enabled
from agnoctl.errors import CacheMiss
from agnoctl.providers.base import CallContext, Message, ModelRequest

pytestmark = pytest.mark.anyio

REQUEST = ModelRequest(
    model="m",
    messages=(Message("user", "hi"),),
    context=CallContext(step_id="analyse", index=2),
)


@pytest.fixture
def cache(tmp_path: Path) -> ResponseCache:
    with ResponseCache(tmp_path / "cache") as opened:
        yield opened


async def test_a_miss_asks_the_provider_and_the_next_run_hits(
    cache: ResponseCache, provider: object, tmp_path: Path
) -> None:
    reply, hit = await cached_request(cache, provider, REQUEST)
    assert (reply.text, hit) == ("reply 1", False)
    with ResponseCache(tmp_path / "cache") as next_run:
        again, hit = await cached_request(next_run, provider, REQUEST)
    assert (again, hit) == (reply, True)
    assert len(provider.requests) == 1


async def test_other_items_with_the_same_request_hit(
    cache: ResponseCache, provider: object
) -> None:
    await cached_request(cache, provider, REQUEST)
    other = dataclasses.replace(REQUEST, context=CallContext(step_id="analyse", index=3))
    _, hit = await cached_request(cache, provider, other)
    assert hit
    assert len(provider.requests) == 1


async def test_a_retry_of_the_same_call_asks_the_model_again(
    cache: ResponseCache, provider: object, tmp_path: Path
) -> None:
    # Attempt 1 replied something the engine rejected; replaying it could never succeed.
    await cached_request(cache, provider, REQUEST)
    retry = dataclasses.replace(REQUEST, context=CallContext("analyse", index=2, attempt=2))
    reply, hit = await cached_request(cache, provider, retry)
    assert (reply.text, hit) == ("reply 2", False)
    with ResponseCache(tmp_path / "cache") as next_run:
        latest, _ = await cached_request(next_run, provider, REQUEST)
    assert latest.text == "reply 2"


async def test_off_never_reads_nor_writes(cache: ResponseCache, provider: object) -> None:
    for _ in range(2):
        _, hit = await cached_request(cache, provider, REQUEST, mode="off")
        assert not hit
    assert len(provider.requests) == 2
    assert cache.stats().entries == 0
    _, hit = await cached_request(None, provider, REQUEST)
    assert not hit


@pytest.mark.parametrize("protocol", ["mock", "function"])
async def test_test_doubles_are_never_cached(
    cache: ResponseCache, make_provider: type, protocol: str
) -> None:
    double = make_provider(protocol=protocol, base_url="")
    for mode in ("use", "only"):
        _, hit = await cached_request(cache, double, REQUEST, mode=mode)
        assert not hit
    assert len(double.requests) == 2
    assert cache.stats().entries == 0


async def test_only_serves_hits_without_asking(cache: ResponseCache, provider: object) -> None:
    await cached_request(cache, provider, REQUEST)
    for _ in range(3):
        _, hit = await cached_request(cache, provider, REQUEST, mode="only")
        assert hit
    assert len(provider.requests) == 1


async def test_only_fails_on_a_miss_naming_the_step(cache: ResponseCache, provider: object) -> None:
    with pytest.raises(CacheMiss, match=r"step 'analyse' \(item 2\) and --cache-only is set"):
        await cached_request(cache, provider, REQUEST, mode="only")
    judge = dataclasses.replace(REQUEST, context=CallContext("brief", purpose="judge"))
    with pytest.raises(CacheMiss, match=r"the judge gate of step 'brief' and"):
        await cached_request(cache, provider, judge, mode="only")
    assert provider.requests == []


async def test_the_cache_holds_no_secret(
    cache: ResponseCache, provider: object, tmp_path: Path
) -> None:
    await cached_request(cache, provider, REQUEST)
    cache.close()
    secret = provider.api_key.encode()
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert files
    assert not [p for p in files if secret in p.read_bytes()]


@pytest.mark.parametrize(
    ("step", "agent", "defaults", "expected"),
    [
        (None, None, None, True),
        (None, None, False, False),
        (None, False, None, False),
        (False, None, None, False),
        (True, False, False, True),
        (None, True, False, True),
        (False, True, True, False),
    ],
)
def test_the_most_specific_cache_setting_wins(
    step: bool | None, agent: bool | None, defaults: bool | None, expected: bool
) -> None:
    assert caching_enabled(step, agent, defaults) is expected


def _write_over(directory: Path) -> None:
    """Random bytes over the open database and its log, in place: "file is not a database"."""
    for name in ("cache.db", "cache.db-wal", "cache.db-shm"):
        path = directory / name
        with path.open("r+b") as file:
            file.write(os.urandom(max(path.stat().st_size, 4096)))


async def test_a_cache_damaged_while_open_is_passed_over(
    cache: ResponseCache, provider: object, capsys: pytest.CaptureFixture[str]
) -> None:
    await cached_request(cache, provider, REQUEST)
    _write_over(cache.directory)
    other = dataclasses.replace(REQUEST, context=CallContext(step_id="report"))
    for _ in range(2):  # the entry it held, asked again: the model answers
        _, hit = await cached_request(cache, provider, other)
        assert not hit
    assert len(provider.requests) == 3
    assert cache.damage == "file is not a database"
    logged = capsys.readouterr().err
    assert logged.count("cache_passed_over") == 1
    assert "the response cache" in logged and "cannot be read (file is not a database)" in logged
    with pytest.raises(
        CacheMiss, match=r"cannot be read \(file is not a database\) and --cache-only"
    ):
        await cached_request(cache, provider, other, mode="only")
    assert len(provider.requests) == 3
