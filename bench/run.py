"""The benchmark suite: every speed claim of agnoctl, side by side with what users would use.

    python bench/run.py              # full size: the published numbers (under 10 min, 2 cores)
    python bench/run.py --quick      # small sizes: the test suite's smoke test
    python bench/run.py --only fan_out chain --out /tmp/results.json

Writes every figure to a JSON file (``--out``, default bench/results/results.json) and the same
figures as markdown tables beside it (``results.md``); docs/performance.md quotes a full run.
Exits 0 when every workload ran and every server count matched, 1 otherwise. A missed goal
does not change the exit code: the tables say so.

Workloads (issue 10):

1. ``fan_out``: N calls at concurrency C, the fake server answering after 50 ms → makespan ÷
   ideal, ideal = ceil(N / C) x 50 ms. ``fan_out_mock``: the same on the mock provider (a
   fixture delay of 50 ms), no HTTP at all.
2. ``chain``: N calls one after the other, each prompt carrying the previous reply, 5 ms
   replies → makespan ÷ ideal (N x 5 ms).
3. ``throughput``: N calls at concurrency C, no added latency → calls per second.
4. ``engine``: bench/engine_bench.py (µs and memory per step of a 10,000-step mock run);
   ``items``: bench/items_bench.py (a mock for_each of 1,000 and 5,000 items through the CLI:
   time and peak RSS per extra item).
5. ``cli_startup`` and 6. ``validate_plan``: bench/validate_bench.py and bench/plan_bench.py.
7. ``cache``: bench/cache_bench.py. 8. ``resume``: `agnoctl run --resume` of a finished
   10,000-step mock run.

For 1-3 every client makes the same calls to the same server and its replies are checked:
agnoctl in-process through ``agnoctl.run_workflow`` (timed over the run phase, from the
``run_started`` observer call to the ``run_finished`` event; the whole call, YAML loading and
report files included, is recorded beside it), agnoctl's OpenAI provider alone (no engine), the
agnoctl CLI end to end (interpreter start-up included, one run), and every client in
bench/baselines/. Each server runs in its own process, pinned to another core than this
process when the machine has two; its request count is reset before and checked after every
timed run. Each client gets one untimed warm-up run, then ``repeats`` timed runs (fewer once
they add up to ``SAMPLE_BUDGET_S``: the slowest clients get one); the median is reported.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import baselines
import yaml
from engine_bench import chains_and_fan_outs
from transport import Server, fake_server, through_provider

import agnoctl
from agnoctl.events import Entry, RunFinished

BENCH = Path(__file__).resolve().parent
DEFAULT_OUT = BENCH / "results" / "results.json"
HTTP_WORKLOADS = ("fan_out", "chain", "throughput")
WORKLOADS = (
    *HTTP_WORKLOADS,
    *("fan_out_mock", "engine", "items", "cli_startup", "validate_plan", "cache", "resume"),
)
VERSIONS_OF = (
    *("agnoctl", "httpx", "aiohttp", "anyio", "pydantic", "typer", "jinja2"),
    *("openai", "langgraph", "langchain-openai", "pydantic-ai-slim", "agno"),
)
SUBPROCESS_TIMEOUT = 300.0
RUN_TIMEOUT = 180.0  # one run of one client: a hang becomes an error row, not a stuck suite
MOCK_DELAY_MS = 50.0
# Timed runs stop once they add up to this: three runs of a client that takes 30 s would not
# change its verdict, and the full suite must stay under 10 minutes on 2 cores.
SAMPLE_BUDGET_S = 8.0


@dataclass(frozen=True)
class Sizes:
    fan_out_calls: int
    fan_out_concurrency: int
    chain_calls: int
    throughput_calls: int
    throughput_concurrency: int
    steps: int  # the engine, validate, plan and resume workloads
    validate_runs: int  # fresh interpreters per CLI figure (median)
    step_runs: int  # timed runs of the engine's steps (median)
    cache_entries: int
    repeats: int  # timed runs per client and HTTP workload (median)
    warm_up: bool  # an untimed run first, so that first-use costs stay out of the timings


# The CLI and engine figures are medians of several runs: on this shared VM one process's
# speed moves by a third within a minute (the same `validate` took 0.77 s to 1.32 s in twenty
# runs back to back), and a median of five still followed whichever stretch it fell on.
FULL = Sizes(500, 64, 100, 3000, 100, 10_000, 11, 5, 1000, 3, warm_up=True)
# BENCH_WHOLE_REPLIES=1: agnoctl's provider asks for whole replies (`stream: false`) instead of
# streams, to measure what streaming costs on the same machine in the same hour.
WHOLE_REPLIES = os.environ.get("BENCH_WHOLE_REPLIES") == "1"
STREAM: dict[str, Any] = {"stream": False} if WHOLE_REPLIES else {}
QUICK = Sizes(32, 8, 5, 100, 10, 200, 1, 1, 100, 1, warm_up=False)


@dataclass(frozen=True)
class Workload:
    name: str
    calls: int
    concurrency: int  # 1 for the chain
    latency_ms: float
    server: Server | None = None  # None: the mock provider
    warm: bool = True  # each client makes an untimed run of a few calls first

    @property
    def is_chain(self) -> bool:
        return self.name == "chain"

    @property
    def prompts(self) -> list[str]:
        word = "step" if self.is_chain else "call"
        return [f"{word} {i}" for i in range(self.calls)]

    @property
    def ideal_s(self) -> float:
        rounds = self.calls if self.is_chain else math.ceil(self.calls / self.concurrency)
        return rounds * self.latency_ms / 1000

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"{self.server.url}/v1"

    def expected(self) -> list[str]:
        """The fake server's echo of every prompt, in order."""
        replies: list[str] = []
        for prompt in self.prompts:
            previous = replies[-1] if replies and self.is_chain else None
            replies.append(f"echo: {baselines.chained_prompt(prompt, previous)}")
        return replies

    def warm_up(self) -> Workload | None:
        """A few calls, so that imports and first-use costs stay out of the timings."""
        if not self.warm:
            return None
        return replace(self, calls=min(self.calls, 3 if self.is_chain else self.concurrency))

    def describe(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "concurrency": self.concurrency,
            "latency_ms": self.latency_ms,
            "ideal_s": round(self.ideal_s, 4),
        }


@dataclass(frozen=True)
class Sample:
    seconds: float
    requests: int
    server_cpu_s: float
    client_cpu_s: float  # CPU time of the client: unlike wall time, other load does not inflate it


class CountMismatch(RuntimeError):
    """The server did not see exactly one request per call."""


# ---------------------------------------------------------------------------- the machine


def pin_cores() -> tuple[int, int] | None:
    """(client core, server core): this process (and its children) moves to the first."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    os.sched_setaffinity(0, {cores[0]})
    return cores[0], cores[1]


def machine(pinning: tuple[int, int] | None) -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
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


@contextmanager
def servers(sizes: Sizes, core: int | None) -> Iterator[dict[str, Workload]]:
    """One fake server per reply latency, each pinned to ``core``; the HTTP workloads on them."""
    shapes = [
        Workload("fan_out", sizes.fan_out_calls, sizes.fan_out_concurrency, 50.0),
        Workload("chain", sizes.chain_calls, 1, 5.0),
        Workload("throughput", sizes.throughput_calls, sizes.throughput_concurrency, 0.0),
    ]
    with ExitStack() as stack:
        workloads = {}
        for shape in shapes:
            server = stack.enter_context(fake_server(shape.latency_ms))
            if core is not None:
                os.sched_setaffinity(server.pid, {core})
            workloads[shape.name] = replace(shape, server=server, warm=sizes.warm_up)
        yield workloads


# ---------------------------------------------------------------------------- timing


def measure(workload: Workload, run: Callable[[], float | None]) -> Sample:
    """Time ``run`` (which may return its own measured seconds) between a reset of the
    server's counts and a check that it saw exactly one request per call."""
    server = workload.server
    assert server is not None
    server.reset()
    cpu_before = server.cpu_seconds(), client_cpu()
    started = time.perf_counter()
    measured = run()
    seconds = time.perf_counter() - started if measured is None else measured
    return _checked(workload, seconds, cpu_before)


async def measure_async(workload: Workload, run: Callable[[], Awaitable[None]]) -> Sample:
    server = workload.server
    assert server is not None
    server.reset()
    cpu_before = server.cpu_seconds(), client_cpu()
    started = time.perf_counter()
    await run()
    return _checked(workload, time.perf_counter() - started, cpu_before)


def client_cpu() -> float:
    """CPU seconds of this process and of its finished children (the CLI runs)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _checked(workload: Workload, seconds: float, cpu_before: tuple[float, float]) -> Sample:
    assert workload.server is not None
    requests = workload.server.requests()
    if requests != workload.calls:
        raise CountMismatch(f"the server saw {requests} requests, expected {workload.calls}")
    server_cpu = workload.server.cpu_seconds() - cpu_before[0]
    return Sample(seconds, requests, server_cpu, client_cpu() - cpu_before[1])


def sampled(repeats: int, take: Callable[[], Sample]) -> list[Sample]:
    samples: list[Sample] = []
    while _more(samples, repeats):
        samples.append(take())
    return samples


def _more(samples: list[Sample], repeats: int) -> bool:
    return len(samples) < repeats and sum(s.seconds for s in samples) < SAMPLE_BUDGET_S


def row(label: str, workload: Workload, samples: list[Sample], **extra: Any) -> dict[str, Any]:
    """One client's figures for one workload (the median of its samples)."""
    seconds = statistics.median(s.seconds for s in samples)
    cpu = statistics.median(s.client_cpu_s for s in samples)
    last = samples[-1]
    return {
        "label": label,
        "status": "ok",
        "seconds": round(seconds, 4),
        "samples_s": [round(s.seconds, 4) for s in samples],
        "x_ideal": round(seconds / workload.ideal_s, 3) if workload.ideal_s else None,
        "calls_per_s": round(workload.calls / seconds, 1),
        "client_cpu_us_per_call": round(cpu / workload.calls * 1e6, 1),
        "server_requests": last.requests,
        "expected_requests": workload.calls,
        "requests_match": True,
        "server_cpu_share": round(last.server_cpu_s / last.seconds, 3),
        **extra,
    }


def error_row(label: str, workload: Workload, exc: BaseException) -> dict[str, Any]:
    return {
        "label": label,
        "status": f"error: {type(exc).__name__}: {exc}",
        "expected_requests": workload.calls,
        "requests_match": not isinstance(exc, CountMismatch),
    }


# ---------------------------------------------------------------------------- agnoctl


def fan_out_workflow(workload: Workload) -> dict[str, Any]:
    """A for_each over the workload's items at its concurrency, with the response cache off (a
    hit would not reach the server); on the mock provider when the workload has no server."""
    if workload.server is None:
        providers, model = {}, "mock/echo"
    else:
        provider = {"type": "openai", "base_url": workload.base_url, "api_key": baselines.API_KEY}
        providers = {"fake": {**provider, "max_concurrency": workload.concurrency, **STREAM}}
        model = f"fake/{baselines.MODEL}"
    fan = {
        "agent": "worker",
        "for_each": f"range({workload.calls}) | list",
        "max_concurrency": workload.concurrency,
        "prompt": "call {{ item }}",
    }
    return _workflow(workload, providers, model, {"fan": fan}, "{{ steps.fan.output }}")


def chain_workflow(workload: Workload) -> dict[str, Any]:
    """Step ``s<i>`` needs ``s<i-1>`` and sends its reply on, as baselines.chained_prompt does."""
    steps: dict[str, Any] = {"s0": {"agent": "worker", "prompt": "step 0"}}
    for i in range(1, workload.calls):
        prompt = f"step {i} after {{{{ steps.s{i - 1}.output }}}}"
        steps[f"s{i}"] = {"agent": "worker", "needs": [f"s{i - 1}"], "prompt": prompt}
    providers = {
        "fake": {"type": "openai", "base_url": workload.base_url, "api_key": "k", **STREAM}
    }
    replies = ", ".join(f"steps.{name}.output" for name in steps)
    return _workflow(
        workload, providers, f"fake/{baselines.MODEL}", steps, f"{{{{ [{replies}] }}}}"
    )


def _workflow(
    workload: Workload, providers: dict[str, Any], model: str, steps: dict[str, Any], out: str
) -> dict[str, Any]:
    return {
        "version": 1,
        "name": f"bench-{workload.name.replace('_', '-')}",
        "providers": providers,
        "defaults": {"cache": False},
        "agents": {"worker": {"model": model}},
        "steps": steps,
        "outputs": {"replies": out},
    }


def agnoctl_workflow(workload: Workload) -> dict[str, Any]:
    return chain_workflow(workload) if workload.is_chain else fan_out_workflow(workload)


class RunClock:
    """A run observer that times the run phase: from ``run_started`` to the ``run_finished``
    event (only the report files are written after it)."""

    def __init__(self) -> None:
        self.started = self.finished = 0.0

    def run_started(self, state: object) -> None:
        self.started = time.perf_counter()

    def event(self, entry: Entry) -> None:
        if isinstance(entry.event, RunFinished):
            self.finished = time.perf_counter()

    def run_finished(self, report: object, run_dir: Path) -> None:
        del report, run_dir


@dataclass(frozen=True)
class Timing:
    phase_s: float  # the run phase
    whole_s: float  # the whole ``run_workflow`` call


class Agnoctl:
    """Runs agnoctl on generated workflows, each in a run directory of its own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def _write(self, workflow: dict[str, Any]) -> tuple[Path, Path]:
        self.count += 1
        path = self.folder / f"{workflow['name']}-{self.count}.yaml"
        path.write_text(yaml.safe_dump(workflow, sort_keys=False), encoding="utf-8")
        return path, self.folder / f"run-{self.count}"

    def library(self, workload: Workload, fixtures: Path | None = None) -> Timing:
        """One in-process run of ``workload``; every reply is checked."""
        path, run_dir = self._write(agnoctl_workflow(workload))
        clock = RunClock()
        started = time.perf_counter()
        report = agnoctl.run_workflow(
            path, report_dir=run_dir, mock_fixtures=fixtures, observer=clock
        )
        whole = time.perf_counter() - started
        if report.status != "passed":
            raise RuntimeError(f"the agnoctl run did not pass: {report.reason}")
        expected = ["ok"] * workload.calls if workload.server is None else workload.expected()
        if report.outputs["replies"] != expected:
            raise RuntimeError("agnoctl's replies differ from the expected ones")
        return Timing(clock.finished - clock.started, whole)

    def cli(self, workload: Workload) -> None:
        """End to end, as a CI step runs it: a fresh interpreter, ``agnoctl run``, exit 0."""
        path, run_dir = self._write(agnoctl_workflow(workload))
        command = [sys.executable, "-m", "agnoctl", "run", str(path), "--report-dir", str(run_dir)]
        command.append("-q")
        subprocess.run(command, check=True, capture_output=True, timeout=SUBPROCESS_TIMEOUT)


def agnoctl_rows(runner: Agnoctl, workload: Workload, repeats: int) -> dict[str, dict[str, Any]]:
    """agnoctl in-process, its provider alone, and its CLI, on one HTTP workload."""
    rows: dict[str, dict[str, Any]] = {}
    label = "agnoctl, run_workflow() (run phase)"
    try:
        if (small := workload.warm_up()) is not None:
            runner.library(small)
        wholes: list[float] = []

        def run() -> float:
            timing = runner.library(workload)
            wholes.append(timing.whole_s)
            return timing.phase_s

        samples = sampled(repeats, lambda: measure(workload, run))
        whole = statistics.median(wholes)
        rows["agnoctl"] = row(label, workload, samples, **_whole(whole, workload))
    except Exception as exc:  # one client's failure is a row of the table, not a crash
        rows["agnoctl"] = error_row(label, workload, exc)
    if not workload.is_chain:
        rows["agnoctl_provider"] = _provider_row(workload, repeats)
    label = "agnoctl CLI, end to end (one run)"
    try:
        sample = measure(workload, lambda: runner.cli(workload))
        rows["agnoctl_cli"] = row(label, workload, [sample])
    except Exception as exc:
        rows["agnoctl_cli"] = error_row(label, workload, exc)
    return rows


def _whole(seconds: float, workload: Workload) -> dict[str, float | None]:
    ratio = round(seconds / workload.ideal_s, 3) if workload.ideal_s else None
    return {"run_workflow_s": round(seconds, 4), "run_workflow_x_ideal": ratio}


def _provider_row(workload: Workload, repeats: int) -> dict[str, Any]:
    """agnoctl's OpenAI provider on its shared client in a worker pool (bench/transport.py):
    the HTTP layer without the engine, to tell the engine's cost from the client's."""
    label = "agnoctl OpenAIProvider alone (no engine)"

    def run(w: Workload) -> float:
        assert w.server is not None
        return anyio.run(through_provider, w.server.url, w.calls, w.concurrency)

    try:
        if (small := workload.warm_up()) is not None:
            measure(small, functools.partial(run, small))
        return row(
            label, workload, sampled(repeats, lambda: measure(workload, lambda: run(workload)))
        )
    except Exception as exc:
        return error_row(label, workload, exc)


def mock_fan_out(runner: Agnoctl, sizes: Sizes, folder: Path) -> dict[str, Any]:
    """The fan-out on the mock provider: every reply after a 50 ms fixture delay, no HTTP."""
    calls, concurrency = sizes.fan_out_calls, sizes.fan_out_concurrency
    workload = Workload("fan_out_mock", calls, concurrency, MOCK_DELAY_MS, warm=sizes.warm_up)
    fixtures = folder / "mock-fixtures.yaml"
    reply = {"text": "ok", "delay": f"{MOCK_DELAY_MS:g}ms"}
    fixtures.write_text(yaml.safe_dump({"steps": {"fan": reply}}), encoding="utf-8")
    if (small := workload.warm_up()) is not None:
        runner.library(small, fixtures)
    timings = [runner.library(workload, fixtures) for _ in range(sizes.repeats)]
    seconds = statistics.median(t.phase_s for t in timings)
    client = {
        "label": "agnoctl, run_workflow() (run phase), mock provider",
        "status": "ok",
        "seconds": round(seconds, 4),
        "samples_s": [round(t.phase_s, 4) for t in timings],
        "x_ideal": round(seconds / workload.ideal_s, 3),
        **_whole(statistics.median(t.whole_s for t in timings), workload),
    }
    return {**workload.describe(), "clients": {"agnoctl": client}}


# ---------------------------------------------------------------------------- baselines


def baseline_rows(workloads: list[Workload], repeats: int) -> dict[str, dict[str, Any]]:
    """{workload: {client: row}} for every client in bench/baselines/, each in a fresh
    interpreter (``python -m baselines``), as a user's script starts: the frameworks keep HTTP
    clients in module globals (LangChain's is bound to the first event loop) or leave them to
    the garbage collector, and one's leftovers must not slow or stall the next."""
    table: dict[str, dict[str, Any]] = {w.name: {} for w in workloads}
    spec = json.dumps({"repeats": repeats, "workloads": [asdict(w) for w in workloads]})
    for key, client in baselines.CLIENTS.items():
        skipped = baselines.skip_reason(client)
        versions = ", ".join(f"{p} {v}" for p, v in baselines.versions(client).items())
        label = f"{client.label} ({versions})"
        if skipped is None:
            rows = _client_process(key, label, spec, workloads)
        else:
            rows = {w.name: {"label": client.label, "status": skipped} for w in workloads}
        for name, result in rows.items():
            table[name][key] = {**result, "framework": client.framework}
    return table


def _client_process(
    key: str, label: str, spec: str, workloads: list[Workload]
) -> dict[str, dict[str, Any]]:
    command = [sys.executable, "-m", "baselines", key, label]
    timeout = RUN_TIMEOUT * (len(workloads) + 1)
    try:
        done = subprocess.run(
            command, input=spec, capture_output=True, text=True, cwd=BENCH, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"exit {done.returncode}: {done.stderr.strip()[-800:]}")
        rows: dict[str, dict[str, Any]] = json.loads(done.stdout)
        return rows
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
        return {w.name: error_row(label, w, exc) for w in workloads}


def load_workloads(spec: dict[str, Any]) -> list[Workload]:
    """The workloads ``baseline_rows`` sent to a client's interpreter."""
    return [Workload(**{**w, "server": Server(**w["server"])}) for w in spec["workloads"]]


async def client_rows(
    module: ModuleType, label: str, workloads: list[Workload], repeats: int
) -> dict[str, dict[str, Any]]:
    """Every workload for one client, in one event loop, as a user's script would run them
    (LangChain, for one, keeps its HTTP client for the life of the loop)."""
    rows: dict[str, dict[str, Any]] = {}
    for workload in workloads:
        try:
            if (small := workload.warm_up()) is not None:
                await _client_run(module, small)
            call = functools.partial(_client_run, module, workload)
            samples: list[Sample] = []
            while _more(samples, repeats):
                samples.append(await measure_async(workload, call))
            rows[workload.name] = row(label, workload, samples)
        except Exception as exc:
            rows[workload.name] = error_row(label, workload, exc)
    return rows


async def _client_run(module: ModuleType, workload: Workload) -> None:
    with anyio.fail_after(RUN_TIMEOUT):
        if workload.is_chain:
            replies = await module.chain(workload.base_url, workload.prompts)
        else:
            replies = await module.fan_out(
                workload.base_url, workload.prompts, workload.concurrency
            )
    if replies != workload.expected():
        raise RuntimeError("the replies differ from the server's echo")


# ---------------------------------------------------------------------------- other scripts


def bench_script(script: str, *arguments: str | int) -> dict[str, Any]:
    """Run bench/<script>, which prints one JSON object, in a fresh interpreter (on this core)."""
    command = [sys.executable, str(BENCH / script), *map(str, arguments)]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script} exited {done.returncode}: {done.stderr.strip()[-800:]}")
    result: dict[str, Any] = json.loads(done.stdout[done.stdout.index("{") :])
    return result


def engine(sizes: Sizes) -> dict[str, Any]:
    items = ("--items", sizes.fan_out_calls, "--concurrency", sizes.fan_out_concurrency)
    runs = ("--repeats", sizes.step_runs)
    return bench_script("engine_bench.py", "--steps", sizes.steps, *items, *runs)


# Issue 24's rows 4-5: a mock for_each of 1,000 and 5,000 items through the CLI (items_bench.py).
ITEMS_SIZES = {True: (50, 250), False: (1000, 5000)}  # by --quick


def items(sizes: Sizes) -> dict[str, Any]:
    small, large = ITEMS_SIZES[sizes == QUICK]
    runs = ("--repeats", sizes.repeats)
    return bench_script("items_bench.py", "--small", small, "--large", large, *runs)


def startup_and_validate(sizes: Sizes) -> dict[str, Any]:
    """bench/validate_bench.py (each figure: the median wall and CPU seconds of fresh
    interpreters; `--help` and `import typer` taken in turn) and bench/plan_bench.py."""
    raw = bench_script("validate_bench.py", "--steps", sizes.steps, "--runs", sizes.validate_runs)
    help_, typer = raw["help"], raw["import_typer"]
    shown = ("help", "import_typer", "validate_small", "python_startup")
    startup = {k: raw[k] for k in (*shown, "run_two_steps", "import_floor")}
    startup["validate_small_s"] = raw["validate_small"]["wall_s"]
    startup["help_x_typer_wall"] = round(help_["wall_s"] / typer["wall_s"], 3)
    # The goal's figure: CPU, the median of paired runs' ratios (validate_bench.py says why).
    startup["help_x_typer"] = raw["help_over_import_typer"]
    # Issue 24's: wall time, the median of paired runs' ratios.
    startup["run_x_import_floor"] = raw["run_over_import_floor"]
    startup["run_x_import_floor_cpu"] = raw["run_over_import_floor_cpu"]
    validate = {k: raw[k] for k in ("steps", "file_bytes", "runs", "validate_generated")}
    validate["validate_generated_s"] = raw["validate_generated"]["wall_s"]
    runs = ("--runs", sizes.validate_runs)
    validate["plan"] = bench_script("plan_bench.py", "--steps", sizes.steps, *runs)
    return {"cli_startup": startup, "validate_plan": validate}


def cache(sizes: Sizes) -> dict[str, Any]:
    return bench_script("cache_bench.py", "--entries", sizes.cache_entries)


def resume(sizes: Sizes, folder: Path) -> dict[str, Any]:
    """A finished mock run of ``steps`` steps, resumed through the CLI: nothing is left to do,
    so this is the cost of reading the run back and fingerprinting every step."""
    agnoctl_run = [sys.executable, "-m", "agnoctl", "run"]
    workflow = folder / "resume.yaml"
    workflow.write_text(yaml.safe_dump(chains_and_fan_outs(sizes.steps)), encoding="utf-8")
    command = [*agnoctl_run, str(workflow), "-q"]
    first, _ = _timed(command, folder)
    again, said = _timed([*command, "--resume", "latest"], folder)
    return {
        "status": "ok",
        "steps": sizes.steps,
        "first_run_s": first,
        "resume_s": again,
        "resume_said": said,
    }


def _timed(command: list[str], cwd: Path) -> tuple[float, str]:
    """(seconds, the last line printed) of a CLI run that must exit 0."""
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=True, timeout=SUBPROCESS_TIMEOUT
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    return round(time.perf_counter() - started, 3), lines[-1] if lines else ""


# ---------------------------------------------------------------------------- goals


@dataclass(frozen=True)
class Goal:
    figure: str
    value: float | None  # None: not measured (the note says why)
    unit: str
    goal: str
    met: bool | None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "value": self.value,
            "unit": self.unit,
            "goal": self.goal,
            "met": self.met,
            "note": self.note,
        }


def goals(results: dict[str, Any]) -> list[Goal]:
    """Every figure the issue sets a goal for (and the ones it asks for without a goal)."""
    fan, mock, chain = (_agnoctl(results, w) for w in ("fan_out", "fan_out_mock", "chain"))
    return [
        _at_most("fan-out over HTTP, run phase", fan, "x_ideal", "x ideal", 1.25),
        _at_most("fan-out on the mock provider, run phase", mock, "x_ideal", "x ideal", 1.05),
        _at_most("chain over HTTP, run phase", chain, "x_ideal", "x ideal", 1.3),
        *_throughput(results.get("throughput", {})),
        *_engine(results.get("engine", {})),
        *_items(results.get("items", {})),
        *_startup(results.get("cli_startup", {})),
        *_validate_plan(results.get("validate_plan", {})),
        *_cache(results.get("cache", {})),
        _resume(results.get("resume", {})),
    ]


def _agnoctl(results: dict[str, Any], workload: str) -> dict[str, Any]:
    client: dict[str, Any] = results.get(workload, {}).get("clients", {}).get("agnoctl", {})
    return client


def _at_most(figure: str, data: dict[str, Any], key: str, unit: str, limit: float) -> Goal:
    value = data.get(key)
    if value is None:
        return Goal(figure, None, unit, f"≤ {limit:g}", None, data.get("status", "not run"))
    return Goal(figure, value, unit, f"≤ {limit:g}", value <= limit)


def _throughput(workload: dict[str, Any]) -> list[Goal]:
    clients = workload.get("clients", {})
    ours = clients.get("agnoctl", {}).get("calls_per_s")
    raw = clients.get("aiohttp_raw", {}).get("calls_per_s")
    if ours is None or raw is None:
        missing = "agnoctl" if ours is None else "the aiohttp script"
        return [
            Goal(
                "throughput ÷ raw aiohttp script",
                None,
                "x",
                "≥ 0.4",
                None,
                f"{missing} did not run",
            )
        ]
    frameworks = {
        c["label"]: c["calls_per_s"]
        for c in clients.values()
        if c.get("framework") and "calls_per_s" in c
    }
    best = max(frameworks.values(), default=None)
    ahead = Goal(
        "throughput ÷ best framework",
        None if best is None else round(ours / best, 2),
        "x",
        "> 1 (ahead of every framework)",
        None if best is None else ours > best,
        "" if best is not None else "no framework installed (bench/requirements-bench.txt)",
    )
    return [
        Goal("throughput, agnoctl run phase", ours, "calls/s", "—", None),
        Goal(
            "throughput ÷ raw aiohttp script", round(ours / raw, 3), "x", "≥ 0.4", ours / raw >= 0.4
        ),
        ahead,
    ]


def _engine(data: dict[str, Any]) -> list[Goal]:
    return [
        _at_most(
            "scheduler overhead per step (10,000 mock steps)",
            data,
            "overhead_us_per_step",
            "µs",
            50,
        ),
        _at_most("memory per finished step", data, "memory_kib_per_step", "KiB", 5),
    ]


def _items(data: dict[str, Any]) -> list[Goal]:
    return [
        _at_most("mock for_each, time per extra item", data, "us_per_extra_item", "µs", 40),
        _at_most(
            "mock for_each, peak RSS per extra item", data, "rss_kib_per_extra_item", "KiB", 1
        ),
    ]


def _startup(data: dict[str, Any]) -> list[Goal]:
    return [
        _at_most('`agnoctl --help` ÷ `python -c "import typer"`', data, "help_x_typer", "x", 1.3),
        _at_most(
            "`agnoctl run` of a 2-step mock workflow ÷ the import floor (wall; issue 24)",
            data,
            "run_x_import_floor",
            "x",
            1.5,
        ),
        Goal("`agnoctl validate` of a 3-step file", data.get("validate_small_s"), "s", "—", None),
    ]


def _validate_plan(data: dict[str, Any]) -> list[Goal]:
    steps = data.get("steps", 10_000)
    plan = data.get("plan", {})
    return [
        _at_most(
            f"`agnoctl validate` of a {steps:,}-step file", data, "validate_generated_s", "s", 1
        ),
        Goal(f"`agnoctl plan` of a {steps:,}-step file", plan.get("cli_plan_s"), "s", "—", None),
        _at_most(
            "`agnoctl plan` ÷ `agnoctl validate`, same file (issue 3)", plan, "cli_ratio", "x", 1.5
        ),
    ]


def _cache(data: dict[str, Any]) -> list[Goal]:
    hit = data.get("hit", {})
    return [
        _at_most("cache hit, median", hit, "median_ms", "ms", 1),
        _at_most("cache hit, p99", hit, "p99_ms", "ms", 1),
    ]


def _resume(data: dict[str, Any]) -> Goal:
    return Goal(
        "resume a finished 10,000-step run (CLI)",
        data.get("resume_s"),
        "s",
        "—",
        None,
        "" if data.get("status") == "ok" else data.get("status", "not run"),
    )


# ---------------------------------------------------------------------------- markdown


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    size = "quick (smoke test sizes: not the published numbers)" if meta["quick"] else "full"
    lines = [
        f"# Benchmark results ({size})",
        "",
        f"`{meta['command']}` on {meta['machine']['cpu']}, {meta['machine']['cpus']} CPUs, "
        f"Python {meta['machine']['python']}; {meta['finished']}, {meta['duration_s']:.0f} s; "
        f"load average {meta['load_average_before'][0]:g} before, "
        f"{meta['load_average_after'][0]:g} after.",
        "",
        "| figure | measured | goal | met |",
        "|---|---|---|---|",
    ]
    for goal in results["goals"]:
        value = "—" if goal["value"] is None else f"{goal['value']:g} {goal['unit']}"
        met = {True: "yes", False: "**no**", None: "—"}[goal["met"]]
        note = f" ({goal['note']})" if goal["note"] else ""
        lines.append(f"| {goal['figure']} | {value}{note} | {goal['goal']} | {met} |")
    for name in (*HTTP_WORKLOADS, "fan_out_mock"):
        data = results["workloads"].get(name, {})
        if "clients" in data:
            lines += ["", *_client_table(name, data)]
    return "\n".join(lines) + "\n"


def _client_table(name: str, data: dict[str, Any]) -> list[str]:
    lines = [
        f"## {name}: {data['calls']} calls, concurrency {data['concurrency']}, "
        f"{data['latency_ms']:g} ms replies (ideal {data['ideal_s']:g} s)",
        "",
        "| client | seconds | x ideal | calls/s | client CPU µs/call | server requests "
        "| server CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for client in data["clients"].values():
        if client["status"] != "ok":
            lines.append(f"| {client['label']} | {client['status']} | | | | | |")
            continue
        cells = [
            client["label"],
            f"{client['seconds']:.3f}",
            _cell(client.get("x_ideal"), "{:.2f}"),
            _cell(client.get("calls_per_s"), "{:,.0f}"),
            _cell(client.get("client_cpu_us_per_call"), "{:,.0f}"),
            _cell(client.get("server_requests"), "{}"),
            _cell(client.get("server_cpu_share"), "{:.0%}"),
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return lines


def _cell(value: object, form: str) -> str:
    return "—" if value is None else form.format(value)


# ---------------------------------------------------------------------------- the suite


def http_workloads(
    runner: Agnoctl, sizes: Sizes, names: list[str], server_core: int | None
) -> dict[str, Any]:
    """Workloads 1-3: every client on the same servers."""
    results: dict[str, Any] = {}
    with servers(sizes, server_core) as workloads:
        chosen = [workloads[name] for name in names]
        clients = baseline_rows(chosen, sizes.repeats)
        for workload in chosen:
            ours = agnoctl_rows(runner, workload, sizes.repeats)
            clients_of = {**ours, **clients[workload.name]}
            results[workload.name] = {**workload.describe(), "clients": clients_of}
    return results


def run_suite(
    sizes: Sizes, only: set[str], folder: Path, server_core: int | None
) -> tuple[dict[str, Any], dict[str, float]]:
    """(results by workload, seconds each section took)."""
    runner = Agnoctl(folder)
    sections: list[tuple[tuple[str, ...], Callable[[list[str]], dict[str, Any]]]] = [
        (HTTP_WORKLOADS, lambda names: http_workloads(runner, sizes, names, server_core)),
        (("fan_out_mock",), lambda _: {"fan_out_mock": mock_fan_out(runner, sizes, folder)}),
        (("engine",), lambda _: {"engine": engine(sizes)}),
        (("items",), lambda _: {"items": items(sizes)}),
        (("cli_startup", "validate_plan"), lambda _: startup_and_validate(sizes)),
        (("cache",), lambda _: {"cache": cache(sizes)}),
        (("resume",), lambda _: {"resume": resume(sizes, folder)}),
    ]
    results: dict[str, Any] = {}
    durations: dict[str, float] = {}
    for names, step in sections:
        chosen = [name for name in names if name in only]
        if not chosen:
            continue
        started = time.perf_counter()
        try:
            results.update(step(chosen))
        except Exception as exc:  # a broken workload is reported, the others still run
            results.update(
                {name: {"status": f"error: {type(exc).__name__}: {exc}"} for name in chosen}
            )
        durations[" + ".join(chosen)] = round(time.perf_counter() - started, 1)
    return results, durations


def problems(results: dict[str, Any]) -> list[str]:
    """What makes the run a failure: a workload or client that errored, a count mismatch."""
    found = []
    for name, data in results.items():
        if str(data.get("status", "")).startswith("error"):
            found.append(f"{name}: {data['status']}")
        for key, client in data.get("clients", {}).items():
            if str(client.get("status", "")).startswith("error") or not client.get(
                "requests_match", True
            ):
                found.append(f"{name}/{key}: {client['status']}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (the smoke test)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON results file")
    parser.add_argument("--only", nargs="+", choices=WORKLOADS, help="run only these workloads")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    pinning = pin_cores()
    started, wall = time.time(), time.perf_counter()
    load_before = [round(x, 2) for x in os.getloadavg()]  # other work on the machine skews timings
    with tempfile.TemporaryDirectory(prefix="agnoctl-bench-") as folder:
        server_core = None if pinning is None else pinning[1]
        workloads, durations = run_suite(
            sizes, set(args.only or WORKLOADS), Path(folder), server_core
        )
    results: dict[str, Any] = {
        "meta": {
            "command": " ".join(["python bench/run.py", *sys.argv[1:]]),
            "quick": args.quick,
            "sizes": sizes.__dict__,
            "machine": machine(pinning),
            "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
            "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
            "duration_s": round(time.perf_counter() - wall, 1),
            "section_durations_s": durations,
            "load_average_before": load_before,
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "workloads": {
            name: workloads.get(name, {"status": "not run (--only)"}) for name in WORKLOADS
        },
    }
    results["goals"] = [g.as_dict() for g in goals(results["workloads"])]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))
    found = problems(results["workloads"])
    for problem in found:
        print(f"FAILED {problem}", file=sys.stderr)
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
