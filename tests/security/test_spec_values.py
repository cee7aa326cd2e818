"""Numbers no workflow means: NaN and infinite durations, delays, prices and bounds, absurd
ones, `version: true`, and integers longer than Python reads from text. Each is a located error
from `agnoctl validate` (exit 2), never a pass or a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunCli

STEP = "steps:\n  s: {run: [echo, hi]}\n"


@pytest.mark.parametrize(
    ("body", "where", "said"),
    [
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
    ],
)
def test_numbers_no_workflow_means_are_located_errors(
    run_cli: RunCli, tmp_path: Path, body: str, where: str, said: str
) -> None:
    workflow = tmp_path / "wf.yaml"
    extra = "" if body.startswith("steps:") else STEP
    workflow.write_text(f"version: 1\nname: numbers\n{body}{extra}")
    proc = run_cli("validate", workflow)
    assert proc.returncode == 2, proc.stdout
    assert "Traceback" not in proc.stderr
    assert f"wf.yaml:{where}: error" in proc.stdout
    assert said in proc.stdout


def test_version_true_is_not_version_1(run_cli: RunCli, tmp_path: Path) -> None:
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(f"version: true\nname: numbers\n{STEP}")
    proc = run_cli("validate", workflow)
    assert proc.returncode == 2
    assert "wf.yaml:1:10: error E202 version True is not supported" in proc.stdout
