"""``--format github``: a failure the run tolerated is a warning all the way down.

Found by cross-checking a passing run's annotations against its report (the reports pass): a
group with ``continue_on_error`` was annotated as a warning, and its failed child, the very
failure it let through, as an ``::error`` on a run that passed; so was the failed child of a
group that met its ``success_threshold`` (a for_each item in its place is a warning), and the
failed gate of a ``continue_on_error`` step. The job page showed errors for a green run.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RunCli

_WORKFLOW = """\
version: 1
name: tolerated
agents:
  a: {model: mock/echo}
steps:
  soft:
    continue_on_error: true
    steps:
      bad: {run: [sh, -c, "exit 2"]}
  half:
    success_threshold: 0.5
    steps:
      ok: {run: [echo, ok]}
      bad: {run: [sh, -c, "exit 3"]}
  gated:
    agent: a
    prompt: hello
    gates: [{type: contains, value: zzz}]
    continue_on_error: true
"""


def test_tolerated_failures_are_warnings(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(_WORKFLOW, encoding="utf-8")
    result = run_cli("run", "wf.yaml", "--report-dir", "r", "-q", "--format", "github")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("::")]
    titles = {line.split("title=", 1)[1].split("::", 1)[0]: line.split(" ", 1)[0] for line in lines}
    assert titles == {
        "agnoctl%3A step soft failed": "::warning",
        "agnoctl%3A step soft.bad failed": "::warning",
        "agnoctl%3A step half.bad failed": "::warning",
        "agnoctl%3A step gated failed": "::warning",
        'agnoctl%3A gate contains "zzz" failed on gated': "::warning",
    }, result.stdout
