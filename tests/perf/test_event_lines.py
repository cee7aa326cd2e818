"""The journal's inlined paths write what the plain rules say, byte for byte.

``EventSink.emit`` reuses the text of the last millisecond and of the last second, and encodes
in place: each line must equal the one built the slow way (the event as a dict, None fields
left out, through ``encode_line`` and the redactor), with ``ts`` the event's time as
``datetime`` writes it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agnoctl import events
from agnoctl.events import EventSink, encode_line, utc_iso
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
