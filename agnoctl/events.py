"""One event per state change of a run, appended to ``events.jsonl``.

Each event is one JSON object on one line: ``seq`` (1, 2, ...), ``ts`` (ISO-8601 UTC),
``run_id``, ``type`` and the fields of that type (``step``, ``item``, ``attempt``,
``duration_ms``, ``tokens``, ``cost``, ...). The file is append-only and every line is flushed
to the operating system as it is written, so a killed process loses nothing already reported;
``sync`` (fsync) is called at step boundaries only, because an fsync per event would cost more
than the scheduling itself. Everything written passes through the run's redactor first.

Event types: run_started, step_started, step_skipped, step_succeeded, step_failed,
item_started, item_skipped, item_succeeded, item_failed, attempt_started, attempt_failed,
retry_scheduled, llm_call, tool_call, tool_result, gate_result, loop_iteration_started,
loop_iteration_finished, budget_warning, breaker_state, run_finished.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

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
        "llm_call",
        "tool_call",
        "tool_result",
        "gate_result",
        "loop_iteration_started",
        "loop_iteration_finished",
        "budget_warning",
        "breaker_state",
        "run_finished",
    }
)


def utc_iso(timestamp: float) -> str:
    """``2025-01-31T12:00:00.123Z`` for a ``time.time()`` value."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _json_default(value: object) -> object:
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


class EventSink:
    """Writes events to ``events.jsonl`` (or nowhere, with ``path=None``) and tells listeners.

    ``redact`` masks secrets in each serialised line before it leaves the process; listeners
    (the terminal) receive the event dict itself and must redact what they show.
    """

    def __init__(
        self,
        path: Path | None,
        run_id: str,
        *,
        redact: Callable[[str], str] | None = None,
        listeners: tuple[Listener, ...] = (),
    ) -> None:
        self.run_id = run_id
        self.path = path
        self._redact = redact
        self._listeners = listeners
        self._seq = 0
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def emit(self, type: str, **fields: Any) -> None:
        """Record one event; ``fields`` whose value is None are left out."""
        self._seq += 1
        event: Event = {"seq": self._seq, "ts": utc_iso(time.time()), "run_id": self.run_id}
        event["type"] = type
        for key, value in fields.items():
            if value is not None:
                event[key] = value
        if self._file is not None:
            line = json.dumps(event, ensure_ascii=False, default=_json_default)
            if self._redact is not None:
                line = self._redact(line)
            self._file.write(line + "\n")
            self._file.flush()
        for listener in self._listeners:
            listener(event)

    def sync(self) -> None:
        """Make what was written durable (a step finished: its output must survive a crash)."""
        if self._file is not None:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None


def read_events(path: Path) -> Iterator[Mapping[str, Any]]:
    """Events of a journal in order; a torn last line (the process was killed) is skipped."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                return
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                return
