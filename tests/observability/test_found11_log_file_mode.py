"""`--log-file` holds what the run directory's files hold (prompts, model replies, outputs:
`item_succeeded ... output=...`), which docs/observability.md keeps `0600` for a machine
several people share; the log file was created `0644` (the umask's), readable by every user.
A log file agnoctl creates is now its owner's only, as the run directory's files are."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.conftest import RunCli

FLOW = """\
version: 1
name: t
agents:
  a: {model: mock/x}
steps:
  s: {agent: a, prompt: private prompt}
"""


def test_a_new_log_file_is_readable_by_its_owner_only(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    done = run_cli("run", "flow.yaml", "-q", "--log-file", "logs/run.log", "--report-dir", "out")
    assert done.returncode == 0, done.stderr
    log = tmp_path / "logs" / "run.log"
    assert "private prompt" in log.read_text(encoding="utf-8")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
