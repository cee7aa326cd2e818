"""A decision given again on a run that already passed, through the real CLI.

Found by trying it: docs/approvals.md says a decision on the command line always wins, and
giving it again on a later resume decides again; but once the run had passed,
``--resume latest --reject STEP`` printed "already passed and nothing changed since: nothing
to resume" and exited 0: the rejection was dropped without a word, and what the approval had
let run stayed as it was. Now the run is resumed: the step is decided again, recorded in the
journal, and what depends on it runs (or is skipped) again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: decide-again
agents:
  a: {model: mock/echo}
steps:
  draft: {agent: a, prompt: draft}
  ok:
    needs: [draft]
    approval: {message: "publish {{ steps.draft.output }}?"}
  publish:
    needs: [ok]
    if: steps.ok.output.approved
    run: [echo, published]
"""


def report(tmp_path: Path) -> dict[str, Any]:
    latest = tmp_path / ".agnoctl" / "runs" / "latest" / "report.json"
    data: dict[str, Any] = json.loads(latest.read_text(encoding="utf-8"))
    return data


def test_a_rejection_after_an_approval_decides_again(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    assert run_cli("run", "wf.yaml", "-q", "--no-input").returncode == 75
    approved = run_cli("run", "wf.yaml", "-q", "--resume", "latest", "--approve", "ok")
    assert approved.returncode == 0, approved.stderr
    assert report(tmp_path)["steps"]["publish"]["status"] == "succeeded"

    rejected = run_cli(
        "run", "wf.yaml", "-q", "--resume", "latest", "--reject", "ok", "--reason", "wrong"
    )
    assert rejected.returncode == 0, rejected.stderr
    assert "nothing to resume" not in rejected.stdout
    after = report(tmp_path)
    assert after["steps"]["ok"]["output"]["approved"] is False
    assert after["steps"]["ok"]["output"]["reason"] == "wrong"
    assert after["steps"]["publish"]["status"] == "skipped"
    assert [(a["approved"], a["how"]) for a in after["approvals"]] == [
        (True, "flag"),
        (False, "flag"),
    ]
    # Without a decision, a run that passed is still left as it is.
    again = run_cli("run", "wf.yaml", "-q", "--resume", "latest")
    assert again.returncode == 0
    assert "nothing to resume" in again.stdout
