"""Planning speed: `agnoctl plan` of a generated 10,000-step workflow against `agnoctl validate`.

Run: ``python bench/plan_bench.py [--steps 10000] [--runs 5]``. Prints one JSON object. The
goal (issue 3): planning takes about as long as validating, at most 1.5 times as long. Two
views, both medians of `--runs`:

* ``cli_*``: wall and CPU time of fresh `agnoctl validate FILE` and `agnoctl plan FILE`
  processes, as a user or a CI step sees them (start-up included; `plan` validates the file
  first). ``cli_ratio`` is the median of the rounds' CPU ratios, each of a `validate` and a
  `plan` run one after the other: the VM's speed drifts by tens of percent within a minute;
* ``inproc_*``: CPU time inside one process of `validate_file`, and of `build_plan` +
  `render_plan` on its result (the part planning adds).

The workflow is `bench/validate_bench.py`'s generator: layers of 100 agent, command and
for_each steps, each reading steps of the layer before, with gates and conditions.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from validate_bench import generate, run_once

from agnoctl.plan import build_plan, render_plan
from agnoctl.spec.loader import paused_gc
from agnoctl.spec.validate import validate_file

AGNOCTL = [sys.executable, "-m", "agnoctl"]
GOAL_RATIO = 1.5


def _in_process(path: Path) -> tuple[float, float]:
    gc.collect()
    # Both commands pause the cycle collector while they work (agnoctl.spec.loader.paused_gc).
    with paused_gc():
        start = time.process_time()
        result = validate_file(path)
        validated = time.process_time()
        assert result.workflow is not None, result.diagnostics
        plan = build_plan(result.workflow, {}, workflow_path=path)
        render_plan(plan, "text")
        return validated - start, time.process_time() - validated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "generated.yaml"
        path.write_text(generate(options.steps), encoding="utf-8")
        validate_s, plan_s, inproc_validate, inproc_plan = [], [], [], []
        for _ in range(options.runs):  # interleaved, so load changes hit both alike
            validate_s.append(run_once([*AGNOCTL, "validate", str(path)]))
            plan_s.append(run_once([*AGNOCTL, "plan", str(path)]))
            validated, planned = _in_process(path)
            inproc_validate.append(validated)
            inproc_plan.append(planned)
    results = {
        "python": sys.version.split()[0],
        "steps": options.steps,
        "runs": options.runs,
        "cli_validate_s": round(statistics.median(wall for wall, _ in validate_s), 3),
        "cli_plan_s": round(statistics.median(wall for wall, _ in plan_s), 3),
        "cli_validate_cpu_s": round(statistics.median(cpu for _, cpu in validate_s), 3),
        "cli_plan_cpu_s": round(statistics.median(cpu for _, cpu in plan_s), 3),
        "inproc_validate_cpu_s": round(statistics.median(inproc_validate), 3),
        "inproc_plan_and_render_cpu_s": round(statistics.median(inproc_plan), 3),
    }
    results["cli_ratio"] = round(
        statistics.median(
            plan_cpu / validate_cpu
            for (_, validate_cpu), (_, plan_cpu) in zip(validate_s, plan_s, strict=True)
        ),
        2,
    )
    results["cli_wall_ratio"] = round(results["cli_plan_s"] / results["cli_validate_s"], 2)
    results["inproc_ratio"] = round(
        (results["inproc_validate_cpu_s"] + results["inproc_plan_and_render_cpu_s"])
        / results["inproc_validate_cpu_s"],
        2,
    )
    results["goal_ratio"] = GOAL_RATIO
    results["load_average"] = round(load, 2)
    results["goal_met"] = results["cli_ratio"] <= GOAL_RATIO
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
