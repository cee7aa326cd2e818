"""What a journal line holds, byte for byte, and when it reaches the disk.

- ``ts`` is the event's time as ``datetime`` writes it, in milliseconds;
- a line is the event as a dict (``seq``, ``ts``, ``run_id``, ``type``, then its fields with
  the None ones left out), compact JSON through the redactor; listeners get the dict itself;
- orjson's lines read back as the standard encoder's do; NaN becomes null, and older lines
  holding NaN still read;
- inside an event loop a turn's lines are written together by the next turn, outside at once.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agnoctl import events
from agnoctl.events import EventSink, encode_line, read_events, utc_iso
from agnoctl.redact import Redactor

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _iso(ms: int) -> str:
    moment = EPOCH + datetime.timedelta(milliseconds=ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.mark.parametrize(
    "ms",
    [0, 7, 999, 1000, 59_999, 1_738_324_800_000, 1_738_324_800_123, 1_738_324_859_999],
)
def test_a_millisecond_is_written_as_datetime_writes_it(ms: int) -> None:
    assert utc_iso(ms) == _iso(ms)
    assert utc_iso(ms + 1) == _iso(ms + 1)  # the next one, from the same second's text
    assert utc_iso(ms) == _iso(ms)


# Times in nanoseconds: twice the same millisecond, the next one, the next second, a later day.
CLOCK = [
    1_738_324_800_123_000_001,
    1_738_324_800_123_999_999,
    1_738_324_800_124_000_000,
    1_738_324_801_124_500_000,
    1_738_411_200_000_000_000,
]
EMITTED: list[tuple[str, dict[str, Any]]] = [
    ("step_started", {"step": "a", "item": None, "iteration": None, "items": None}),
    (
        "llm_call",
        {"step": "a", "item": 0, "agent": "w", "cost": 0.0, "error": None, "cached": False},
    ),
    ("step_succeeded", {"step": "a", "output": {"secret": "key-123456", "n": [1, None]}}),
    ("step_succeeded", {"step": "b", "output": 2**80, "reason": ""}),  # the standard encoder
    ("run_finished", {"status": "passed", "fingerprint": None}),
]


def _slow_line(seq: int, ns: int, kind: str, fields: dict[str, Any], redactor: Redactor) -> bytes:
    event = {"seq": seq, "ts": _iso(ns // 1_000_000), "run_id": "r-1", "type": kind}
    event.update({key: value for key, value in fields.items() if value is not None})
    return redactor.redact(encode_line(event).decode()).encode()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    ticks = iter(CLOCK)
    monkeypatch.setattr(events.time, "time_ns", lambda: next(ticks))
    yield


@pytest.mark.usefixtures("clock")
@pytest.mark.parametrize("secrets", [[], ["key-123456"]])
def test_each_line_is_the_event_built_and_encoded_the_slow_way(
    tmp_path: Path, secrets: list[str]
) -> None:
    redactor = Redactor(secrets)
    heard: list[dict[str, Any]] = []
    sink = EventSink(
        tmp_path / "events.jsonl",
        "r-1",
        redact=redactor.redact if redactor else None,
        listeners=(heard.append,),
        last_seq=4,
    )
    for kind, fields in EMITTED:
        sink.emit(kind, **fields)
    sink.close()
    expected = [
        _slow_line(5 + number, ns, kind, fields, redactor)
        for number, (ns, (kind, fields)) in enumerate(zip(CLOCK, EMITTED, strict=True))
    ]
    assert (tmp_path / "events.jsonl").read_bytes() == b"".join(expected)
    # Listeners get the event itself, unredacted: the dict the line was encoded from.
    assert [redactor.redact(encode_line(event).decode()).encode() for event in heard] == expected


@pytest.mark.parametrize(
    "value",
    [
        {"output": "é ✓ \u2028 \x00", "n": [1, 2.5, -0.0, 1e-7, 1e22], "m": {1: "a", None: 2}},
        {"big": 2**80, "nested": {"t": (1, 2), "s": ["x"]}},
        {"date": datetime.date(2024, 1, 2), "set": {3}},
    ],
)
def test_journal_lines_read_back_as_the_standard_encoders_do(value: dict[str, Any]) -> None:
    event = {"seq": 1, "type": "step_succeeded", "output": value}
    line = encode_line(event)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    standard = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=_default)
    assert json.loads(line) == json.loads(standard)


def _default(value: object) -> object:
    return sorted(value) if isinstance(value, set) else str(value)


def test_nan_is_written_as_null_and_older_nan_lines_still_read(tmp_path: Path) -> None:
    assert json.loads(encode_line({"x": math.nan})) == {"x": None}
    journal = tmp_path / "events.jsonl"
    journal.write_bytes(b'{"seq":1,"x":NaN}\n{"seq":2}\n{"seq":3,"torn"')
    events = list(read_events(journal))
    assert [e["seq"] for e in events] == [1, 2] and math.isnan(events[0]["x"])


@pytest.mark.anyio
async def test_in_a_loop_a_turns_events_are_on_disk_by_the_next_turn(tmp_path: Path) -> None:
    import anyio

    journal = tmp_path / "events.jsonl"
    sink = EventSink(journal, "r")
    for number in range(3):
        sink.emit("step_started", step=f"s{number}")
    assert journal.read_bytes() == b""  # one write for the turn, not one per event
    await anyio.sleep(0)
    assert [e["seq"] for e in read_events(journal)] == [1, 2, 3]
    for number in range(300):  # a long turn (a chain of mock steps) does not wait for its end
        sink.emit("step_started", step=f"t{number}")
    assert len(list(read_events(journal))) == 3 + 256
    sink.close()  # the rest, before the fsync
    assert [e["seq"] for e in read_events(journal)] == list(range(1, 304))


def test_outside_a_loop_every_event_is_on_disk_when_emitted(tmp_path: Path) -> None:
    sink = EventSink(tmp_path / "events.jsonl", "r", redact=lambda s: s.replace("key", "***"))
    sink.emit("step_started", step="a", item=None)
    sink.emit("step_succeeded", step="a", output={"secret": "my key"})
    lines = (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()
    sink.close()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2]
    assert "item" not in json.loads(lines[0]) and "my ***" in lines[1]


# ---------------------------------------------------------------------------- a run's journal

SHAPE_WORKFLOW = """\
version: 1
name: shape
agents: {w: {model: mock/echo}}
defaults:
  retry: {max_attempts: 2, initial_delay: 1ms, max_delay: 2ms}
steps:
  a: {agent: w, prompt: hi}
  fan: {agent: w, needs: [a], for_each: [1, 2], prompt: "{{ item }}"}
  grp:
    needs: [a]
    loop: {max_iterations: 2, until: "loop.iteration >= 2"}
    steps:
      inner: {agent: w, prompt: p}
  bad: {run: ["false"], continue_on_error: true}
  after: {agent: w, needs: [bad], prompt: x}
  cond: {agent: w, if: "false", prompt: x}
  broken: {run: ["false"]}
  blocked: {agent: w, needs: [broken], prompt: x}
"""
SHAPE_FIXTURES = """\
steps:
  fan:
    items:
      1: [{error: {status: 503, message: busy}}, {text: ok}]
"""
# Values that differ from run to run; everything else (names, order, encoding) is pinned.
_VARYING = [
    (re.compile(r'"seq":\d+,'), ""),
    (re.compile(r'"ts":"[^"]*"'), '"ts":"T"'),
    (re.compile(r'"run_id":"[^"]*"'), '"run_id":"R"'),
    (re.compile(r'"(duration_ms|wait_ms|delay)":[0-9.e-]+'), r'"\1":0'),
]


def _by_step(lines: list[str]) -> dict[str, list[str]]:
    """Each step's lines in order: steps that run side by side interleave differently."""
    steps: dict[str, list[str]] = {}
    for line in lines:
        for pattern, replacement in _VARYING:
            line = pattern.sub(replacement, line)
        steps.setdefault(json.loads(line).get("step", ""), []).append(line)
    return steps


def test_a_runs_journal_keeps_its_lines_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resume, reports, `fixtures export` and earlier runs' journals read these lines: every
    event of a run with items, a loop, retries, failures and skips, as it has always been."""
    from typer.testing import CliRunner

    from agnoctl.cli import app

    (tmp_path / "w.yaml").write_text(SHAPE_WORKFLOW, encoding="utf-8")
    (tmp_path / "f.yaml").write_text(SHAPE_FIXTURES, encoding="utf-8")
    run_dir = tmp_path / "run"
    monkeypatch.chdir(tmp_path)  # the file names in the journal are as given
    options = ["--report-dir", str(run_dir), "--seed", "1", "--no-cache", "-q"]
    result = CliRunner().invoke(app, ["run", "w.yaml", "--mock-fixtures", "f.yaml", *options])
    assert result.exit_code == 1, result.output  # `broken` fails the run, as it should
    written = (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    expected = (Path(__file__).parent / "data" / "journal_shape.jsonl").read_text(encoding="utf-8")
    assert _by_step(written) == _by_step(expected.splitlines())
