"""metrics.prom counts an attempt that Ctrl-C, SIGTERM or a limit cut short as cancelled, not as
succeeded.

Found by cross-checking an interrupted run's files (the reports pass): report.json said the
steps were `skipped: cancelled`, their attempts unfinished and without an error, and
metrics.prom counted those attempts under ``agnoctl_attempts_total{outcome="succeeded"}``:
a dashboard showed work that never finished as done.
"""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

from tests.cli.test_run_signals import start
from tests.conftest import RunCli


def test_an_interrupted_attempt_is_not_counted_as_succeeded(tmp_path: Path) -> None:
    process, out, _ = start(tmp_path)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    [attempt] = report["steps"]["slow"]["attempts"]
    assert attempt["finished"] is None and attempt["error"] is None  # cut short
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in (out / "metrics.prom").read_text(encoding="utf-8").splitlines()
        if line.startswith("agnoctl_attempts_total{")
    }
    assert samples == {
        'agnoctl_attempts_total{outcome="succeeded",step="quick"}': 1.0,
        'agnoctl_attempts_total{outcome="cancelled",step="sleeper"}': 1.0,
        'agnoctl_attempts_total{outcome="cancelled",step="slow"}': 1.0,
    }


def test_an_attempt_a_limit_cut_short_is_not_counted_as_succeeded(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "wf.yaml").write_text(
        "version: 1\nname: cut\nsteps:\n  slow:\n    run: [sleep, '30']\n"
        "limits: {max_duration: 250ms}\n",
        encoding="utf-8",
    )
    result = run_cli("run", "wf.yaml", "--report-dir", "r", "-q")
    assert result.returncode == 1, result.stderr
    metrics = (tmp_path / "r/metrics.prom").read_text(encoding="utf-8")
    samples = [line for line in metrics.splitlines() if line.startswith("agnoctl_attempts_total{")]
    assert samples == ['agnoctl_attempts_total{outcome="cancelled",step="slow"} 1.0']


def test_report_html_shows_a_cut_short_attempt_as_cancelled(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """report.html said `ok` of the same attempt, in its attempts table and its timeline."""
    (tmp_path / "wf.yaml").write_text(
        "version: 1\nname: cut\nsteps:\n  slow:\n    run: [sleep, '30']\n"
        "limits: {max_duration: 250ms}\n",
        encoding="utf-8",
    )
    assert run_cli("run", "wf.yaml", "--report-dir", "r", "-q").returncode == 1
    page = (tmp_path / "r/report.html").read_text(encoding="utf-8")
    assert '<span class="pass">ok</span>' not in page
    assert '<span class="warn">cancelled</span>' in page
    [bar] = re.findall(r'<span class="g-bar g-(\w+)"[^>]*title="attempt 1 [^"]*"', page)
    assert bar == "cut"
