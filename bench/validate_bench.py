"""Start-up and validation speed of the CLI.

Run: ``python bench/validate_bench.py [--steps 10000] [--runs 7]``. Prints one JSON object;
docs/performance.md quotes it. Budgets: `agnoctl validate` of a generated 10,000-step
workflow in at most 1 s, and `agnoctl --help` close to the cost of `python -c "import typer"`.
Every figure is the median wall time of fresh subprocesses (start-up included, as a user or a
CI step sees it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AGNOCTL = [sys.executable, "-m", "agnoctl"]


def generate(steps: int) -> str:
    """A valid workflow of `steps` steps: layers of 100 agent, command and for_each steps,
    each reading one or two steps of the layer before, with gates and conditions."""
    lines = [
        "version: 1",
        "name: generated",
        "inputs:",
        "  topic: {type: string, default: load testing}",
        "  regions: {type: array, default: [eu, us]}",
        "agents:",
        "  worker:",
        "    model: mock/echo",
        "    instructions: You are step-by-step and terse.",
        "    output_schema:",
        "      type: object",
        "      properties: {score: {type: number}, text: {type: string}}",
        "steps:",
    ]
    width = 100
    for index in range(steps):
        lines += _step(index, width)
    return "\n".join(lines) + "\n"


def _step(index: int, width: int) -> list[str]:
    name = f"s{index}"
    needs = [] if index < width else [f"s{index - width}", f"s{index - width + 1 - (index % 2)}"]
    needs = list(dict.fromkeys(needs))
    block = [f"  {name}:"]
    if needs:
        block.append(f"    needs: [{', '.join(needs)}]")
    reads = " and ".join(f"{{{{ steps.{n}.output }}}}" for n in needs) or "{{ inputs.topic }}"
    kind = index % 10
    if kind == 7:
        block.append(f'    run: [echo, "{reads}"]')
        return block
    block += ["    agent: worker", f'    prompt: "Step {index} on {{{{ inputs.topic }}}}: {reads}"']
    if kind == 3:
        block += ["    for_each: inputs.regions", "    max_concurrency: 2"]
    if kind == 5 and needs:
        block.append(f"    if: steps.{needs[0]}.status == 'succeeded'")
    if kind == 9:
        block.append("    gates: [{type: threshold, field: score, min: 0.5}]")
    return block


def _median_seconds(command: list[str], runs: int) -> dict[str, float]:
    """Median wall time and median CPU time (user + system) of `runs` fresh subprocesses.

    CPU time is the steadier figure on a shared machine, where wall time includes waiting.
    """
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return {
        "wall_s": round(statistics.median(walls), 4),
        "cpu_s": round(statistics.median(cpus), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        workflow = Path(folder) / "generated.yaml"
        workflow.write_text(generate(options.steps), encoding="utf-8")
        small = Path(folder) / "small.yaml"
        small.write_text(generate(3), encoding="utf-8")
        generated = _median_seconds([*AGNOCTL, "validate", str(workflow)], options.runs)
        results = {
            "python": sys.version.split()[0],
            "runs": options.runs,
            "steps": options.steps,
            "file_bytes": workflow.stat().st_size,
            "validate_generated": generated,
            "validate_small": _median_seconds([*AGNOCTL, "validate", str(small)], options.runs),
            "help": _median_seconds([*AGNOCTL, "--help"], options.runs),
            "import_typer": _median_seconds([sys.executable, "-c", "import typer"], options.runs),
            "python_startup": _median_seconds([sys.executable, "-c", "pass"], options.runs),
            "validate_goal_met": generated["wall_s"] <= 1.0,
            "load_average_end": round(os.getloadavg()[0], 2),
            "load_average": round(load, 2),
        }
    # Goal: --help at most 1.3 times `import typer`, by CPU time (the steadier figure).
    results["help_over_import_typer"] = round(
        results["help"]["cpu_s"] / results["import_typer"]["cpu_s"], 2
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
