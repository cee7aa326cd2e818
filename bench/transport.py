"""Benchmark: the shared client over httpcore (httpx's default) vs the aiohttp transport.

Starts the project's fake LLM server in a separate process (so it does not share the GIL with
the client), then sends chat completions through ``OpenAIProvider`` at a fixed concurrency with
each transport and prints the wall time against the ideal (rounds x server latency) and the
calls per second. Every call is checked, and the server's own request count must match.

    /tmp/venv/bin/python bench/transport.py                      # both default scenarios
    /tmp/venv/bin/python bench/transport.py --calls 500 --concurrency 64 --latency-ms 50
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from typing import TYPE_CHECKING

import anyio

from agnoctl.providers.base import Message, ModelRequest
from agnoctl.providers.http import HttpClient, Transport
from agnoctl.providers.openai import OpenAIProvider

if TYPE_CHECKING:
    from collections.abc import Iterator

SCENARIOS = [(500, 64), (3000, 100)]  # (calls, concurrency)


@contextmanager
def fake_server(latency_ms: float) -> Iterator[str]:
    command = [sys.executable, "-m", "agnoctl.testing.fake_llm", "--port", "0"]
    command += ["--latency-ms", str(latency_ms)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("listening "):
            raise RuntimeError(f"the fake server did not start: {line!r}")
        yield line.removeprefix("listening ")
    finally:
        process.terminate()
        process.wait(timeout=10)


def server_requests(url: str, *, reset: bool = False) -> int:
    if reset:
        urllib.request.urlopen(urllib.request.Request(f"{url}/_reset", method="POST")).close()
        return 0
    with urllib.request.urlopen(f"{url}/_stats") as response:
        return int(json.load(response)["requests"])


async def run(url: str, transport: Transport, calls: int, concurrency: int) -> float:
    http = HttpClient(max_connections=concurrency, transport=transport, trust_env=False)
    provider = OpenAIProvider(http, base_url=f"{url}/v1", api_key="bench-key")
    remaining = iter(range(calls))

    async def worker() -> None:
        for index in remaining:
            request = ModelRequest(model="bench", messages=(Message("user", f"call {index}"),))
            reply = await provider.request(request)
            assert reply.text == f"echo: call {index}", reply.text

    started = time.perf_counter()
    try:
        async with anyio.create_task_group() as group:
            for _ in range(concurrency):
                group.start_soon(worker)
    finally:
        await http.aclose()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int)
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    scenarios = [(args.calls, args.concurrency)] if args.calls else SCENARIOS
    latency = args.latency_ms / 1000.0
    with fake_server(args.latency_ms) as url:
        print(f"fake server {url}, {args.latency_ms:g} ms per reply")
        print(
            f"{'transport':<10} {'calls':>6} {'conc':>5} {'wall s':>8} {'ideal s':>8} "
            f"{'x ideal':>8} {'calls/s':>8}"
        )
        for calls, concurrency in scenarios:
            ideal = math.ceil(calls / concurrency) * latency
            for transport in ("httpcore", "aiohttp"):
                server_requests(url, reset=True)
                wall = anyio.run(run, url, transport, calls, concurrency)
                assert server_requests(url) == calls
                print(
                    f"{transport:<10} {calls:>6} {concurrency:>5} {wall:>8.2f} {ideal:>8.2f} "
                    f"{wall / ideal:>8.2f} {calls / wall:>8.0f}"
                )


if __name__ == "__main__":
    main()
