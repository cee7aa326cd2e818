"""A ``--log-file`` that cannot be a file, through the real CLI.

Found by the first pass: ``--log-file k9`` where ``k9`` is a directory failed with
``error: k9: Is a directory`` and exit 1, as if the run had failed, without saying that k9 was
the log file. Now it is a usage error (exit 2) naming the option, and nothing runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_found_log_file import WORKFLOW
from tests.conftest import RunCli


@pytest.mark.parametrize(
    ("log_file", "reason"),
    [("k9", "Is a directory"), ("plain/run.log", "plain: File exists")],
    ids=["a-directory", "below-a-file"],
)
def test_a_log_file_that_cannot_be_written_is_a_usage_error(
    run_cli: RunCli, tmp_path: Path, log_file: str, reason: str
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW, encoding="utf-8")
    (tmp_path / "k9").mkdir()
    (tmp_path / "plain").write_text("", encoding="utf-8")
    result = run_cli("run", "wf.yaml", "-q", "--report-dir", "out", "--log-file", log_file)
    assert result.returncode == 2, result.stderr
    assert f"error: --log-file {log_file} cannot be written: {reason}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # refused before the run started
