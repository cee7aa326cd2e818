"""A workflow's own text in `agnoctl plan`'s text and Markdown, through the real CLI.

Found by the validate/plan pass: a model name is any string (`model: "mock/a\\n::warning::e"`),
and the plan printed it as it was, in the steps, models and providers tables: in text, a
line of the file's choosing starting `::`, a GitHub workflow command when a CI log shows the
plan; in Markdown (for pull-request comments) a line out of its table, and `![](url)` or
`[text](url)` an image the comment fetched or a link under the plan's name. A backtick in an
input's value ended the code span it is shown in, and the rest was Markdown. Now each is text:
line breaks shown as `\\n`, link and image openers escaped, the span fenced past any backtick.
"""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: markup
inputs:
  t: {type: string, default: "a` **bold** ![i](https://example.com/i.png) `"}
agents:
  w: {model: "mock/a\\n::warning::e", max_tokens: 10}
  v: {model: "mock/![x](https://example.com/p.png) [go](https://example.com) \\\\](y)"}
steps:
  a: {agent: w, prompt: "{{ inputs.t }}"}
  b: {agent: v, prompt: x, for_each: [1, 2]}
"""


def _plan(run_cli: RunCli, tmp_path: Path, fmt: str) -> str:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("plan", "--format", fmt, "wf.yaml")
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_text_keeps_each_name_on_its_line(run_cli: RunCli, tmp_path: Path) -> None:
    out = _plan(run_cli, tmp_path, "text")
    assert not [line for line in out.splitlines() if line.lstrip().startswith("::")], out
    assert "mock/a\\n::warning::e" in out


def test_markdown_shows_the_files_text_as_text(run_cli: RunCli, tmp_path: Path) -> None:
    out = _plan(run_cli, tmp_path, "markdown")
    tokens = MarkdownIt("commonmark").enable("table").parse(out)
    inline = [child for token in tokens for child in (token.children or [])]
    kinds = {child.type for child in inline}
    assert not kinds & {"image", "link_open"}, kinds
    html = {c.content for c in inline if c.type == "html_inline"}
    assert html == {"<sub>", "</sub>"}  # the assumptions' own
    assert not [line for line in out.splitlines() if line.lstrip().startswith("::")], out
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    header_cells = {len(line.replace("\\|", "").split("|")) for line in rows if "mock/a" in line}
    assert header_cells == {11, 8, 7}  # a steps, a models and a providers row, whole
    # The names read as they are written, as text.
    shown = "".join(c.content for c in inline if c.type == "text")
    assert "mock/a\\n::warning::e" in shown
    assert "mock/![x](https://example.com/p.png) [go](https://example.com) \\](y)" in shown
    assert "**bold** ![i](https://example.com/i.png)" in "".join(
        c.content for c in inline if c.type == "code_inline"
    )
