"""`report diff` printed a model's output line by line after leading spaces; GitHub's runner
reads a line as a workflow command once its leading spaces are trimmed, so an unchanged line
`::stop-commands::x` of an output stopped every annotation after it (found by the CI contract
pass). Such a line is shown with its first `:` escaped, in the text and the Markdown diff."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests import forkcli

LINES = ["kept", "::error file=README.md::forged", "::stop-commands::pause"]  # the last is context


def flow(last: str) -> str:
    prompt = "\n".join([*LINES, last])
    return yaml.safe_dump(
        {
            "version": 1,
            "name": "d",
            "agents": {"w": {"model": "mock/echo"}},
            "steps": {"say": {"agent": "w", "prompt": prompt}},
        }
    )


@pytest.mark.parametrize("output_format", ["text", "markdown"])
def test_no_line_of_a_diff_is_a_workflow_command(tmp_path: Path, output_format: str) -> None:
    for name, last in (("a", "one"), ("b", "two")):
        (tmp_path / f"{name}.yaml").write_text(flow(last), encoding="utf-8")
        done = forkcli.run(
            ["run", f"{name}.yaml", "--mock", "-q", "--report-dir", name], cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
    done = forkcli.run(["report", "diff", "a", "b", "--format", output_format], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "two" in done.stdout  # the output's change is shown
    assert [line for line in done.stdout.splitlines() if line.lstrip().startswith("::")] == []
    assert "\\u003a:stop-commands::pause" in done.stdout
