"""A reply that makes a regex gate backtrack ends the gate, not the run: `^(a+)+$` on a
37-character reply ran past the step's timeout, `max_duration` and SIGINT."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import yaml

from tests.conftest import RunCli

PRINT = "import sys; print(sys.argv[1])"


def _step(text: str, pattern: str) -> dict[str, object]:
    return {
        "run": [sys.executable, "-c", PRINT, text],
        "gates": [{"type": "regex", "pattern": pattern}],
        "timeout": "30s",
    }


def test_a_backtracking_pattern_fails_its_gate_in_bounded_time(
    run_cli: RunCli, tmp_path: Path
) -> None:
    workflow = tmp_path / "wf.yaml"
    doc = {
        "version": 1,
        "name": "redos",
        "limits": {"max_duration": "60s"},
        "steps": {
            "nested": _step("a" * 36 + "b", "^(a+)+$"),  # the case
            "alternation": _step("a" * 40 + "b", "^(a|a)*$"),  # backtracks in any engine
            "fine": _step("Verdict: approve", "(?<=Verdict: )approve"),  # re syntax still works
        },
    }
    workflow.write_text(yaml.safe_dump(doc))
    started = time.monotonic()
    proc = run_cli("run", workflow, "--report-dir", tmp_path / "run", timeout=90)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert elapsed < 30  # generous: the timeout-bound gate gives up after a second
    steps = json.loads((tmp_path / "run" / "report.json").read_text())["steps"]
    assert steps["fine"]["status"] == "succeeded"
    nested = steps["nested"]["error"]["message"]
    assert nested.endswith("regex ^(a+)+$: the output has no match for the pattern ^(a+)+$")
    alternation = steps["alternation"]["error"]["message"]
    assert "the pattern ^(a|a)*$ found no match within 1s: it backtracks too much" in alternation
