"""Benchmark: agnoctl's provider on its shared client (aiohttp's) against bare aiohttp.

Starts the project's fake LLM server in a separate process (so it does not share the GIL with
the client), then sends chat completions through ``OpenAIProvider`` at a fixed concurrency,
and prints the wall time against the ideal (rounds x server latency), the calls per second,
the client's CPU time per call, and the share of the wall time the server process spent on
the CPU (well under 100 %: the server is not the bottleneck). A second row per scenario posts
the same bodies with bare aiohttp (``baselines.aiohttp_raw``: a session, ``json=``, the reply
read the plain way): the floor the client side could reach on this machine, reading the same
kind of reply as the provider (a stream, unless ``BENCH_WHOLE_REPLIES=1``). The two
alternate ``--rounds`` times, and each figure is the median of its rounds: the host is shared,
and its speed moves from one minute to the next. Every reply is checked, and the server's own
request count must match.

Until #24 the provider's client was httpx over the ``httpx-aiohttp`` transport (and, before
that, over httpcore, whose pool collapses at this fan-out: encode/httpcore#1035); to compare
with a release of that time, run that checkout's copy of this script.

    python bench/transport.py                      # both default scenarios
    python bench/transport.py --calls 500 --concurrency 64 --latency-ms 50 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import anyio
from baselines import aiohttp_raw

from agnoctl.providers.base import Message, ModelRequest
from agnoctl.providers.http import HttpClient
from agnoctl.providers.openai import OpenAIProvider

SCENARIOS = [(500, 64), (3000, 100)]  # (calls, concurrency)


@dataclass
class Server:
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def requests(self) -> int:
        with urllib.request.urlopen(f"{self.url}/_stats") as response:
            return int(json.load(response)["requests"])

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/_reset", method="POST")).close()


@contextmanager
def fake_server(latency_ms: float) -> Iterator[Server]:
    command = [sys.executable, "-m", "agnoctl.testing.fake_llm", "--port", "0"]
    command += ["--latency-ms", str(latency_ms)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            if not line.startswith("listening "):
                raise RuntimeError(f"the fake server did not start: {line!r}")
            yield Server(url=line.removeprefix("listening "), pid=process.pid)
        finally:
            process.terminate()
            process.wait(timeout=10)


async def fan_out(calls: int, concurrency: int, call: Callable[[int], Awaitable[None]]) -> float:
    """Run ``call(0..calls-1)`` with ``concurrency`` workers; the wall time in seconds."""
    remaining = iter(range(calls))

    async def worker() -> None:
        for index in remaining:
            await call(index)

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(concurrency):
            group.start_soon(worker)
    return time.perf_counter() - started


async def through_provider(url: str, calls: int, concurrency: int) -> float:
    http = HttpClient(max_connections=concurrency, trust_env=False)
    # BENCH_WHOLE_REPLIES=1 (bench/run.py): whole replies, to compare with streamed ones.
    stream = os.environ.get("BENCH_WHOLE_REPLIES") != "1"
    provider = OpenAIProvider(http, base_url=f"{url}/v1", api_key="bench-key", stream=stream)

    async def call(index: int) -> None:
        request = ModelRequest(model="bench", messages=(Message("user", f"call {index}"),))
        reply = await provider.request(request)
        assert reply.text == f"echo: call {index}", reply.text

    try:
        return await fan_out(calls, concurrency, call)
    finally:
        await http.aclose()


async def bare_aiohttp(url: str, calls: int, concurrency: int) -> float:
    """The floor of bench/run.py (``baselines.aiohttp_raw``): the same kind of reply as the
    provider's, streamed unless ``BENCH_WHOLE_REPLIES=1``."""
    async with aiohttp_raw.session(concurrency) as session:

        async def call(index: int) -> None:
            text = await aiohttp_raw.complete(session, f"{url}/v1", f"call {index}")
            assert text == f"echo: call {index}", text

        return await fan_out(calls, concurrency, call)


@dataclass
class Sample:
    wall: float  # seconds
    client_cpu: float  # seconds of this process's CPU
    server_cpu: float  # seconds of the server process's CPU


def measure(server: Server, calls: int, run: Callable[[], Awaitable[float]]) -> Sample:
    server.reset()
    server_before, client_before = server.cpu_seconds(), time.process_time()
    wall = anyio.run(run)
    assert server.requests() == calls, "the server lost count"
    client = time.process_time() - client_before
    return Sample(wall, client, server.cpu_seconds() - server_before)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int)
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    scenarios = [(args.calls, args.concurrency)] if args.calls else SCENARIOS
    latency = args.latency_ms / 1000.0
    with fake_server(args.latency_ms) as server:
        print(f"fake server {server.url}, {args.latency_ms:g} ms per reply, {os.cpu_count()} CPUs")
        header = ("client", "calls", "conc", "wall s", "ideal s", "x ideal", "calls/s")
        print(
            "{:<14} {:>6} {:>5} {:>8} {:>8} {:>8} {:>8} {:>12} {:>8}".format(
                *header, "cpu us/call", "srv cpu"
            )
        )
        for calls, concurrency in scenarios:
            runs: dict[str, Callable[[], Awaitable[float]]] = {
                "agnoctl": partial(through_provider, server.url, calls, concurrency),
                "bare aiohttp": partial(bare_aiohttp, server.url, calls, concurrency),
            }
            samples: dict[str, list[Sample]] = {name: [] for name in runs}
            for _ in range(args.rounds):
                for name, run in runs.items():
                    samples[name].append(measure(server, calls, run))
            ideal = math.ceil(calls / concurrency) * latency
            for name, taken in samples.items():
                _report(name, calls, concurrency, ideal, taken)


def _report(name: str, calls: int, concurrency: int, ideal: float, taken: list[Sample]) -> None:
    """One row: the median over rounds of each figure."""
    wall = statistics.median(s.wall for s in taken)
    cpu = statistics.median(s.client_cpu for s in taken) / calls
    server = statistics.median(s.server_cpu / s.wall for s in taken)
    ratio = f"{wall / ideal:>8.2f}" if ideal else f"{'-':>8}"
    print(
        f"{name:<14} {calls:>6} {concurrency:>5} {wall:>8.2f} {ideal:>8.2f} {ratio} "
        f"{calls / wall:>8.0f} {cpu * 1e6:>12.0f} {server:>8.0%}"
    )


if __name__ == "__main__":
    main()
