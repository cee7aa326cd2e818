"""The benchmark suite: every speed claim of agnoctl, side by side with what users would use.

    /tmp/venv/bin/python bench/run.py                 # full size, the published numbers (< 10 min)
    /tmp/venv/bin/python bench/run.py --quick         # small sizes: the test suite's smoke test
    /tmp/venv/bin/python bench/run.py --only fan_out chain --out /tmp/results.json

Writes a JSON file of every figure (``--out``, default bench/results/results.json) and the same
figures as markdown tables next to it (``results.md``); docs/performance.md quotes a full run.
Exit 0 when every workload ran and every server count matched, 1 otherwise; a goal that is
missed does not change the exit code (the tables say so).

Workloads (issue 10):

1. ``fan_out``: N calls at concurrency C against the fake server answering after 50 ms →
   makespan ÷ ideal, ideal = ceil(N / C) × 50 ms; ``fan_out_mock``: the same on the mock
   provider (a fixture delay of 50 ms), no HTTP at all.
2. ``chain``: N calls one after the other, each prompt carrying the previous reply, 5 ms
   replies → makespan ÷ ideal (N × 5 ms).
3. ``throughput``: N calls at concurrency C, no added latency → calls per second.
4. ``engine``: bench/engine_bench.py (µs and memory per step of a 10,000-step mock run).
5. ``cli_startup`` and 6. ``validate_plan``: bench/validate_bench.py and bench/plan_bench.py.
7. ``cache``: bench/cache_bench.py. 8. ``resume``: resuming a finished 10,000-step mock run.

For 1–3 every client runs the same calls against the same server: agnoctl in-process through
``agnoctl.run_workflow`` (the run phase: from the ``run_started`` observer call to the
``run_finished`` event; the whole call, loading and report files included, is recorded too),
agnoctl's own OpenAI provider alone (no engine), the agnoctl CLI end to end (interpreter
start-up included), and every module in bench/baselines/. The fake server runs in its own
process on another core than the client where the machine has two; its request count is reset
before and checked after every timed run, and every reply is checked.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anyio
import yaml

import agnoctl
import baselines
from transport import Server, fake_server, through_provider

BENCH = Path(__file__).resolve().parent
HTTP_WORKLOADS = ("fan_out", "chain", "throughput")
WORKLOADS = (*HTTP_WORKLOADS, "fan_out_mock", "engine", "cli_startup", "validate_plan")
WORKLOADS += ("cache", "resume")
VERSIONS_OF = ("agnoctl", "httpx", "httpx-aiohttp", "aiohttp", "anyio", "pydantic", "typer")
VERSIONS_OF += ("openai", "langgraph", "langchain-openai", "pydantic-ai-slim", "agno")
SUBPROCESS_TIMEOUT = 300.0
RUN_TIMEOUT = 180.0  # one timed run of one client; a hang is an error, not a stuck suite


@dataclass(frozen=True)
class Sizes:
    fan_out_calls: int
    fan_out_concurrency: int
    fan_out_latency_ms: float
    chain_calls: int
    chain_latency_ms: float
    throughput_calls: int
    throughput_concurrency: int
    steps: int  # engine, validate, plan and resume workloads
    validate_runs: int
    cache_entries: int
    repeats: int  # timed runs per client and workload; the median is reported


FULL = Sizes(500, 64, 50.0, 100, 5.0, 3000, 100, 10_000, 5, 1000, 3)
QUICK = Sizes(64, 16, 50.0, 10, 5.0, 200, 20, 400, 1, 100, 1)


@dataclass(frozen=True)
class HttpWorkload:
    name: str
    calls: int
    concurrency: int  # 1: a chain
    latency_ms: float
    server: Server

    @property
    def prompts(self) -> list[str]:
        word = "step" if self.is_chain else "call"
        return [f"{word} {i}" for i in range(self.calls)]

    @property
    def is_chain(self) -> bool:
        return self.name == "chain"

    @property
    def ideal_s(self) -> float:
        rounds = self.calls if self.is_chain else math.ceil(self.calls / self.concurrency)
        return rounds * self.latency_ms / 1000

    @property
    def base_url(self) -> str:
        return f"{self.server.url}/v1"

    def expected(self) -> list[str]:
        """The replies the fake server's echo gives, in prompt order."""
        replies: list[str] = []
        for prompt in self.prompts:
            previous = replies[-1] if replies and self.is_chain else None
            replies.append(f"echo: {baselines.chained_prompt(prompt, previous)}")
        return replies

    def smaller(self) -> HttpWorkload:
        """The warm-up: a few calls, so imports and first-use costs stay out of the timings."""
        calls = min(self.calls, 3 if self.is_chain else self.concurrency)
        return HttpWorkload(self.name, calls, self.concurrency, self.latency_ms, self.server)


@dataclass
class Sample:
    seconds: float
    requests: int
    server_cpu_s: float


class CountMismatch(RuntimeError):
    pass


# ---------------------------------------------------------------------------- the machine


def pin_cores() -> tuple[int, int] | None:
    """(client core, server core): this process moves to the first, the servers to the second."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    os.sched_setaffinity(0, {cores[0]})
    return cores[0], cores[1]


def machine(pinning: tuple[int, int] | None) -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "pinning": None if pinning is None else {"client": pinning[0], "server": pinning[1]},
        "versions": {name: _version(name) for name in VERSIONS_OF},
    }


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


# ---------------------------------------------------------------------------- timing


def timed_run(workload: HttpWorkload, run: Callable[[], float | None]) -> Sample:
    """Reset the server, time ``run`` (which may return its own measured seconds), check the
    server saw exactly the workload's calls."""
    server = workload.server
    server.reset()
    cpu_before = server.cpu_seconds()
    started = time.perf_counter()
    measured = run()
    seconds = time.perf_counter() - started if measured is None else measured
    requests = server.requests()
    if requests != workload.calls:
        raise CountMismatch(f"the server saw {requests} requests, expected {workload.calls}")
    return Sample(seconds, requests, server.cpu_seconds() - cpu_before)


def summary(workload: HttpWorkload, samples: list[Sample], **extra: Any) -> dict[str, Any]:
    seconds = statistics.median(s.seconds for s in samples)
    return {
        "status": "ok",
        "seconds": round(seconds, 4),
        "samples_s": [round(s.seconds, 4) for s in samples],
        "x_ideal": round(seconds / workload.ideal_s, 3) if workload.ideal_s else None,
        "calls_per_s": round(workload.calls / seconds, 1),
        "server_requests": samples[-1].requests,
        "expected_requests": workload.calls,
        "requests_match": True,
        "server_cpu_share": round(samples[-1].server_cpu_s / samples[-1].seconds, 3),
        **extra,
    }


def failure(exc: BaseException) -> dict[str, Any]:
    return {"status": f"error: {type(exc).__name__}: {exc}", "requests_match": not isinstance(
        exc, CountMismatch
    )}


# ---------------------------------------------------------------------------- agnoctl


def fan_out_workflow(workload: HttpWorkload, mock_delay: str | None = None) -> dict[str, Any]:
    """A for_each over the workload's items at its concurrency; the cache off (a hit would skip
    the server). ``mock_delay``: on the mock provider instead, every reply after that delay."""
    provider = {
        "type": "openai",
        "base_url": workload.base_url,
        "api_key": baselines.API_KEY,
        "max_concurrency": workload.concurrency,
    }
    return {
        "version": 1,
        "name": f"bench-{workload.name.replace('_', '-')}",
        "providers": {} if mock_delay else {"fake": provider},
        "defaults": {"cache": False},
        "agents": {"worker": {"model": "mock/echo" if mock_delay else f"fake/{baselines.MODEL}"}},
        "steps": {
            "fan": {
                "agent": "worker",
                "for_each": f"range({workload.calls}) | list",
                "max_concurrency": workload.concurrency,
                "prompt": "call {{ item }}",
            }
        },
        "outputs": {"replies": "{{ steps.fan.output }}"},
    }


def chain_workflow(workload: HttpWorkload) -> dict[str, Any]:
    steps: dict[str, Any] = {"s0": {"agent": "worker", "prompt": "step 0"}}
    for i in range(1, workload.calls):
        prompt = f"step {i} after {{{{ steps.s{i - 1}.output }}}}"
        steps[f"s{i}"] = {"agent": "worker", "needs": [f"s{i - 1}"], "prompt": prompt}
    return {
        "version": 1,
        "name": "bench-chain",
        "providers": {"fake": {"type": "openai", "base_url": workload.base_url, "api_key": "k"}},
        "defaults": {"cache": False},
        "agents": {"worker": {"model": f"fake/{baselines.MODEL}"}},
        "steps": steps,
        "outputs": {"replies": "[" + ", ".join(f"steps.s{i}.output" for i in range(len(steps)))
                    + "] | list"},
    }


class RunClock:
    """An agnoctl run observer: the run phase, from ``run_started`` to the ``run_finished``
    event (the report files are written after it)."""

    def __init__(self) -> None:
        self.started = self.finished = 0.0

    def run_started(self, state: Any) -> None:
        self.started = time.perf_counter()

    def event(self, event: Any) -> None:
        if event["type"] == "run_finished":
            self.finished = time.perf_counter()

    def run_finished(self, report: Any, run_dir: Path) -> None:
        pass


class Agnoctl:
    """Runs agnoctl on a generated workflow: in-process, or as the CLI."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.runs = 0

    def write(self, workflow: dict[str, Any], fixtures: dict[str, Any] | None) -> list[str]:
        """Writes the workflow (and fixtures); returns the CLI arguments after ``run``."""
        self.runs += 1
        path = self.folder / f"{workflow['name']}-{self.runs}.yaml"
        path.write_text(yaml.safe_dump(workflow, sort_keys=False), encoding="utf-8")
        arguments = [str(path), "--report-dir", str(self.folder / f"run-{self.runs}")]
        if fixtures is not None:
            fixtures_path = path.with_suffix(".fixtures.yaml")
            fixtures_path.write_text(yaml.safe_dump(fixtures), encoding="utf-8")
            arguments += ["--mock-fixtures", str(fixtures_path)]
        return arguments

    def in_process(
        self,
        workflow: dict[str, Any],
        expected: list[str],
        fixtures: dict[str, Any] | None = None,
    ) -> tuple[float, float]:
        """(run phase seconds, whole ``run_workflow`` call seconds); checks every reply."""
        arguments = self.write(workflow, fixtures)
        clock = RunClock()
        fixtures_file = Path(arguments[-1]) if fixtures is not None else None
        started = time.perf_counter()
        report = agnoctl.run_workflow(
            arguments[0],
            report_dir=Path(arguments[2]),
            mock_fixtures=fixtures_file,
            observer=clock,
        )
        whole = time.perf_counter() - started
        if report.status != "passed":
            raise RuntimeError(f"the agnoctl run did not pass: {report.reason}")
        if report.outputs["replies"] != expected:
            raise RuntimeError("agnoctl's replies differ from the server's echo")
        return clock.finished - clock.started, whole

    def cli(self, workflow: dict[str, Any]) -> float:
        """End to end, as a CI step runs it: a fresh interpreter, ``agnoctl run``, exit 0."""
        arguments = self.write(workflow, None)
        command = [sys.executable, "-m", "agnoctl", "run", *arguments, "-q", "--progress", "plain"]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, timeout=SUBPROCESS_TIMEOUT)
        return time.perf_counter() - started


def workflow_for(workload: HttpWorkload) -> dict[str, Any]:
    return chain_workflow(workload) if workload.is_chain else fan_out_workflow(workload)


def agnoctl_library(runner: Agnoctl, workload: HttpWorkload, repeats: int) -> dict[str, Any]:
    small = workload.smaller()
    runner.in_process(workflow_for(small), small.expected())
    wholes: list[float] = []

    def run() -> float:
        phase, whole = runner.in_process(workflow_for(workload), workload.expected())
        wholes.append(whole)
        return phase

    samples = [timed_run(workload, run) for _ in range(repeats)]
    whole = statistics.median(wholes)
    return summary(
        workload,
        samples,
        run_workflow_s=round(whole, 4),
        run_workflow_x_ideal=round(whole / workload.ideal_s, 3) if workload.ideal_s else None,
    )


def agnoctl_cli(runner: Agnoctl, workload: HttpWorkload) -> dict[str, Any]:
    sample = timed_run(workload, lambda: runner.cli(workflow_for(workload)))
    return summary(workload, [sample], note="one run; includes interpreter start-up and imports")


def agnoctl_provider(workload: HttpWorkload, repeats: int) -> dict[str, Any]:
    """agnoctl's OpenAI provider on its shared client, driven by a worker pool: the HTTP layer
    without the engine (bench/transport.py)."""

    def run(w: HttpWorkload) -> float:
        return anyio.run(through_provider, w.server.url, "aiohttp", w.calls, w.concurrency)

    small = workload.smaller()
    timed_run(small, lambda: run(small))
    return summary(workload, [timed_run(workload, lambda: run(workload)) for _ in range(repeats)])


def agnoctl_mock_fan_out(runner: Agnoctl, sizes: Sizes) -> dict[str, Any]:
    workload = HttpWorkload(
        "fan_out_mock", sizes.fan_out_calls, sizes.fan_out_concurrency, 50.0, _NO_SERVER
    )
    fixtures = {"steps": {"fan": {"text": "ok", "delay": "50ms"}}}
    expected = ["ok"] * workload.calls
    runner.in_process(fan_out_workflow(workload.smaller(), "50ms"), expected[:16], fixtures)
    phases, wholes = [], []
    for _ in range(sizes.repeats):
        phase, whole = runner.in_process(fan_out_workflow(workload, "50ms"), expected, fixtures)
        phases.append(phase)
        wholes.append(whole)
    seconds, whole = statistics.median(phases), statistics.median(wholes)
    return {
        "calls": workload.calls,
        "concurrency": workload.concurrency,
        "latency_ms": 50.0,
        "ideal_s": workload.ideal_s,
        "clients": {
            "agnoctl (mock provider)": {
                "status": "ok",
                "seconds": round(seconds, 4),
                "samples_s": [round(p, 4) for p in phases],
                "x_ideal": round(seconds / workload.ideal_s, 3),
                "run_workflow_s": round(whole, 4),
                "run_workflow_x_ideal": round(whole / workload.ideal_s, 3),
            }
        },
    }


class _NoServer(Server):
    """The mock workload's stand-in: no server, nothing to count."""


_NO_SERVER = _NoServer(url="", pid=0)


# ---------------------------------------------------------------------------- baselines


async def baseline_runs(
    module: Any, workloads: list[HttpWorkload], repeats: int
) -> dict[str, dict[str, Any]]:
    """Every workload for one baseline, in one event loop, as a user's script would run."""
    results: dict[str, dict[str, Any]] = {}
    for workload in workloads:
        try:
            await _call(module, workload.smaller())
            samples = []
            for _ in range(repeats):
                samples.append(await _timed_async(module, workload))
            results[workload.name] = summary(workload, samples)
        except Exception as exc:  # one client's failure is a row of the table, not a crash
            results[workload.name] = failure(exc)
    return results


async def _call(module: Any, workload: HttpWorkload) -> None:
    with anyio.fail_after(RUN_TIMEOUT):
        if workload.is_chain:
            replies = await module.chain(workload.base_url, workload.prompts)
        else:
            replies = await module.fan_out(workload.base_url, workload.prompts, workload.concurrency)
    if replies != workload.expected():
        raise RuntimeError("the replies differ from the server's echo")


async def _timed_async(module: Any, workload: HttpWorkload) -> Sample:
    server = workload.server
    server.reset()
    cpu_before = server.cpu_seconds()
    started = time.perf_counter()
    await _call(module, workload)
    seconds = time.perf_counter() - started
    requests = server.requests()
    if requests != workload.calls:
        raise CountMismatch(f"the server saw {requests} requests, expected {workload.calls}")
    return Sample(seconds, requests, server.cpu_seconds() - cpu_before)


def run_baselines(
    workloads: list[HttpWorkload], repeats: int
) -> dict[str, dict[str, dict[str, Any]]]:
    """{workload: {client name: result}} for every module in bench/baselines/."""
    table: dict[str, dict[str, dict[str, Any]]] = {w.name: {} for w in workloads}
    for name in baselines.MODULES:
        module = baselines.load_if_installed(name)
        if isinstance(module, str):
            for workload in workloads:
                table[workload.name][baselines.NAMES[name]] = {"status": module}
            continue
        label = f"{module.NAME} ({', '.join(f'{p} {v}' for p, v in baselines.versions(module).items())})"
        for workload, result in asyncio.run(baseline_runs(module, workloads, repeats)).items():
            table[workload][label] = result
    return table


# ---------------------------------------------------------------------------- the other scripts


def bench_script(script: str, *arguments: str | int) -> dict[str, Any]:
    """Run bench/<script> (it prints one JSON object) in a fresh interpreter on this core."""
    command = [sys.executable, str(BENCH / script), *map(str, arguments)]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    result: dict[str, Any] = json.loads(done.stdout[done.stdout.index("{") :])
    return result


def engine(sizes: Sizes) -> dict[str, Any]:
    return bench_script(
        "engine_bench.py",
        "--steps", sizes.steps,
        "--items", sizes.fan_out_calls,
        "--concurrency", sizes.fan_out_concurrency,
    )  # fmt: skip


def cli_and_validate(sizes: Sizes) -> tuple[dict[str, Any], dict[str, Any]]:
    raw = bench_script("validate_bench.py", "--steps", sizes.steps, "--runs", sizes.validate_runs)
    startup = {key: raw[key] for key in ("help_s", "import_typer_s", "validate_small_s")}
    startup["python_startup_s"] = raw["python_startup_s"]
    startup["help_x_typer"] = round(raw["help_s"] / raw["import_typer_s"], 3)
    validate = {key: raw[key] for key in ("steps", "file_bytes", "validate_generated_s")}
    validate["runs"] = raw["runs"]
    plan_script = BENCH / "plan_bench.py"
    validate["plan"] = (
        bench_script(plan_script.name, "--steps", sizes.steps)
        if plan_script.exists()
        else {"status": "not available: bench/plan_bench.py is not there"}
    )
    return startup, validate


def cache(sizes: Sizes) -> dict[str, Any]:
    return bench_script("cache_bench.py", "--entries", sizes.cache_entries)


def resume(sizes: Sizes, folder: Path) -> dict[str, Any]:
    """Resume a finished mock run: the CLI's ``--resume`` (it must say there is nothing to do)."""
    help_text = subprocess.run(
        [sys.executable, "-m", "agnoctl", "run", "--help"],
        capture_output=True, text=True, check=True, env={**os.environ, "COLUMNS": "200"},
    ).stdout  # fmt: skip
    if "--resume" not in help_text:
        return {"status": "not available: `agnoctl run` has no --resume option yet"}
    sys.path.insert(0, str(BENCH))
    from engine_bench import chains_and_fan_outs

    workflow = folder / "resume.yaml"
    workflow.write_text(yaml.safe_dump(chains_and_fan_outs(sizes.steps)), encoding="utf-8")
    runs = folder / "resume-runs"
    base = [sys.executable, "-m", "agnoctl", "run", str(workflow), "-q", "--progress", "plain"]
    env = {**os.environ}
    first = _timed_cli([*base], runs, env)
    again = _timed_cli([*base, "--resume", "latest"], runs, env)
    return {
        "status": "ok",
        "steps": sizes.steps,
        "first_run_s": round(first[0], 3),
        "resume_s": round(again[0], 3),
        "resume_output": again[1].strip()[-300:],
    }


def _timed_cli(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    cwd.mkdir(exist_ok=True)
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT,
        check=True,
    )  # fmt: skip
    return time.perf_counter() - started, done.stdout + done.stderr
