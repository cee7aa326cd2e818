"""A run's reason starts no line of the CI log from `--resume` or `report diff` (real CLI).

Found by trying it: the first fix printed the reason on one line on the result line and the
plain `run_finished` line, but two more places print it. `agnoctl run --resume` on a failed run
whose report files had to be made again said "run X failed: <reason>; `agnoctl run ...`
runs again...", and `agnoctl report diff A B` listed "run: passed → failed (<reason>)" and
"gate ...: passed → failed (<finding>)" among its regressions, both with the judge's
newlines kept. A judge replying ``fine\\n::stop-commands::x`` put that line alone in the log of
a CI job that resumes a run or diffs it against the main branch's, where the GitHub runner
obeys it. Now both print the reason on one line.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import RunCli
from tests.observability.test_found5_ci_log_commands import WORKFLOW

INJECTED = ["::stop-commands::pause", "::error file=README.md,line=1::forged"]
FLAT = "fine " + " ".join(INJECTED)


def _judged(run_cli: RunCli, tmp_path: Path, name: str, score: float, reason: str) -> Path:
    """A run whose judge gave ``score`` and ``reason``, in its own report directory."""
    fixtures = {"steps": {"write#judge": {"json": {"score": score, "reason": reason}}}}
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(fixtures), encoding="utf-8")
    result = run_cli(
        "run", "wf.yaml", "--mock-fixtures", f"{name}.yaml", "--report-dir", name, "-q"
    )
    assert result.returncode == (0 if score >= 0.7 else 1), result.stderr
    return tmp_path / name


def _commands(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.lstrip().startswith("::")]


def test_the_resume_repair_message_prints_the_reason_on_one_line(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    run_dir = _judged(run_cli, tmp_path, "bad", 0.1, "\n".join(["fine", *INJECTED]))
    (run_dir / "junit.xml").unlink()  # a report file to make again: the run is repaired
    result = run_cli("run", "wf.yaml", "--resume", "bad")
    assert result.returncode == 1, result.stderr
    log = result.stdout + result.stderr
    assert "made junit.xml again" in log
    assert _commands(log) == []
    assert FLAT in log


def test_report_diff_prints_each_regression_on_one_line(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    _judged(run_cli, tmp_path, "good", 0.9, "fine")
    _judged(run_cli, tmp_path, "bad", 0.1, "\n".join(["fine", *INJECTED]))
    result = run_cli("report", "diff", "good", "bad", "--fail-on-regression")
    assert result.returncode == 1, result.stderr
    assert _commands(result.stdout) == []
    regressions = [line for line in result.stdout.splitlines() if line.startswith("  - ")]
    assert len(regressions) == 3, result.stdout
    assert regressions[0].startswith("  - run: passed → failed (") and FLAT in regressions[0]
    assert regressions[2].startswith("  - write: gate ") and FLAT in regressions[2]
