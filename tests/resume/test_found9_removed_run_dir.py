"""A run directory removed while its run goes on (a cleanup job, `rm -rf .agnoctl`, a step
that clears a folder): the journal went on being written to the removed file, a checkpoint
made the directory again, and the run said `passed` with a run directory that held no
journal, so the record of its work was lost without a word and `--resume latest` found no
run. The run now stops, naming the journal, before it writes its report."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import RunCli


def test_a_run_whose_directory_is_removed_stops_saying_so(tmp_path: Path, run_cli: RunCli) -> None:
    flow = {"version": 1, "name": "gone", "agents": {"a": {"model": "mock/echo"}}}
    flow["steps"] = {
        "first": {"agent": "a", "prompt": "hi"},
        "zap": {"run": ["sh", "-c", "rm -rf .agnoctl/runs/2*"], "needs": ["first"]},
        "after": {"agent": "a", "prompt": "later", "needs": ["zap"]},
    }
    (tmp_path / "flow.yaml").write_text(json.dumps(flow), encoding="utf-8")

    result = run_cli("run", "flow.yaml", "-q", "--no-cache")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "passed" not in result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        r"error: cannot write the journal \.agnoctl/runs/\d{8}T\d{6}Z-[0-9a-f]{6}/events\.jsonl: "
        r"it was removed \(or replaced\) while the run went on, so what the run did since is "
        r"recorded nowhere; fix that and run `agnoctl run flow\.yaml --resume latest`",
        last,
    ), last
    # Nothing was written after: no report made the removed directory again.
    assert list((tmp_path / ".agnoctl" / "runs").glob("2*")) == []
    assert "Traceback" not in result.stderr
