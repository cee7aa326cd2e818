"""One baseline client's workloads in this interpreter: ``python -m baselines CLIENT LABEL``
(run from bench/) reads the workloads as JSON on stdin and prints their rows as JSON."""

from __future__ import annotations

import asyncio
import json
import sys

import run

import baselines


def main() -> None:
    key, label = sys.argv[1:3]
    spec = json.load(sys.stdin)
    module = baselines.load(baselines.CLIENTS[key])
    workloads = run.load_workloads(spec)
    rows = asyncio.run(run.client_rows(module, label, workloads, spec["repeats"]))
    json.dump(rows, sys.stdout)


if __name__ == "__main__":
    main()
