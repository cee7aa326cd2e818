"""summary.md's cost table shows a tag (or a model name) as written, in one cell.

Found by trying tags full of Markdown: ``tags: ["team|a`b <b>x</b>"]`` was written into a code
span as it was, so its ``|`` split the row (GFM splits a table row on a pipe even inside a code
span), its backtick closed the span early and ``<b>x</b>`` reached the job summary page as
HTML. Now each name is a code span that holds it whole: fenced by one backtick more than its
longest run, its pipes escaped, on one line.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RunCli

_WORKFLOW = """\
version: 1
name: names
agents:
  a: {model: mock/echo}
steps:
  s1:
    agent: a
    prompt: hi
    tags: ["team|a`b <b>x</b>", "``lead\\nline"]
"""


def test_a_tag_stays_in_its_cell(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(_WORKFLOW, encoding="utf-8")
    result = run_cli("run", "wf.yaml", "--report-dir", "r", "-q")
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "r" / "summary.md").read_text(encoding="utf-8").splitlines()
    tags = [line for line in lines if line.startswith("| tag |")]
    assert tags == [
        "| tag | ``` ``lead line ``` | 2 | $0.00 |",
        "| tag | ``team\\|a`b <b>x</b>`` | 2 | $0.00 |",
    ], tags
