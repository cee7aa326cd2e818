"""What reading replies as streams costs the client, against whole replies (#23).

``python bench/stream_bench.py [--calls 2000] [--concurrency 64] [--rounds 5]``

One process, one fake server (``agnoctl.testing.fake_llm``, in its own process), agnoctl's
``OpenAIProvider`` on its shared HTTP client, the same calls streamed and whole, alternated
round by round (streamed, whole, streamed, ...) so that both see the same machine. It prints
per mode the median over rounds of the client's CPU time per call (``time.process_time``:
the server runs elsewhere) and of calls per second, and the streamed ÷ whole ratios. CPU per
call is the figure to trust on a busy machine: wall time moves with the neighbours, CPU time
much less.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import anyio

from agnoctl.providers.base import Message, ModelRequest
from agnoctl.providers.http import HttpClient
from agnoctl.providers.openai import OpenAIProvider


async def _round(url: str, stream: bool, calls: int, concurrency: int) -> tuple[float, float]:
    """(client CPU seconds per call, calls per second) of ``calls`` calls."""
    http = HttpClient(max_connections=concurrency, trust_env=False)
    provider = OpenAIProvider(http, base_url=f"{url}/v1", api_key="bench-key", stream=stream)
    queue = iter(range(calls))

    async def worker() -> None:
        for index in queue:
            request = ModelRequest(model="bench", messages=(Message("user", f"call {index}"),))
            reply = await provider.request(request)
            assert reply.text == f"echo: call {index}"

    try:
        await worker_round(worker, 8)  # warm the pool's connections up, untimed
        queue = iter(range(calls))
        cpu, wall = time.process_time(), time.perf_counter()
        await worker_round(worker, concurrency)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await http.aclose()
    return cpu / calls, calls / wall


async def worker_round(worker: Callable[[], Awaitable[None]], concurrency: int) -> None:
    async with anyio.create_task_group() as group:
        for _ in range(concurrency):
            group.start_soon(worker)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-m", "agnoctl.testing.fake_llm", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[-1]
        results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for _ in range(args.rounds):
            for stream in (True, False):
                figures = anyio.run(_round, url, stream, args.calls, args.concurrency)
                results[stream].append(figures)
    finally:
        server.terminate()
        server.wait()
    medians = {
        stream: (
            statistics.median(cpu for cpu, _ in rounds) * 1e6,
            statistics.median(rate for _, rate in rounds),
        )
        for stream, rounds in results.items()
    }
    for stream, (cpu_us, rate) in medians.items():
        name = "streamed" if stream else "whole"
        print(f"{name:9} {cpu_us:8.1f} µs CPU/call {rate:9.1f} calls/s")
    cpu_ratio = medians[True][0] / medians[False][0]
    rate_ratio = medians[True][1] / medians[False][1]
    print(f"streamed ÷ whole: CPU/call {cpu_ratio:.3f}, calls/s {rate_ratio:.3f}")


if __name__ == "__main__":
    main()
