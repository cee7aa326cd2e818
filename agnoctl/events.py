"""One event per state change of a run, appended to ``events.jsonl``.

Each event is one JSON object on one line: ``seq`` (1, 2, ...), ``ts`` (ISO-8601 UTC),
``run_id``, ``type`` and the fields of that type (``step``, ``item``, ``attempt``,
``duration_ms``, ``tokens``, ``cost``, ...). The file is append-only. Inside the event loop,
the lines of one turn of the loop are written together by one ``write(2)`` at the start of the
next turn (or as soon as 256 are waiting), before the loop handles any reply that arrived
meanwhile: a killed process loses at most the events of the turn it was killed in, and a
``write(2)`` per event cost more than the rest of an event. Outside a loop every event is
written at once. The file is fsynced when the run ends, not per event: an fsync costs
milliseconds, a hundred times the scheduling of a step, and only a machine crash (not a killed
process) loses unsynced lines. Everything written passes through the run's redactor first.

A write that fails (a full disk) is the journal's last: nothing more is written, so the file
ends with what was on disk (a torn last line at worst, which a resumed run cuts off), and the
sink's ``on_error`` is told, once, so that the run stops instead of going on unrecorded.

Lines are encoded by orjson: a run writes three events per step, and the standard encoder's
fixed cost per call was a tenth of a step's whole budget. orjson writes the same text for the
same data (UTF-8, compact) except that NaN and infinities become null, which keeps every line
valid JSON. It refuses integers beyond 64 bits, which data may hold (a model's JSON reply):
such an event is written by the standard encoder instead.

Event types: run_started, step_started, step_skipped, step_succeeded, step_failed,
item_started, item_skipped, item_succeeded, item_failed, attempt_started, attempt_failed,
retry_scheduled, model_fallback, llm_call, tool_call, tool_result, gate_result,
loop_iteration_started, loop_iteration_finished, budget_warning, breaker_state,
provider_throttled (a provider's window of calls in flight narrowed after a 429, or grew back to
its ceiling: ``provider``, ``window``, ``in_flight``, ``reason``), provider_paused (a provider
asked every call to wait: ``provider``, ``seconds``, ``reason``), run_finished;
and with ``--resume``: run_resumed (a resumed run appends to the same journal), step_reused,
item_reused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

Event = dict[str, Any]
Listener = Callable[[Event], None]

EVENT_TYPES = frozenset(
    {
        "run_started",
        "step_started",
        "step_skipped",
        "step_succeeded",
        "step_failed",
        "item_started",
        "item_skipped",
        "item_succeeded",
        "item_failed",
        "attempt_started",
        "attempt_failed",
        "retry_scheduled",
        "model_fallback",
        "llm_call",
        "tool_call",
        "tool_result",
        "gate_result",
        "loop_iteration_started",
        "loop_iteration_finished",
        "budget_warning",
        "breaker_state",
        "provider_throttled",
        "provider_paused",
        "run_finished",
        "run_resumed",
        "step_reused",
        "item_reused",
    }
)


def milliseconds(seconds: float) -> float:
    """A duration as events and reports give it: milliseconds, to three decimals."""
    return round(seconds * 1000, 3)


def utc_iso(ms: int) -> str:
    """``2025-01-31T12:00:00.123Z`` for a time in milliseconds since the epoch."""
    global _last_second
    second, fraction = divmod(ms, 1000)
    last = _last_second  # one tuple: threads see a second with its own text
    if last[0] != second:  # a run writes many events a second: its text is made once
        last = _last_second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{last[1]}.{fraction:03d}Z"


_last_second: tuple[int, str] = (-1, "")


def _json_default(value: object) -> object:
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)
# Dates and dataclasses go through _json_default, as they did with the standard encoder.
_OPTIONS = (
    orjson.OPT_APPEND_NEWLINE | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def encode_line(event: Event) -> bytes:
    """One journal line: the event as compact JSON, and a newline."""
    try:
        return orjson.dumps(event, default=_json_default, option=_OPTIONS)
    except orjson.JSONEncodeError:
        pass
    # Keys that are not strings (a YAML map of numbers in an output) are written as text.
    # orjson walks every map more slowly under that option, so only such an event takes it.
    try:
        return orjson.dumps(event, default=_json_default, option=_OPTIONS | orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        # An integer beyond 64 bits (or nesting deeper than orjson's 254 levels).
        return (_ENCODER.encode(event) + "\n").encode()


class EventSink:
    """Writes events to ``events.jsonl`` (or nowhere, with ``path=None``) and tells listeners.

    ``redact`` masks secrets in each serialised line before it leaves the process; listeners
    (the terminal) receive the event dict itself and must redact what they show. ``flush``
    writes what is waiting; ``close`` flushes, fsyncs and closes. Emit from the thread that
    runs the event loop (or with no loop running): the lines waiting for the loop's next turn
    are not shared with other threads. A failed write
    ends the journal: ``error`` holds it, ``on_error`` is called with it, and later events
    reach the listeners only.
    """

    def __init__(
        self,
        path: Path | None,
        run_id: str,
        *,
        redact: Callable[[str], str] | None = None,
        listeners: tuple[Listener, ...] = (),
        last_seq: int = 0,
        on_error: Callable[[OSError], object] | None = None,
    ) -> None:
        self.run_id = run_id
        self.path = path
        self.error: OSError | None = None  # the write that failed; nothing is written after it
        self._redact = redact
        self._listeners = listeners
        self._on_error = on_error
        self._seq = last_seq  # a resumed run appends after the events already written
        self._stamp = (-1, "")  # the last event's millisecond and its text
        self._fd: int | None = None
        self._waiting: list[bytes] = []
        self._flush_due = False  # a flush is scheduled for the loop's next turn
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # 0600, as every run file: it holds prompts and replies (docs/observability.md).
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def emit(self, type: str, /, **fields: Any) -> None:
        """Record one event; ``fields`` whose value is None are left out."""
        event = self._head(type)
        event.update({key: value for key, value in fields.items() if value is not None})
        self._write(event)

    def _head(self, type: str) -> Event:
        """A new event's first fields: ``seq``, ``ts``, ``run_id``, ``type``."""
        self._seq += 1
        ms = time.time_ns() // 1_000_000
        stamp = self._stamp
        if stamp[0] != ms:  # a fast run writes several events per millisecond
            stamp = self._stamp = (ms, utc_iso(ms))
        return {"seq": self._seq, "ts": stamp[1], "run_id": self.run_id, "type": type}

    def _write(self, event: Event) -> None:
        if self._fd is not None:
            line = encode_line(event)
            if self._redact is not None:
                line = self._redact(line.decode()).encode()
            waiting = self._waiting
            waiting.append(line)
            if len(waiting) >= _MAX_WAITING:
                self.flush()
            elif not self._flush_due:
                self._flush_later()
        if self._listeners:
            for listener in self._listeners:
                listener(event)

    def _flush_later(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a library caller, a test): nothing to wait for
            self.flush()
            return
        self._flush_due = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write the events that are waiting, in order, with one ``write(2)``."""
        self._flush_due = False
        if not self._waiting or self._fd is None:
            return
        data = memoryview(b"".join(self._waiting))
        self._waiting.clear()
        try:
            while data:
                data = data[os.write(self._fd, data) :]
        except OSError as exc:
            self._failed(exc)

    def close(self) -> None:
        """Make the journal durable (fsync) and close it."""
        self.flush()
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError as exc:  # the file system could not keep what was written
                self._failed(exc)
                return
            os.close(self._fd)
            self._fd = None

    def _failed(self, error: OSError) -> None:
        """End the journal at a failed write: appending after a torn line would bury the
        events after it in one unreadable line."""
        fd, self._fd = self._fd, None
        self._waiting.clear()
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.error = error
        if self._on_error is not None:
            self._on_error(error)


# A turn of the loop can run a long chain of steps whose replies need no waiting (the mock,
# the cache): this bounds what a kill in that turn can lose.
_MAX_WAITING = 256


def read_events(path: Path, unreadable: list[int] | None = None) -> Iterator[Mapping[str, Any]]:
    """Events of a journal in order. A torn last line (the process was killed) ends them. Any
    other line that holds no event (not UTF-8, not JSON, not an object, or one whose fields
    that place it are of the wrong type: a disk error, an edit) is passed over, and its number
    (1-based) added to ``unreadable``: the events after it still count, or a resumed run would
    redo the work they record."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.endswith(b"\n"):
                return
            event = _event(line)
            if event is not None:
                yield event
            elif unreadable is not None:
                unreadable.append(number)


def _event(line: bytes) -> dict[str, Any] | None:
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        # NaN, which the standard encoder writes (older journals, 64-bit overflows).
        try:
            event = json.loads(line)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past reading
            return None
    return event if _placed(event) else None


def _placed(event: object) -> bool:
    """Whether ``event`` is an object whose place in the run has the types readers rely on:
    an integer ``seq``; a ``step`` path; an ``item`` index and loop ``iteration`` when set."""
    return (
        isinstance(event, dict)
        and isinstance(event.get("seq"), int)
        and isinstance(event.get("step", ""), str)
        and isinstance(event.get("item"), int | None)
        and isinstance(event.get("iteration"), int | None)
    )
