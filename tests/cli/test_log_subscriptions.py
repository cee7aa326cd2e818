"""The run's log is told of the event types that can reach the level it logs, and no others
(``LogOptions.listener``): at each verbosity it logs what it logged when told of every event."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from issue5 import DATA

from agnoctl.events import (
    EVENT_CLASSES,
    ItemFailed,
    ItemStarted,
    ItemSucceeded,
    LlmCall,
    RunFinished,
    StepStarted,
    read_events,
)
from agnoctl.logs import LogOptions, configure_logging, log_event
from tests import forkcli

ON_FAILURE = DATA / "on-failure.yaml"  # gates that fail (warnings), a retry, calls (debug)
FIXTURES = DATA / "on-failure-fixtures.yaml"


def logged(text: str) -> list[tuple[str, int]]:
    """The events a JSON log holds, by type and place in the journal (the run's other log
    lines carry no ``seq``)."""
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [(line["event"], line["seq"]) for line in lines if "seq" in line]


@pytest.mark.parametrize(
    ("args", "verbosity"),
    [([], 0), (["-v"], 1), (["-vv"], 2), (["--log-file", "run.log"], 1)],
    ids=["warnings", "-v", "-vv", "log file"],
)
def test_a_run_logs_what_every_event_would_log(
    tmp_path: Path, args: list[str], verbosity: int
) -> None:
    argv = ["run", str(ON_FAILURE), "--mock-fixtures", str(FIXTURES), "--report-dir", "run"]
    argv += ["--no-cache", "-q", "--log-format", "json", *args]
    done = forkcli.run(argv, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr
    log = (tmp_path / "run.log").read_text() if "--log-file" in args else done.stderr

    every = tmp_path / "every.log"
    with configure_logging(log_format="json", verbosity=verbosity, log_file=every):
        for entry in read_events(tmp_path / "run" / "events.jsonl"):
            log_event(entry)
    expected = logged(every.read_text())
    assert logged(log) == expected
    kinds = {kind for kind, _ in expected}
    assert ("gate_result" in kinds) and ("llm_call" in kinds) == (verbosity == 2)


def test_a_fan_outs_debug_events_are_not_looked_at_under_v() -> None:
    told = LogOptions(verbosity=1).listener().types
    assert not any(issubclass(kind, told) for kind in (ItemStarted, LlmCall, StepStarted))
    assert all(issubclass(kind, told) for kind in (ItemSucceeded, ItemFailed, RunFinished))
    assert LogOptions(verbosity=2).listener().types == tuple(EVENT_CLASSES.values())
