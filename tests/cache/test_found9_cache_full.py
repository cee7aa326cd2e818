"""A full disk while the cache stores a reply (found by the offline pass): diskcache keeps a
reply past 32 KB in a file of its own, and the ENOSPC of writing it left `cached_request` as
an OSError, failing the call whose reply had arrived (and been paid for); a retry asked the
model again. A cache only saves calls: the reply is returned, and the run goes without the
cache from then on, as it does when the database breaks mid-run."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import diskcache  # type: ignore[import-untyped]
import pytest

from agnoctl.cache import ResponseCache, cached_request
from agnoctl.providers.base import CallContext, Message, ModelReply, ModelRequest, Usage

pytestmark = pytest.mark.anyio

REQUEST = ModelRequest(model="m", messages=(Message("user", "hi"),), context=CallContext("s"))
LONG = "x" * 100_000  # stored in a file of its own, not in the database


class LongReplies:
    name, protocol, base_url = "local", "openai", "http://127.0.0.1:9/v1"

    def __init__(self) -> None:
        self.calls = 0

    async def request(self, request: ModelRequest) -> ModelReply:
        self.calls += 1
        return ModelReply(text=LONG, usage=Usage(1, 1), finish_reason="stop", model="m")


def _full(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


async def test_a_full_disk_passes_the_cache_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(diskcache.Disk, "_write", _full)
    provider = LongReplies()
    with ResponseCache(tmp_path / "cache") as cache:
        reply, hit = await cached_request(cache, provider, REQUEST)
        assert (reply.text, hit) == (LONG, False)
        assert cache.damage is not None and "No space left on device" in cache.damage
        again, hit = await cached_request(cache, provider, REQUEST)  # goes without the cache
        assert (again.text, hit) == (LONG, False)
    assert provider.calls == 2
