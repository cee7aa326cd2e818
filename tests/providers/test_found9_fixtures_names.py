"""Fixtures that script what the workflow lacks are refused, as a step it lacks already was
(found by the offline pass): an agent entry naming no agent of the run, `#judge` on a step
that has no judge gate, and a purpose other than `judge` (`analyse#jduge`) were each silently
never used, and the run took the mock's defaults instead of the replies the file scripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: named
agents:
  writer: {model: mock/echo}
  critic: {model: mock/echo}
steps:
  draft: {agent: writer, prompt: hi}
  review:
    agent: writer
    prompt: again
    gates: [{type: judge, agent: critic, rubric: clear, min: 0.5}]
"""


@pytest.mark.parametrize(
    ("fixtures", "message"),
    [
        (
            "agents:\n  writter: {text: a}\n",
            "fixtures.yaml:2:3: mock fixtures name agent 'writter', which the workflow lacks "
            "(did you mean 'writer'?)",
        ),
        (
            "steps:\n  draft#judge: {json: {score: 1, reason: ok}}\n",
            "fixtures.yaml:2:3: mock fixtures script the judge of step 'draft', which has no "
            "judge gate",
        ),
        (
            "steps:\n  review#jduge: {json: {score: 1, reason: ok}}\n",
            "fixtures.yaml:2:3: steps.review#jduge: a step key is a step path such as analyse "
            "or group.child, optionally with #judge",
        ),
    ],
)
def test_a_name_the_run_lacks_is_refused(
    run_cli: RunCli, tmp_path: Path, fixtures: str, message: str
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    (tmp_path / "fixtures.yaml").write_text(fixtures, encoding="utf-8")
    done = run_cli("run", "wf.yaml", "--mock-fixtures", "fixtures.yaml", "-q")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == f"error: {message}\n"
    assert not (tmp_path / ".agnoctl" / "runs").exists()


def test_the_names_the_run_has_are_taken(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    (tmp_path / "fixtures.yaml").write_text(
        "agents:\n  critic: {json: {score: 0.9, reason: fine}}\n"
        "steps:\n  review#judge: {json: {score: 0.2, reason: vague}}\n",
        encoding="utf-8",
    )
    done = run_cli("run", "wf.yaml", "--mock-fixtures", "fixtures.yaml", "-q")
    assert done.returncode == 1, done.stdout + done.stderr  # the judge scored 0.2 < 0.5
