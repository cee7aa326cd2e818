"""The terminal is told of the event types its output mode shows, and no others
(``Terminal.event`` is an ``events.Subscription``): what each mode prints is what it printed
when it was told of every event."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from agnoctl import events
from agnoctl.events import Event, read_events
from agnoctl.terminal import LiveText, PlainLines, Terminal, Watch
from tests import forkcli

FLOW = {
    "version": 1,
    "name": "told",
    "agents": {"w": {"model": "mock/echo"}},
    "steps": {
        "fan": {"agent": "w", "for_each": "range(30)", "prompt": "item {{ item }}"},
        "last": {"agent": "w", "needs": ["fan"], "prompt": "done"},
    },
}


def run(folder: Path, *args: str) -> tuple[str, Path]:
    """``agnoctl run`` of FLOW with its output to a pipe: what it printed, and its journal."""
    path = folder / "flow.yaml"
    path.write_text(yaml.safe_dump(FLOW), encoding="utf-8")
    done = forkcli.run(
        ["run", str(path), "--mock", "--report-dir", "run", *args],
        cwd=folder,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, folder / "run" / "events.jsonl"


def every_event() -> list[Event]:
    """One event of each type, about the task ``fan`` item 1 where the type is about a task."""
    made: list[Event] = []
    for kind in sorted(events.EVENT_TYPES):
        entry = events.parse_line(f'{{"seq":1,"type":"{kind}","step":"fan","item":1}}'.encode())
        assert entry is not None, kind
        made.append(entry.event)
    return made


def test_a_quiet_terminal_is_told_of_no_event() -> None:
    # Under -q it shows the verdict alone: a fan-out's events cost it nothing.
    assert Terminal("quiet", stream=io.StringIO()).event.types == ()


def test_a_quiet_run_prints_its_verdict_alone(tmp_path: Path) -> None:
    out, _ = run(tmp_path, "-q")
    assert out.splitlines() == ["passed: 2 of 2 steps succeeded (1.00) (run dir: run)"]


def test_plain_lines_are_those_of_every_event(tmp_path: Path) -> None:
    out, journal = run(tmp_path)
    every = PlainLines()
    told = "".join(every.lines(entry) for entry in read_events(journal))
    assert out.startswith(told)
    assert Terminal("plain", stream=io.StringIO()).event.types == (Event,)


def noted(watch: Watch, text: LiveText) -> list[dict[Any, Any]]:
    """What the live display draws from events, as it stands."""
    kept = (watch.retries, watch.paused, watch.throttled, watch.breakers, text.texts)
    return [dict(held) for held in kept]


@pytest.mark.parametrize("kind", sorted(events.EVENT_TYPES))
def test_the_live_display_is_told_of_every_event_that_changes_it(kind: str) -> None:
    """Each event type the live terminal is not told of leaves its notes and texts as they
    were: a retry waiting, a provider held back, a breaker open, a task's text."""
    event = next(e for e in every_event() if e.type == kind)
    watch, text = Watch(), LiveText(every=True)
    watch.retries[("fan", 1)] = (2, 3, 0.0)
    watch.paused["mock"] = (0.0, "429")
    watch.throttled["mock"] = 1
    watch.breakers["mock"] = "open"
    text.texts[("fan", 1)] = "so far"
    before = noted(watch, text)
    watch.event(event)
    text.event(event)
    after = noted(watch, text)
    told = isinstance(event, Terminal("live", stream=io.StringIO()).event.types)
    assert told or after == before, f"{kind} changes the live display but is not told"
