"""A model's words cannot become GitHub workflow commands in the CI log, through the real CLI.

Found by trying it: a run that failed its gates printed its reason, which quotes the judge's
finding, as it was, newlines included, on the result line and on the plain `run_finished`
line. A judge (a model, or a prompt injection it read) replying ``fine\\n::stop-commands::x``
put that line alone in the job's log, where the GitHub runner obeys it: it stopped every
annotation agnoctl printed after it, and ``::error file=...`` forged one, ``::add-mask::``
hid text and ``::set-output`` set a step output. Now the reason is printed on one line.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: judged
success_threshold: 0.5
agents:
  a: {model: mock/echo}
steps:
  ok: {agent: a, prompt: hi}
  write:
    agent: a
    prompt: hi
    gates:
      - {type: judge, agent: a, rubric: good}
"""

INJECTED = [
    "::stop-commands::pause",
    "::error file=README.md,line=1::forged",
    "::add-mask::judged",
    "::set-output name=verdict::passed",
]


def test_a_judges_reply_starts_no_line_of_the_log(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    reason = "\n".join(["fine", *INJECTED, "\r::warning::after a carriage return"])
    fixtures = {"steps": {"write#judge": {"json": {"score": 0.1, "reason": reason}}}}
    (tmp_path / "fx.yaml").write_text(yaml.safe_dump(fixtures), encoding="utf-8")
    result = run_cli(
        "run", "wf.yaml", "--mock-fixtures", "fx.yaml", "--format", "github", "--progress", "plain"
    )
    assert result.returncode == 1, result.stderr
    log = result.stdout + result.stderr
    commands = [line for line in log.splitlines() if line.lstrip().startswith("::")]
    # Only agnoctl's own annotations, the injected text inside them encoded (%0A).
    assert commands and all(line.startswith("::error ") for line in commands), commands
    assert all("title=agnoctl%3A " in line for line in commands), commands
    flat = "fine " + " ".join(INJECTED)
    result_line = next(line for line in log.splitlines() if line.startswith("failed: "))
    assert flat in result_line
    finished = next(line for line in log.splitlines() if " run_finished " in line)
    assert flat in finished
