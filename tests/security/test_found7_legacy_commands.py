"""GitHub's runner obeys `##[error]...` (its older form of workflow command) anywhere in a line
of a job's log, not only at a line's start as `::error::`. A model's reply or a command's
output holding it reached the log through the run's log lines (`-v`, `--log-format json`),
its plain lines and its final line: each would raise an annotation on the job. Found by
checking the runner's parser after the CI pass flattened reasons to one line. Text from
outside now shows the marker as `#\\u0023[` (JSON stays JSON meaning the same)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests import forkcli

FLOW = """\
version: 1
name: legacy
agents:
  w: {model: mock/echo}
steps:
  said: {agent: w, prompt: "##[error]forged by a model"}
  printed: {run: [sh, -c, "echo '##[warning]forged by a command' >&2; exit 3"]}
"""


@pytest.mark.parametrize(
    "options",
    [(), ("-v",), ("-v", "--log-format", "json"), ("--progress", "plain")],
    ids=["plain", "log", "json-log", "progress"],
)
def test_no_line_of_the_log_holds_a_legacy_workflow_command(
    tmp_path: Path, options: tuple[str, ...]
) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    done = forkcli.run(
        ["run", "flow.yaml", "--report-dir", "out", *options],
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 1, done.stderr
    log = done.stdout + done.stderr
    assert "##[" not in log
    if "-v" in options:  # the reply is logged: shown, obeying nothing
        assert "forged by a model" in log
    if "json" in options:
        lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
        said = [line for line in lines if line.get("step") == "said" and "output" in line]
        assert said and said[0]["output"] == "##[error]forged by a model"  # JSON means the same
