"""A big fan-out inside a loop: the run's files are all written and read back.

Found by running a loop whose child fans out over more than 1,000 items (the reports pass):
every iteration wrote its items to items.jsonl under the same step path, so the file held
2,002 items of `lp.fan` where report.json said 1,001. The run that passed ended with exit 2
("the run's items cannot be read whole"), without junit.xml or metrics.prom, and `report show`
failed the same way. A fan-out inside a loop now keeps its items in report.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

_WORKFLOW = """\
version: 1
name: loopbig
agents:
  a: {model: mock/echo}
steps:
  lp:
    loop: {max_iterations: 2, until: "false"}
    steps:
      fan:
        for_each: "range(1001) | list"
        agent: a
        prompt: "i {{ item }} {{ loop.iteration }}"
"""


def test_a_big_fan_out_in_a_loop_writes_every_file(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(_WORKFLOW, encoding="utf-8")
    result = run_cli("run", "wf.yaml", "--report-dir", "r", "-q")
    assert result.returncode == 0, result.stderr
    run = tmp_path / "r"
    assert (run / "junit.xml").is_file() and (run / "metrics.prom").is_file()
    report = json.loads((run / "report.json").read_text(encoding="utf-8"))
    loop = report["steps"]["lp"]["loop"]
    for iteration in loop["history"]:
        items = iteration["steps"]["fan"]["items"]
        assert [item["index"] for item in items] == list(range(1001))
    shown = run_cli("report", "show", "r")
    assert shown.returncode == 0, shown.stderr
