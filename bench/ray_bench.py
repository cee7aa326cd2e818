"""The local executor against `--executor ray` on one machine: the same command fan-out, in one run.

Run: ``python bench/ray_bench.py [--sizes 250 2000] [--repeats 1] [--work-ms 0]`` (needs the
``ray`` extra). Prints one JSON object; docs/performance.md ("Ray executor") quotes it.

Each run is ``agnoctl run`` in a fresh process of a ``for_each`` of command steps (``sh`` prints
its item; ``--work-ms`` makes each one busy that long first), at ``max_concurrency: 8``. The
bench starts one local cluster (two CPUs, as the tests use) and every Ray run connects to it
with ``--ray-address``, as runs against a standing cluster do; the cluster's start is timed
apart. The overhead per task is the slope between the two sizes (wall time, median of
``--repeats`` runs each), so that a run's fixed part (start-up, connecting, shipping the
working directory, starting workers) cancels out; that fixed part is the intercept.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WORKFLOW = """\
version: 1
name: ray-bench
steps:
  fan:
    for_each: {items}
    max_concurrency: 8
    run: [sh, -c, '{busy}echo "out-$0"', '{{{{ item }}}}']
"""


def _workflow(size: int, work_ms: int) -> str:
    # A busy loop in sh, not sleep: the work a task does is CPU, what a cluster adds.
    busy = f"end=$(( $(date +%s%N) + {work_ms * 1_000_000} )); " if work_ms else ""
    busy += 'while [ "$(date +%s%N)" -lt "$end" ]; do :; done; ' if work_ms else ""
    return WORKFLOW.format(items=json.dumps(list(range(size))), busy=busy)


def _timed_run(folder: Path, extra: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "agnoctl", "run", "wf.yaml", "-q", "--no-cache", *extra],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"agnoctl run {' '.join(extra)} failed:\n{proc.stderr[-3000:]}")
    return elapsed


def _measure(
    root: Path, sizes: list[int], repeats: int, work_ms: int, extra: list[str]
) -> dict[str, Any]:
    walls: dict[int, float] = {}
    for size in sizes:
        folder = root / f"{extra[1] if extra else 'local'}-{size}"
        folder.mkdir()
        (folder / "wf.yaml").write_text(_workflow(size, work_ms), encoding="utf-8")
        walls[size] = statistics.median(_timed_run(folder, extra) for _ in range(repeats))
    small, large = sizes[0], sizes[-1]
    per_task = (walls[large] - walls[small]) / (large - small)
    return {
        "wall_s": {str(size): round(wall, 3) for size, wall in walls.items()},
        "per_task_ms": round(per_task * 1000, 3),
        "fixed_s": round(walls[small] - per_task * small, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[250, 2000])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--work-ms", type=int, default=0)
    args = parser.parse_args()
    load_before = [round(x, 2) for x in os.getloadavg()]
    import ray

    started = time.perf_counter()
    context = ray.init(
        num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False
    )
    cluster_start = time.perf_counter() - started
    address = str(context.address_info["gcs_address"])
    try:
        with tempfile.TemporaryDirectory(prefix="ray-bench-") as temp:
            root = Path(temp)
            local = _measure(root, args.sizes, args.repeats, args.work_ms, [])
            on_ray = _measure(
                root,
                args.sizes,
                args.repeats,
                args.work_ms,
                ["--executor", "ray", "--ray-address", address],
            )
    finally:
        ray.shutdown()
    result = {
        "sizes": args.sizes,
        "repeats": args.repeats,
        "work_ms": args.work_ms,
        "local": local,
        "ray": on_ray,
        "ray_cluster_start_s": round(cluster_start, 3),
        "ray_version": ray.__version__,
        "machine": {
            "cpus": os.cpu_count(),
            "load_before": load_before,
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
