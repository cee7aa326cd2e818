"""summary.md counts each model call on one row, as ``agnoctl report show`` does.

Found by comparing the two on a run with a group, a loop and a for_each of groups: summary.md's
group row held the group's roll-up (report.json's figure, its children's calls included) and
then each child its own, so the tokens column counted every call twice (three times in a nested
group) and added up to more than the run's total in the line above it; a loop showed only its
last iteration's children, so the rest of its calls had no row. ``report show`` gives a group
its own calls only (its judge gates) and lists each iteration. Now summary.md does too: the
column adds up to report.json's total, row for row the figures ``report show`` prints. A
``uses:`` step (found next) was counted twice in both: its row now holds its own calls too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import RunCli

_WORKFLOW = """\
version: 1
name: tokens
agents:
  a: {model: mock/echo}
steps:
  outer:
    steps:
      one: {agent: a, prompt: first child}
      inner:
        steps:
          two: {agent: a, prompt: the nested child}
  again:
    loop: {max_iterations: 2, until: "false"}
    steps:
      say: {agent: a, prompt: "pass {{ loop.iteration }}"}
  fan:
    for_each: "['x', 'y']"
    steps:
      each: {agent: a, prompt: "item {{ item }}"}
  sub:
    uses: sub.yaml
  subs:
    for_each: "['x', 'y']"
    uses: sub.yaml
"""

_SUB = """\
version: 1
name: sub
agents:
  a: {model: mock/echo}
steps:
  inside: {agent: a, prompt: a sub-workflow's step}
"""


def _rows(summary: str) -> list[tuple[str, str]]:
    """The step table: (label, tokens cell) per row."""
    rows = []
    for line in summary.splitlines():
        found = re.fullmatch(r"\| `([^`]+)` \| [^|]+ \| [^|]* \| ([^|]*) \| [^|]* \|", line)
        if found:
            rows.append((found.group(1), found.group(2).strip()))
    return rows


def test_each_call_counts_on_one_row(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(_WORKFLOW, encoding="utf-8")
    (tmp_path / "sub.yaml").write_text(_SUB, encoding="utf-8")
    result = run_cli("run", "wf.yaml", "--report-dir", "r", "-q")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    rows = _rows((tmp_path / "r" / "summary.md").read_text(encoding="utf-8"))
    cells = dict(rows)
    for group in ("outer", "outer.inner", "again", "fan", "again (iteration 1)", "sub", "subs"):
        assert cells[group] == "", (group, rows)
    assert cells["outer.inner.two"] and cells["fan[1].each"]
    assert cells["sub.inside"] and cells["subs[1].inside"]
    # Each iteration's child has its row, the first pass's too.
    assert [label for label, _ in rows].count("again.say") == 2, rows
    assert sum(int(cell) for _, cell in rows if cell) == report["cost"]["total"]["tokens"]


_FLAKY = """\
version: 1
name: again
agents:
  a: {model: mock/echo}
steps:
  first: {agent: a, prompt: first}
  check: {needs: [first], run: [test, -e, flag]}
"""


def test_a_reused_step_says_so(run_cli: RunCli, tmp_path: Path) -> None:
    """Its calls were the first segment's (in the segments table): its row is empty, and
    says why."""
    (tmp_path / "wf.yaml").write_text(_FLAKY, encoding="utf-8")
    assert run_cli("run", "wf.yaml", "--report-dir", "r", "-q").returncode == 1
    (tmp_path / "flag").touch()
    result = run_cli("run", "wf.yaml", "--resume", "r", "-q")
    assert result.returncode == 0, result.stderr
    summary = (tmp_path / "r" / "summary.md").read_text(encoding="utf-8")
    assert "| `first` | ✅ succeeded · reused |  |  |  |" in summary, summary
