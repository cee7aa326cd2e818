"""Numbers no workflow means: NaN and infinite durations, delays, prices and bounds, absurd
ones, `version: true`, and integers longer than Python reads from text. Each is a located error
from `agnoctl validate` (exit 2), never a pass or a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RunCli

STEP = "steps:\n  s: {run: [echo, hi]}\n"

CASES = [
    ("defaults: {timeout: .nan}\n", "3:21", "`defaults.timeout`: nan is not a duration"),
    ("defaults: {timeout: .inf}\n", "3:21", "`defaults.timeout`: inf is not a duration"),
    ("defaults: {timeout: 99999999}\n", "3:21", "longer than a year"),
    (
        "defaults: {retry: {initial_delay: -.inf}}\n",
        "3:35",
        "`defaults.retry.initial_delay`: -inf is not a duration",
    ),
    ("defaults: {retry: {multiplier: .nan}}\n", "3:32", "Input should be a finite number"),
    ("limits: {max_duration: .inf}\n", "3:24", "`limits.max_duration`: inf is not a duration"),
    (
        "limits: {max_cost_usd: .inf}\n",
        "3:24",
        "`limits.max_cost_usd`: Input should be a finite",
    ),
    (
        "providers:\n  p: {type: openai, pricing: {m: {input: .inf, output: 1}}}\n",
        "4:42",
        "`providers.p.pricing.m.input`: Input should be a finite",
    ),
    (
        "providers:\n  p: {type: openai, pricing: {m: {input: 1, output: 1000000.0}}}\n",
        "4:53",
        "`providers.p.pricing.m.output` must be at most 10000",
    ),
    (
        "steps:\n  t: {run: [echo], gates: [{type: threshold, field: x, min: .nan}]}\n",
        "4:61",
        "`steps.t.gates[0].min`: Input should be a finite",
    ),
    ("x: 1" + "2" * 5000 + "\n", "3:4", "an integer of 5,001 digits"),
]


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """One `agnoctl validate` of every case's file (n00.yaml, n01.yaml, ...): each file's
    problems are told on lines of their own, starting with its name."""
    folder = tmp_path_factory.mktemp("numbers")
    for index, (body, _, _) in enumerate(CASES):
        extra = "" if body.startswith("steps:") else STEP
        (folder / f"n{index:02}.yaml").write_text(f"version: 1\nname: numbers\n{body}{extra}")
    files = [f"n{index:02}.yaml" for index in range(len(CASES))]
    return subprocess.run(
        [sys.executable, "-m", "agnoctl", "validate", *files],
        cwd=folder,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("index", "where", "said"), [(i, c[1], c[2]) for i, c in enumerate(CASES)])
def test_numbers_no_workflow_means_are_located_errors(
    validated: subprocess.CompletedProcess[str], index: int, where: str, said: str
) -> None:
    assert validated.returncode == 2, validated.stdout
    assert "Traceback" not in validated.stderr
    name = f"n{index:02}.yaml"
    told = "".join(line for line in validated.stdout.splitlines(True) if line.startswith(name))
    assert f"{name}:{where}: error" in told
    assert said in told


def test_version_true_is_not_version_1(run_cli: RunCli, tmp_path: Path) -> None:
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(f"version: true\nname: numbers\n{STEP}")
    proc = run_cli("validate", workflow)
    assert proc.returncode == 2
    assert "wf.yaml:1:10: error E202 version true is not supported" in proc.stdout
