"""Issue 24, rows 4-6: a mock ``for_each`` end to end through the CLI, its cost per extra item.

Each size runs in a fresh ``agnoctl run`` process; wall time and the child's peak RSS (from
``wait4``) are taken per run, and the figure per extra item is the slope between two sizes
(start-up and the fixed part of a run cancel out). Its output goes to a pipe, so the terminal
writes a plain line per event, as in a CI log; ``--quiet`` runs with ``-q`` instead (the
verdict alone), to tell the terminal's share from the rest. Usage::

    python bench/items_bench.py [--small 1000] [--large 5000] [--repeats 3] [--quiet] [--million]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Sample:
    items: int
    seconds: float
    cpu_seconds: float  # user + system: what other load on a shared host moves least
    peak_rss_kib: int


def workflow(items: int) -> dict[str, object]:
    """One mock agent over ``items`` items, its whole output read by a run output."""
    return {
        "version": 1,
        "name": "bench-items",
        "defaults": {"cache": False},
        "agents": {"worker": {"model": "mock/echo"}},
        "steps": {
            "fan": {"agent": "worker", "for_each": f"range({items})", "prompt": "item {{ item }}"}
        },
        "outputs": {"count": "{{ steps.fan.output | length }}"},
    }


def run_once(items: int, work: Path, quiet: bool = False) -> Sample:
    path = work / f"items-{items}.yaml"
    path.write_text(yaml.safe_dump(workflow(items)))
    report_dir = Path(tempfile.mkdtemp(dir=work))
    argv = [sys.executable, "-m", "agnoctl", "run", str(path), "--report-dir", str(report_dir)]
    if quiet:
        argv.append("-q")
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{items} items: agnoctl run failed: {stderr[-2000:]}")
    return Sample(items, seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


def median_sample(items: int, repeats: int, work: Path, quiet: bool) -> Sample:
    samples = [run_once(items, work, quiet) for _ in range(repeats)]
    return Sample(
        items,
        statistics.median(s.seconds for s in samples),
        statistics.median(s.cpu_seconds for s in samples),
        int(statistics.median(s.peak_rss_kib for s in samples)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quiet", action="store_true", help="run with -q: no line per event")
    parser.add_argument("--million", action="store_true", help="also run 1,000,000 items once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        small = median_sample(args.small, args.repeats, work, args.quiet)
        large = median_sample(args.large, args.repeats, work, args.quiet)
        extra = large.items - small.items
        result: dict[str, object] = {
            "small": small.__dict__,
            "large": large.__dict__,
            "us_per_extra_item": round((large.seconds - small.seconds) / extra * 1e6, 1),
            "cpu_us_per_extra_item": round(
                (large.cpu_seconds - small.cpu_seconds) / extra * 1e6, 1
            ),
            "rss_kib_per_extra_item": round((large.peak_rss_kib - small.peak_rss_kib) / extra, 3),
        }
        if args.million:
            result["million"] = run_once(1_000_000, work, args.quiet).__dict__
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
