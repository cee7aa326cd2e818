"""``agnoctl report show`` lists the gates of a fan-out's items, as junit.xml does.

Found by cross-checking a run's files against ``report show`` (the reports pass): two of a
for_each step's three items failed their gate (junit.xml held a failed testcase for each),
and ``report show``, "every step, its gates", printed no gates table at all: it read the
gates of steps, and a fan-out's gates are its items'. A big fan-out (items in items.jsonl)
is summed up per gate, as junit.xml groups it.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RunCli

_WORKFLOW = """\
version: 1
name: fangates
agents:
  a: {{model: mock/echo}}
steps:
  fan:
    for_each: "range({count}) | list"
    agent: a
    prompt: "item {{{{ item }}}}"
    gates: [{{type: regex, pattern: "item 1$"}}]
    success_threshold: 0
"""


def _show(run_cli: RunCli, tmp_path: Path, count: int) -> str:
    (tmp_path / "wf.yaml").write_text(_WORKFLOW.format(count=count), encoding="utf-8")
    result = run_cli("run", "wf.yaml", "--report-dir", "r", "-q")
    assert result.returncode == 0, result.stderr
    shown = run_cli("report", "show", "r", env={"COLUMNS": "200"})  # a row on one line
    assert shown.returncode == 0, shown.stderr
    return shown.stdout


def test_report_show_lists_each_items_gates(run_cli: RunCli, tmp_path: Path) -> None:
    out = _show(run_cli, tmp_path, 3)
    assert "gates" in out
    rows = [line for line in out.splitlines() if "fan[" in line]
    assert len(rows) == 3, out
    assert sum("failed (fail)" in row for row in rows) == 2, out
    assert "passed" in next(row for row in rows if "fan[1]" in row), out


def test_report_show_sums_up_a_big_fan_outs_item_gates(run_cli: RunCli, tmp_path: Path) -> None:
    out = _show(run_cli, tmp_path, 1001)
    assert (tmp_path / "r/items.jsonl").is_file()
    [row] = [line for line in out.splitlines() if "fan[*]" in line]
    assert "1000 of 1001 failed (fail)" in row, out


def test_report_show_lists_every_loop_iterations_gates(run_cli: RunCli, tmp_path: Path) -> None:
    """A loop's child checked in three iterations: three rows, each naming its iteration (the
    table held the last iteration's check alone)."""
    (tmp_path / "wf.yaml").write_text(
        "version: 1\nname: loopy\nagents:\n  a: {model: mock/echo}\nsteps:\n  lp:\n"
        "    loop: {max_iterations: 3, until: 'false'}\n    steps:\n      x:\n"
        "        agent: a\n        prompt: 'draft {{ loop.iteration }}'\n"
        "        gates: [{type: contains, value: 'draft 2'}]\n        on_gate_failure: warn\n",
        encoding="utf-8",
    )
    assert run_cli("run", "wf.yaml", "--report-dir", "r", "-q").returncode == 0
    shown = run_cli("report", "show", "r", env={"COLUMNS": "200"}).stdout
    rows = [line for line in shown.splitlines() if "lp.x (iteration" in line]
    assert len(rows) == 3, shown
    assert "passed" in next(row for row in rows if "(iteration 2)" in row), shown
    assert sum("failed (warn)" in row for row in rows) == 2, shown


def test_report_show_refuses_a_damaged_items_file(run_cli: RunCli, tmp_path: Path) -> None:
    """Its gates read, a lost line is refused with the reader's error (exit 2), never a
    traceback."""
    _show(run_cli, tmp_path, 1001)
    items = tmp_path / "r/items.jsonl"
    items.write_text("".join(items.read_text(encoding="utf-8").splitlines(True)[:-1]))
    shown = run_cli("report", "show", "r")
    assert shown.returncode == 2
    assert "1,000 items of step fan, where report.json says 1,001" in shown.stderr
    assert "Traceback" not in shown.stderr
