"""Latency of the response cache: hits (the path a cached run takes) and writes.

Run: ``python bench/cache_bench.py [--entries 1000] [--reply-chars 2000]``. Prints one JSON
object; docs/performance.md quotes it. The budget is a hit at or under 1 ms (median and p99).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from agnoctl.cache import ResponseCache, request_key
from agnoctl.providers.base import Message, ModelReply, ModelRequest, Usage

T = TypeVar("T")


def _request(index: int) -> ModelRequest:
    return ModelRequest(
        model="gpt-4o-mini",
        messages=(
            Message("system", "You are a careful analyst."),
            Message("user", f"Summarise finding number {index} in three sentences."),
        ),
        temperature=0.2,
        max_tokens=512,
    )


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(samples) * 1000, 4),
        "p99_ms": round(_percentile(samples, 0.99) * 1000, 4),
        "max_ms": round(max(samples) * 1000, 4),
    }


def _timed(action: Callable[[T], object], arguments: list[T]) -> list[float]:
    samples = []
    for argument in arguments:
        start = time.perf_counter()
        action(argument)
        samples.append(time.perf_counter() - start)
    return samples


def _key(request: ModelRequest) -> str:
    return request_key("openai", "http://127.0.0.1:8000/v1", request)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--reply-chars", type=int, default=2000)
    args = parser.parse_args()
    reply = ModelReply(text="x" * args.reply_chars, usage=Usage(120, 480), model="gpt-4o-mini")
    requests = [_request(i) for i in range(args.entries)]
    keys = [_key(r) for r in requests]
    with tempfile.TemporaryDirectory() as tmp, ResponseCache(Path(tmp) / "cache") as cache:
        key_samples = _timed(_key, requests)
        put_samples = _timed(lambda k: cache.put(k, reply), keys)
        hit_samples = _timed(cache.get, keys)
        miss_samples = _timed(cache.get, [k[::-1] for k in keys])
    result = {
        "entries": args.entries,
        "reply_chars": args.reply_chars,
        "key": _summary(key_samples),
        "hit": _summary(hit_samples),
        "miss": _summary(miss_samples),
        "put": _summary(put_samples),
        "hit_budget_met": _percentile(hit_samples, 0.99) <= 0.001,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
