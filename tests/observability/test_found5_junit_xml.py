"""junit.xml that every CI test reporter can read, whatever a step printed, through the real CLI.

Found by trying it: a command step whose stderr held U+FFFE (three valid UTF-8 bytes, a BOM
written the wrong way round) wrote it into the failure's message and text. XML 1.0 cannot carry
that character even escaped, so the whole file was unreadable: Jenkins, GitLab and the GitHub
reporters showed no test results at all for a run that failed. Now every character XML 1.0
cannot carry is dropped from the document; markup characters are escaped as before.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
import xml.sax
from pathlib import Path

import pytest

from tests.conftest import RunCli

# Printed by the step: a long first line, then markup, a CDATA end, C0 controls and the two
# non-characters.
STDERR = "x" * 7_000 + "\na ]]> & <b> \"q\" 'q' \x01\x1b[31m \ufffe \uffff end\nlast <&>\x0b"

WORKFLOW = """\
version: 1
name: junit-check
steps:
  shout:
    run: [python3, -c, "import sys; sys.stderr.write(sys.argv[1]); sys.exit(3)", "{stderr}"]
  fine:
    run: [python3, -c, "print('ok')"]
"""


def _workflow() -> str:
    # The stderr text reaches the program as an argument (YAML's "\\u" escapes spell it).
    escaped = json.dumps(STDERR, ensure_ascii=True)[1:-1]
    return WORKFLOW.replace("{stderr}", escaped)


@pytest.fixture
def junit(run_cli: RunCli, tmp_path: Path) -> bytes:
    (tmp_path / "wf.yaml").write_text(_workflow(), encoding="utf-8")
    result = run_cli("run", "wf.yaml", "-q", "--report-dir", "rd")
    assert result.returncode == 1, result.stderr
    return (tmp_path / "rd" / "junit.xml").read_bytes()


def test_junit_xml_parses_whatever_a_step_printed(junit: bytes) -> None:
    xml.sax.parseString(junit, xml.sax.ContentHandler())  # expat: refuses what is not XML 1.0
    root = ET.fromstring(junit)
    [case] = [c for c in root.iter("testcase") if c.get("name") == "shout"]
    failure = case.find("failure")
    assert failure is not None and failure.text is not None
    # Markup characters come back as written; only what XML cannot carry is gone.
    assert "a ]]> & <b> \"q\" 'q' [31m   end" in failure.text
    assert failure.text.endswith("\nlast <&>") and "x" * 7_000 in failure.text
    assert failure.get("message") == "step shout: python3 exited with code 3: last <&>"


def test_junit_counts_agree_with_report_json(junit: bytes, tmp_path: Path) -> None:
    report = json.loads((tmp_path / "rd" / "report.json").read_text(encoding="utf-8"))
    suite = ET.fromstring(junit).find("testsuite")
    assert suite is not None
    statuses = [step["status"] for step in report["steps"].values()]
    # One case per step and the run's own; the failed step and the failed run fail.
    assert suite.get("tests") == str(len(statuses) + 1) == "3"
    assert suite.get("failures") == str(statuses.count("failed") + 1) == "2"
    assert (suite.get("errors"), suite.get("skipped")) == ("0", "0")
