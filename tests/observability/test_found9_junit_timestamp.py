"""junit.xml's ``timestamp``: the shape the JUnit schema gives it.

Found by reading the file: agnoctl wrote ``timestamp="2026-12-07T22:39:21.998452+00:00"``.
The JUnit XSD (Ant's format, as the CI reporters document it) types the attribute
``ISO8601_DATETIME_PATTERN``, ``[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}``, "timezone
may not be specified": a validating consumer refused the file, and parsers that read that
pattern dropped the suite's time. Now it is the run's start in UTC, to the second, no zone.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import RunCli

_WORKFLOW = """\
version: 1
name: stamp
steps:
  one: {run: [echo, ok]}
"""


def test_the_timestamp_is_utc_to_the_second_without_a_zone(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(_WORKFLOW, encoding="utf-8")
    result = run_cli("run", "wf.yaml", "--report-dir", "r", "-q", env={"TZ": "Asia/Kolkata"})
    assert result.returncode == 0, result.stderr
    suite = ET.parse(tmp_path / "r" / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    stamp = suite.get("timestamp", "")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", stamp), stamp
    report = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    started = datetime.fromisoformat(report["started"]).astimezone(UTC)
    assert stamp == started.strftime("%Y-%m-%dT%H:%M:%S")
