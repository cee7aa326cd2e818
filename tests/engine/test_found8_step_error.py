"""`steps.<id>.error` validated (checks list it among a step's attributes, and their hints
offer it) but at run time a step's entry had no `error`: the step that read it, typically a
fallback after a `continue_on_error` failure, failed with "undefined value". It now reads
what went wrong, as the report says it (masked), and null when the step succeeded."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import RunCli


def test_a_fallback_reads_what_went_wrong(tmp_path: Path, run_cli: RunCli) -> None:
    flow = {
        "version": 1,
        "name": "t",
        "steps": {
            "bad": {"run": ["sh", "-c", "exit 3"], "continue_on_error": True},
            "good": {"run": ["echo", "ok"]},
            "g": {"steps": {"inner": {"run": ["sh", "-c", "exit 4"]}}, "continue_on_error": True},
            "report": {
                "needs": ["bad", "good", "g"],
                "run": [
                    "echo",
                    "{{ steps.bad.error }}|{{ steps.good.error }}|{{ steps.g.inner.error }}",
                ],
            },
        },
        "outputs": {"said": "{{ steps.report.output }}"},
    }
    (tmp_path / "flow.yaml").write_text(yaml.safe_dump(flow), encoding="utf-8")
    done = run_cli("run", "flow.yaml", "--report-dir", "r", "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    bad = report["steps"]["bad"]["error"]["message"]
    inner = report["steps"]["g"]["steps"]["inner"]["error"]["message"]
    assert "code 3" in bad and "code 4" in inner
    assert report["outputs"]["said"] == f"{bad}|None|{inner}"
