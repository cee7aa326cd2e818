"""junit.xml: a failure the run tolerated is not a failed test.

Found by running a passing workflow (exit 0) with a ``continue_on_error`` step, a group and a
for_each that met their ``success_threshold``: junit.xml held ``<failure>`` for each failure
the run let through (the step, the group's failed child, the failed item's child, the failed
gate of an item), and ``failures="4"``. Jenkins marks such a build unstable, GitLab's merge
request widget and the GitHub test reporters show failed tests for a green run. Now such a
test case passes and says in ``<system-out>`` that it failed and was tolerated, as a warned
gate does (and as ``--format github`` makes them warnings); a failure that fails the run is
still a ``<failure>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from tests.conftest import RunCli

_TOLERATED = """\
version: 1
name: tolerated
agents:
  a: {model: mock/echo}
steps:
  flaky:
    run: [sh, -c, "echo boom >&2; exit 3"]
    continue_on_error: true
  half:
    success_threshold: 0.5
    steps:
      ok: {run: [echo, ok]}
      bad: {run: [sh, -c, "exit 1"]}
  fan:
    for_each: "[1, 2, 3]"
    success_threshold: 0.6
    steps:
      inner: {run: [sh, -c, "test {{ item }} != 2"]}
  graded:
    for_each: "['yes', 'no', 'yes']"
    success_threshold: 0.6
    agent: a
    prompt: "{{ item }}"
    gates: [{type: contains, value: "yes"}]
"""


def _cases(path: Path) -> dict[str, ET.Element]:
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    return {case.get("name", ""): case for case in suite.iter("testcase")}


def test_tolerated_failures_pass_and_say_so(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(_TOLERATED, encoding="utf-8")
    result = run_cli("run", "wf.yaml", "--report-dir", "r", "-q")
    assert result.returncode == 0, result.stderr
    root = ET.parse(tmp_path / "r" / "junit.xml").getroot()
    assert root.get("failures") == "0", ET.tostring(root, encoding="unicode")
    cases = _cases(tmp_path / "r" / "junit.xml")
    tolerated = {
        "flaky": "step flaky: sh exited with code 3: boom",
        "half.bad": "step half.bad: sh exited with code 1",
        "fan[1].inner": "step fan[1].inner: sh exited with code 1",
        'graded[1] gate contains "yes"': "yes",
    }
    for name, message in tolerated.items():
        case = cases[name]
        assert case.find("failure") is None and case.find("skipped") is None, name
        out = case.findtext("system-out") or ""
        assert out.startswith("failed, tolerated"), (name, out)
        assert message in out, (name, out)
    assert "boom" in (cases["flaky"].findtext("system-out") or "")  # its stderr, as a failure's
    assert cases["fan[0].inner"].find("system-out") is None


def test_a_failure_that_fails_the_run_stays_a_failure(run_cli: RunCli, tmp_path: Path) -> None:
    workflow = _TOLERATED.replace("success_threshold: 0.5", "success_threshold: 0.9")
    (tmp_path / "wf.yaml").write_text(workflow, encoding="utf-8")
    result = run_cli("run", "wf.yaml", "--report-dir", "r", "-q")
    assert result.returncode == 1, result.stderr
    cases = _cases(tmp_path / "r" / "junit.xml")
    for name in ("(run)", "half", "half.bad"):
        assert cases[name].find("failure") is not None, name
    assert cases["flaky"].find("failure") is None


def test_summary_md_says_which_failures_were_tolerated(run_cli: RunCli, tmp_path: Path) -> None:
    """summary.md of the same passing run listed the three failed steps under "Failures" as a
    failed run's would be; now each says it was tolerated."""
    (tmp_path / "wf.yaml").write_text(_TOLERATED, encoding="utf-8")
    assert run_cli("run", "wf.yaml", "--report-dir", "r", "-q").returncode == 0
    lines = (tmp_path / "r" / "summary.md").read_text(encoding="utf-8").splitlines()
    failures = [line for line in lines if line.startswith("- **")]
    assert [line.split(":", 1)[0] for line in failures] == [
        "- **flaky** (tolerated)",
        "- **half.bad** (tolerated)",
        "- **fan[1].inner** (tolerated)",
    ], failures
