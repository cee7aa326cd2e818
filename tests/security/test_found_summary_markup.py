"""What a command, a server or a model wrote, quoted by an error in summary.md, through the
real CLI.

Found by trying it: a failing command's stderr went into summary.md's failures (and into
``$GITHUB_STEP_SUMMARY``, the job's page) as Markdown: its HTML closed or opened blocks and
headings, its ``[text](url)`` made a link and its ``![](url)`` an image the page fetches (a
tracking pixel, a phishing link under the job's name). An approval's message was already shown
as text; an error now is too: what starts HTML, a link or an image is escaped.
"""

from __future__ import annotations

import os
from pathlib import Path

from markdown_it import MarkdownIt

from tests.security.cli import agnoctl

PAYLOAD = (
    "</details><h1>PWNED</h1> | cell | [click](https://evil.example/a) "
    "![pixel](https://evil.example/t.png) <https://evil.example/b> C:\\\\[dir]"
)

WORKFLOW = """\
version: 1
name: markup
steps:
  c:
    run: [sh, -c, "printf '%s' \\"$PAYLOAD\\" >&2; exit 3"]
"""


def test_an_errors_markup_is_shown_as_text(tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    result = agnoctl(
        tmp_path,
        "run",
        "wf.yaml",
        "-q",
        "--report-dir",
        "out",
        env={**os.environ, "PAYLOAD": PAYLOAD},
    )
    assert result.returncode == 1
    summary = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    html = MarkdownIt("commonmark").enable("table").render(summary)

    assert "<h1>" not in html and "</details>" not in html
    assert "<a " not in html and "<img" not in html
    assert "PWNED" in html and "https://evil.example/t.png" in html  # shown, as text
    # Each character is shown as written.
    assert "&lt;h1&gt;PWNED&lt;/h1&gt; | cell | [click](https://evil.example/a)" in html
    assert "C:\\\\[dir]" in html  # a backslash stays one
