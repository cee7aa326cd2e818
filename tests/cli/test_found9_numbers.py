"""Numbers on the command line that are no numbers a command can use, through the real CLI.

Found by the cli pass:
- `report diff --tolerance nan` was refused as "should be greater than or equal to 0" (it is
  not less than 0 either); `--tolerance inf` and `1e400` (an overflow to inf) were taken, and
  `--format json` then printed `"tolerance": Infinity`, which no strict JSON reader (jq, JS,
  Go) parses. Now each is refused, naming the option and what it takes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: numbers
agents:
  w: {model: mock/echo}
steps:
  a: {agent: w, prompt: hi}
"""


@pytest.fixture
def one_run(run_cli: RunCli, tmp_path: Path) -> Path:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    assert run_cli("run", "wf.yaml", "-q", "--report-dir", "r").returncode == 0
    return tmp_path / "r"


@pytest.mark.parametrize(
    ("tolerance", "shown"),
    [
        ("nan", "nan"),
        ("NaN", "nan"),
        ("inf", "inf"),
        ("-inf", "-inf"),
        ("1e400", "inf"),
        ("-1", "-1"),
    ],
)
def test_a_tolerance_that_is_no_finite_number_of_0_or_more_is_refused(
    run_cli: RunCli, one_run: Path, tolerance: str, shown: str
) -> None:
    done = run_cli(
        "report", "diff", one_run, one_run, "--format", "json", f"--tolerance={tolerance}"
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "'--tolerance'" in done.stderr
    assert f"a finite number, 0 or more (such as 0.05), not {shown}" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("tolerance", ["0", "0.5", "1e300"])
def test_a_finite_tolerance_is_taken_and_the_json_is_strict(
    run_cli: RunCli, one_run: Path, tolerance: str
) -> None:
    done = run_cli(
        "report", "diff", one_run, one_run, "--format", "json", f"--tolerance={tolerance}"
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout, parse_constant=pytest.fail)
    assert found["tolerance"] == float(tolerance)


@pytest.mark.parametrize("tolerance", [float("nan"), float("inf"), -1.0])
def test_the_library_refuses_them_too(run_cli: RunCli, one_run: Path, tolerance: float) -> None:
    from agnoctl.errors import UsageError
    from agnoctl.reports.history import diff_reports, load_report

    report = load_report(str(one_run))
    with pytest.raises(UsageError, match="finite number, 0 or more"):
        diff_reports(report, report, tolerance=tolerance)


RUNTIME_LIST = """\
version: 1
name: fan
agents:
  w: {model: openai/gpt-4o-mini}
steps:
  list: {run: [echo, '["a"]']}
  each: {needs: [list], for_each: steps.list.output, agent: w, prompt: "{{ item }}"}
"""


def test_assume_items_past_a_billion_is_refused_not_a_traceback(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """Found by the cli pass: `plan --assume-items` with 400 digits ended in an OverflowError
    traceback (the token count too large for a float price)."""
    (tmp_path / "wf.yaml").write_text(RUNTIME_LIST)
    for too_many in ("9" * 400, "1000000001"):
        done = run_cli("plan", "wf.yaml", "--assume-items", too_many)
        assert done.returncode == 2
        assert (done.stdout, "Traceback" in done.stderr) == ("", False)
        assert "'--assume-items'" in done.stderr
        assert "less than or equal to 1000000000" in done.stderr
    done = run_cli("plan", "wf.yaml", "--assume-items", "1000000000", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["assumptions"]["assume_items"] == 1_000_000_000
