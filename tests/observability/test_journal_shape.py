"""What a journal line holds, byte for byte, and when it reaches the disk.

- ``ts`` is the event's time as ``datetime`` writes it, in milliseconds;
- a line is the event as a dict (``seq``, ``ts``, ``run_id``, ``type``, then its fields with
  the None ones left out), compact JSON through the redactor; listeners get the entry itself;
- every event type reads back as the event written; a line of an unknown type, or with a
  field missing or of the wrong type, is unreadable; keys an event does not have are ignored;
- orjson's lines read back as the standard encoder's do; NaN becomes null, and older lines
  holding NaN still read;
- inside an event loop a turn's lines are written together by the next turn, outside at once.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agnoctl import events
from agnoctl.events import (
    EVENT_TYPES,
    Entry,
    Event,
    EventSink,
    LlmCall,
    RunFinished,
    StepFailed,
    StepStarted,
    StepSucceeded,
    encode_line,
    parse_line,
    read_events,
    utc_iso,
)
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
EMITTED: list[Event] = [
    StepStarted(step="a", item=None, iteration=None, items=None),
    LlmCall(
        step="a",
        item=0,
        attempt=1,
        purpose="task",
        agent="w",
        provider="mock",
        model="echo",
        cost=0.0,
        error=None,
        cached=False,
        duration_ms=0.5,
    ),
    StepSucceeded(step="a", output={"secret": "key-123456", "n": [1, None]}),
    StepSucceeded(step="b", output=2**80),  # the standard encoder
    RunFinished(status="passed", reason=None, exit_code=0, duration_ms=2.0, cost=0.0),
]


def _slow_line(seq: int, ns: int, event: Event, redactor: Redactor) -> bytes:
    line = {"seq": seq, "ts": _iso(ns // 1_000_000), "run_id": "r-1", "type": event.type}
    for field in dataclasses.fields(event):
        if getattr(event, field.name) is not None:
            line[field.name] = getattr(event, field.name)
    return redactor.redact(encode_line(line).decode()).encode()


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
    heard: list[Entry] = []
    sink = EventSink(
        tmp_path / "events.jsonl",
        "r-1",
        redact=redactor.redact if redactor else None,
        listeners=(heard.append,),
        last_seq=4,
    )
    for event in EMITTED:
        sink.emit(event)
    sink.close()
    expected = [
        _slow_line(5 + number, ns, event, redactor)
        for number, (ns, event) in enumerate(zip(CLOCK, EMITTED, strict=True))
    ]
    assert (tmp_path / "events.jsonl").read_bytes() == b"".join(expected)
    # Listeners get the entry itself, unredacted: what the line was encoded from.
    assert [entry.event for entry in heard] == EMITTED
    lines = [redactor.redact(encode_line(entry.as_dict()).decode()).encode() for entry in heard]
    assert lines == expected


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
    head = b'"ts":"2025-01-31T12:00:00.000Z","run_id":"r","type":"step_succeeded","step":"a"'
    journal.write_bytes(
        b'{"seq":1,' + head + b',"output":NaN}\n{"seq":2,' + head + b'}\n{"seq":3,"torn"'
    )
    entries = list(read_events(journal))
    assert [e.seq for e in entries] == [1, 2]
    first = entries[0].event
    assert isinstance(first, StepSucceeded) and math.isnan(first.output)


@pytest.mark.anyio
async def test_in_a_loop_a_turns_events_are_on_disk_by_the_next_turn(tmp_path: Path) -> None:
    import anyio

    journal = tmp_path / "events.jsonl"
    sink = EventSink(journal, "r")
    for number in range(3):
        sink.emit(StepStarted(step=f"s{number}"))
    assert journal.read_bytes() == b""  # one write for the turn, not one per event
    await anyio.sleep(0)
    assert [e.seq for e in read_events(journal)] == [1, 2, 3]
    for number in range(300):  # a long turn (a chain of mock steps) does not wait for its end
        sink.emit(StepStarted(step=f"t{number}"))
    assert len(list(read_events(journal))) == 3 + 256
    sink.close()  # the rest, before the fsync
    assert [e.seq for e in read_events(journal)] == list(range(1, 304))


def test_outside_a_loop_every_event_is_on_disk_when_emitted(tmp_path: Path) -> None:
    sink = EventSink(tmp_path / "events.jsonl", "r", redact=lambda s: s.replace("key", "***"))
    sink.emit(StepStarted(step="a", item=None))
    sink.emit(StepSucceeded(step="a", output={"secret": "my key"}))
    lines = (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()
    sink.close()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2]
    assert "item" not in json.loads(lines[0]) and "my ***" in lines[1]


def test_listeners_get_an_entry_masked_only_when_its_line_held_a_secret(tmp_path: Path) -> None:
    """The line, which holds every field in its JSON spelling, is masked anyway: an entry
    whose line had nothing to mask reaches the listeners as it is, unwalked; one that had, or
    one with no journal to write, is masked once for every listener."""
    secret = 'sk-é"ab\x1fcdefg'  # non-ASCII and escaped characters: the journal's spelling
    redactor = Redactor([secret])
    walked: list[int] = []

    def mask(entry: Entry) -> Entry:
        walked.append(entry.seq)
        return entry.masked(redactor.redact_obj)

    first: list[Entry] = []
    second: list[Entry] = []
    journal = tmp_path / "events.jsonl"
    sink = EventSink(
        journal, "r", redact=redactor.redact, mask=mask, listeners=(first.append, second.append)
    )
    clean = StepSucceeded(step="a", output={"text": "nothing to hide"})
    sink.emit(clean)
    sink.emit(StepSucceeded(step="b", output={"text": f"the key {secret} leaked"}))
    sink.close()
    assert walked == [2]
    assert first == second and first[0].event is clean
    assert first[1].event.output == {"text": "the key *** leaked"}  # type: ignore[attr-defined]
    assert secret not in journal.read_text(encoding="utf-8")
    assert "the key *** leaked" in journal.read_text(encoding="utf-8")
    without = EventSink(None, "r", redact=redactor.redact, mask=mask, listeners=(first.append,))
    without.emit(StepSucceeded(step="c", output=secret))
    assert walked == [2, 1] and first[-1].event.output == "***"  # type: ignore[attr-defined]


@pytest.mark.parametrize("nested", [1, 2])
def test_a_secret_inside_printed_json_is_masked_for_the_journal_and_listeners(
    tmp_path: Path, nested: int
) -> None:
    """A command that prints its config as JSON puts a password with a quote or a backslash
    in its output escaped; the line escapes it again. Both the line and what the terminal is
    told are masked, however deep the JSON (a listener is told no less than it used to be)."""
    secret = 'qx"zz\\wv-17'
    redactor = Redactor([secret])
    assert redactor.escapes and not Redactor(["sk-plain-key-123"]).escapes
    printed: str = secret
    for _ in range(nested):
        printed = json.dumps({"password": printed})
    told: list[Entry] = []
    journal = tmp_path / "events.jsonl"
    sink = EventSink(
        journal,
        "r",
        redact=redactor.redact,
        mask=lambda entry: entry.masked(redactor.redact_obj),
        escapes=redactor.escapes,
        listeners=(told.append,),
    )
    sink.emit(StepSucceeded(step="a", output=printed))
    sink.close()
    assert "***" in told[0].event.output  # type: ignore[attr-defined]
    if nested == 1:  # the spellings reach one JSON deep in a line
        assert "***" in json.loads(journal.read_text(encoding="utf-8"))["output"]
        assert "qx" not in journal.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------- typed events

# The event types of the journal as it has always been written: the classes name each once.
JOURNAL_TYPES = {
    *("run_started", "run_resumed", "run_finished"),
    *("step_started", "step_skipped", "step_succeeded", "step_failed", "step_reused"),
    *("item_started", "item_skipped", "item_succeeded", "item_failed", "item_reused"),
    *("attempt_started", "attempt_failed", "retry_scheduled", "model_fallback"),
    *("llm_call", "tool_call", "tool_result", "gate_result", "budget_warning"),
    *("loop_iteration_started", "loop_iteration_finished"),
    *("breaker_state", "provider_throttled", "provider_paused"),
    *("approval_requested", "approval_decided"),
}
_SAMPLES: dict[type, object] = {
    str: "x",
    int: 3,
    float: 2.5,
    bool: True,
    dict: {"k": [1]},
    list: [{"k": 1}],
}


def _sample(cls: type[Event]) -> Event:
    """An event of ``cls`` with every field set to a value of its type."""
    values = {}
    for name, allowed in cls.field_types.items():
        kinds = [kind for kind in allowed or (dict,) if kind is not type(None)]
        values[name] = _SAMPLES[float if float in kinds else kinds[0]]
    return cls(**values)


def _classes() -> list[type[Event]]:
    """The event classes ``agnoctl.events`` defines: those that name a type."""
    defined = vars(events).values()
    return [
        c for c in defined if isinstance(c, type) and issubclass(c, Event) and "type" in vars(c)
    ]


def test_the_event_types_are_the_classes_and_each_reads_back_as_written() -> None:
    classes = _classes()
    assert EVENT_TYPES == JOURNAL_TYPES == {cls.type for cls in classes}
    assert len(classes) == len(EVENT_TYPES)  # one class per type
    for cls in classes:
        entry = Entry(7, "2025-01-31T12:00:00.000Z", "r", _sample(cls))
        assert parse_line(encode_line(entry.as_dict())) == entry, cls.type


def _line(**fields: object) -> bytes:
    head = {"seq": 1, "ts": "2025-01-31T12:00:00.000Z", "run_id": "r", "type": "step_started"}
    line = {key: value for key, value in (head | fields).items() if value is not _MISSING}
    return json.dumps(line).encode() + b"\n"


_MISSING = object()


def test_a_reader_keeps_reading_past_what_it_cannot_read(tmp_path: Path) -> None:
    """Keys an event does not have are ignored (a field an older release wrote) and a field a
    line lacks reads as empty; a newer release's event type, a line without its step or a
    field of the wrong type make the line unreadable: passed over, numbered, and the lines
    after it still read."""
    journal = tmp_path / "events.jsonl"
    lines = [  # numbered upwards, as agnoctl numbers them
        _line(seq=1, step="a", retired_field=1),
        _line(seq=2, type="cache_damaged", step="a"),  # a type this release does not know
        _line(seq=3, type="step_failed", step="a", error="boom", ts=_MISSING),  # no kind, ts
        _line(seq=4, step="a", items="two"),
        _line(seq=5, step=["a"]),
        _line(seq=6, step="a", item=True, iteration=None),
        _line(seq="7", step="a"),
        _line(seq=8, run_id=None, step="a"),
        _line(seq=9, type="llm_call", attempt=1),  # which step called?
        _line(seq=10, step="b", items=2),
    ]
    journal.write_bytes(b"".join(lines))
    unreadable: list[int] = []
    entries = list(read_events(journal, unreadable))
    assert [entry.event for entry in entries] == [
        StepStarted(step="a"),
        StepFailed(step="a", error="boom", kind=""),
        StepStarted(step="a", item=True),  # a bool is an int in JSON's and Python's eyes
        StepStarted(step="b", items=2),
    ]
    assert entries[1].ts == "" and entries[1].run_id == "r"
    assert unreadable == [2, 4, 5, 7, 8, 9]


def test_a_listener_sees_an_entry_masked_field_by_field() -> None:
    redactor = Redactor(["key-123456"])
    event = StepSucceeded(step="a", output={"key-123456": ["the key-123456"]}, duration_ms=1.0)
    masked = Entry(1, "t", "r", event).masked(redactor.redact_obj)
    assert masked == Entry(
        1, "t", "r", StepSucceeded(step="a", output={"***": ["the ***"]}, duration_ms=1.0)
    )


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
