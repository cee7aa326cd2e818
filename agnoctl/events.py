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

Each line is an ``Entry``: its place (``seq``, ``ts``, ``run_id``) and its ``Event``, an
instance of one of the classes below, whose ``type`` names it in the journal (``EVENT_TYPES``
lists them all). ``EventSink.emit(event)`` is the one way an event is written;
``read_events`` (through ``parse_line``) the one way a journal is read back. A reader passes
over, and counts as unreadable, a line whose type this release does not know (a newer
release's journal), that does not say which step it is about, or whose fields have the wrong
types. Older and hand-written journals keep reading: keys an event does not have (a field an
older release wrote) are ignored, and a field the line lacks reads as empty (None, ``""``,
``0``).
"""

import asyncio
import contextlib
import errno
import json
import os
import time
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, TypeVar, dataclass_transform, get_args

import orjson

# ---------------------------------------------------------------------------- the events

JsonTypes = tuple[type, ...] | None
"""The runtime types a field's JSON value may have (None: any)."""


@dataclass(slots=True, kw_only=True)
class Event:
    """One state change of a run. Fields left at None are not written."""

    type: ClassVar[str]
    """The event's name in the journal: ``step_started``, ``llm_call``, ..."""
    field_types: ClassVar[Mapping[str, JsonTypes]]
    """Each field, in the journal's order, with the types a journal line may give it."""
    required: ClassVar[frozenset[str]]
    """The fields a journal line must hold to be read as this event: the task it is about."""
    unset: ClassVar[Mapping[str, object]]
    """What a journal line that lacks a field without a default reads as (a hand-written or
    older line): the empty value of its type, ``""``, ``0`` or ``False``."""


_E = TypeVar("_E", bound=Event)
_BY_TYPE: dict[str, type[Event]] = {}
_PLACE = frozenset({"step"})  # a line without the task it is about holds no event
_EMPTY: dict[object, object] = {str: "", int: 0, float: 0.0, bool: False}


@dataclass_transform(kw_only_default=True)
def _event(cls: type[_E]) -> type[_E]:
    """Make ``cls`` an event type: a dataclass, registered under its ``type``."""
    # Not frozen, though an event is never changed once made: a frozen dataclass sets each
    # field through object.__setattr__, which made an event four times as costly to build
    # (docs/performance.md, "Typed events").
    cls = dataclass(slots=True, kw_only=True)(cls)
    cls.field_types = {f.name: _json_types(f.type) for f in fields(cls)}
    cls.required = frozenset(_PLACE & cls.field_types.keys())
    needed = (f for f in fields(cls) if f.default is MISSING and f.name not in cls.required)
    cls.unset = {f.name: _EMPTY[f.type] for f in needed}
    _BY_TYPE[cls.type] = cls
    return cls


def _json_types(hint: object) -> JsonTypes:
    """The runtime types a JSON value of a field annotated ``hint`` may have."""
    parts = get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    allowed: list[type] = []
    for part in parts:
        if part is Any:
            return None
        if part is float:  # JSON writes 1.0 as it reads 1
            allowed.append(int)
        allowed.append(getattr(part, "__origin__", part))  # dict[str, Any] -> dict
    return tuple(allowed)


@dataclass(slots=True, kw_only=True)
class TaskEvent(Event):
    """About one task: a step (its path, ``group.child`` inside a group), or one ``item`` of a
    for_each step."""

    step: str
    item: int | None = None


@dataclass(slots=True, kw_only=True)
class StatusEvent(TaskEvent):
    """A task started, finished or was reused; ``iteration`` is its loop's round, in a loop."""

    iteration: int | None = None


@_event
class StepStarted(StatusEvent):
    """A step started (a for_each step: before its items)."""

    type = "step_started"
    items: int | None = None
    """How many items a for_each step runs."""


@_event
class ItemStarted(StatusEvent):
    """One item of a for_each step started."""

    type = "item_started"


@dataclass(slots=True, kw_only=True)
class Succeeded(StatusEvent):
    """A step or an item succeeded: what resume reuses (``output`` made under
    ``fingerprint``)."""

    output: Any = None
    fingerprint: str | None = None
    duration_ms: float | None = None
    node: str | None = None
    """The Ray node the last attempt of a command step ran on (`--executor ray`)."""


@_event
class StepSucceeded(Succeeded):
    """A step succeeded."""

    type = "step_succeeded"


@_event
class ItemSucceeded(Succeeded):
    """One item of a for_each step succeeded."""

    type = "item_succeeded"


@dataclass(slots=True, kw_only=True)
class Failed(StatusEvent):
    """A step or an item failed for good."""

    error: str
    kind: str
    """The error's kind: ``timeout``, ``gate_failed``, ``tool_limit``, ..."""
    duration_ms: float | None = None


@_event
class StepFailed(Failed):
    """A step failed."""

    type = "step_failed"


@_event
class ItemFailed(Failed):
    """One item of a for_each step failed."""

    type = "item_failed"


@dataclass(slots=True, kw_only=True)
class Skipped(StatusEvent):
    """A step or an item did not run (or was stopped before it finished)."""

    reason: str
    """``condition``, ``upstream_failed``, ``budget``, ``cancelled``, ..."""
    error: str | None = None
    duration_ms: float | None = None


@_event
class StepSkipped(Skipped):
    """A step was skipped."""

    type = "step_skipped"


@_event
class ItemSkipped(Skipped):
    """One item of a for_each step was skipped."""

    type = "item_skipped"


@dataclass(slots=True, kw_only=True)
class Reused(StatusEvent):
    """A resumed run took a task's output from the run it carries on."""

    output: Any = None
    fingerprint: str | None = None


@_event
class StepReused(Reused):
    """A resumed run reused a step's output."""

    type = "step_reused"


@_event
class ItemReused(Reused):
    """A resumed run reused one item's output."""

    type = "item_reused"


@_event
class LoopIterationStarted(StatusEvent):
    """A round of a loop group started."""

    type = "loop_iteration_started"


@_event
class LoopIterationFinished(StatusEvent):
    """A round of a loop group finished."""

    type = "loop_iteration_finished"
    outputs: Any = None
    """Each child's output in this round (None for a child that did not succeed)."""


@_event
class AttemptStarted(TaskEvent):
    """An attempt after the first (a retry) started."""

    type = "attempt_started"
    attempt: int
    model: str | None = None


@_event
class AttemptFailed(TaskEvent):
    """An attempt failed; ``retrying`` says whether another follows."""

    type = "attempt_failed"
    attempt: int
    model: str | None = None
    reason: str
    error: str
    retrying: bool
    node: str | None = None
    """The Ray node a command step's attempt ran on (`--executor ray`)."""


@_event
class RetryScheduled(TaskEvent):
    """Another attempt will start after ``delay`` seconds."""

    type = "retry_scheduled"
    attempt: int
    max_attempts: int
    purpose: str | None = None
    """``judge`` for a judge gate's call; left out for the task's own attempts."""
    reason: str
    delay: float
    """Seconds waited before the next attempt."""


@_event
class ModelFallback(TaskEvent):
    """A model failed; the agent's next model is tried."""

    type = "model_fallback"
    model: str
    next_model: str
    reason: str


@_event
class LlmCall(TaskEvent):
    """A model call, answered (``reply``, tokens, cost) or failed (``error``)."""

    type = "llm_call"
    attempt: int
    purpose: str
    agent: str | None = None
    provider: str
    model: str
    tokens_in: int | None = None
    tokens_out: int | None = None
    tokens_cache_read: int | None = None
    """Of ``tokens_in``, those the provider's prompt cache served (left out when none)."""
    tokens_cache_write: int | None = None
    """Of ``tokens_in``, those written to the provider's prompt cache (left out when none)."""
    cost: float | None = None
    error: str | None = None
    cached: bool | None = None
    """True for a reply from the response cache (left out otherwise)."""
    reply: dict[str, Any] | None = None
    """``text``, ``tool_calls`` and, for a reply the server did not finish, ``finish_reason``,
    for ``fixtures export``."""
    duration_ms: float
    wait_ms: float | None = None
    """What the call waited for its provider's limits, if anything."""
    ttft_ms: float | None = None
    """A streamed reply's time to first token (text or a tool call), from sending the call."""
    tokens_per_s: float | None = None
    """A streamed reply's output tokens per second, from its first token to its end."""


@_event
class ToolCalled(TaskEvent):
    """A model asked for a tool call (``tool_call``)."""

    type = "tool_call"
    attempt: int
    id: str
    name: str
    arguments: Any = None


@_event
class ToolAnswered(TaskEvent):
    """A tool call's result, sent back to the model (``tool_result``)."""

    type = "tool_result"
    attempt: int
    id: str
    name: str
    ok: bool
    truncated: bool
    duration_ms: float
    chars: int
    """The result's length, in characters."""
    error: str | None = None
    """The start of a failed or refused call's result."""
    images: list[dict[str, Any]] | None = None
    """The images the result returned (an MCP server's): name, media type, size and SHA-256,
    never their bytes."""


@_event
class GateChecked(TaskEvent):
    """A gate checked an attempt's output (``gate_result``)."""

    type = "gate_result"
    attempt: int
    gate: str
    gate_type: str
    passed: bool
    value: Any = None
    finding: str | None = None
    severity: str


@_event
class ApprovalRequested(TaskEvent):
    """An approval step asks for a person's decision (the message, rendered)."""

    type = "approval_requested"
    message: str
    timeout: float | None = None
    """Seconds a person at the terminal has to answer (None: no bound)."""


@_event
class ApprovalDecided(TaskEvent):
    """An approval step's decision: the audit trail (who, when, why, how)."""

    type = "approval_decided"
    approved: bool
    by: str
    at: str
    """ISO-8601 UTC."""
    reason: str | None = None
    how: str
    """``terminal``, ``flag`` (`--approve` / `--reject`) or ``timeout`` (`on_timeout`)."""


@_event
class BudgetWarning(Event):
    """A run limit is nearly used up."""

    type = "budget_warning"
    limit: str
    used: float
    value: float


@_event
class BreakerState(Event):
    """A provider's circuit breaker changed state."""

    type = "breaker_state"
    provider: str
    old: str
    new: str


@_event
class ProviderThrottled(Event):
    """A provider's window of calls in flight narrowed after a 429 (``rate_limited``), or grew
    back to its ceiling (``recovered``)."""

    type = "provider_throttled"
    provider: str
    window: int
    in_flight: int
    reason: str


@_event
class ProviderPaused(Event):
    """A provider asked every call to wait ``seconds``."""

    type = "provider_paused"
    provider: str
    seconds: float
    reason: str


@dataclass(slots=True, kw_only=True)
class SegmentStarted(Event):
    """A run, or a resumed segment of it, started."""

    fingerprint: str | None = None
    workflow: str
    file: str
    inputs: dict[str, Any] | None = None
    mock: bool | None = None
    """True for a ``--mock`` run (left out otherwise)."""
    seed: int | None = None
    note: str | None = None


@_event
class RunStarted(SegmentStarted):
    """A run started."""

    type = "run_started"


@_event
class RunResumed(SegmentStarted):
    """A resumed run appends to the same journal."""

    type = "run_resumed"


@_event
class RunFinished(Event):
    """The run ended; its report.json is on disk."""

    type = "run_finished"
    status: str
    reason: str | None = None
    exit_code: int
    duration_ms: float
    cost: float


EVENT_TYPES = frozenset(_BY_TYPE)
"""Every event type a journal may hold."""
EVENT_CLASSES: Mapping[str, type[Event]] = types.MappingProxyType(_BY_TYPE)
"""Each event type's class, by its name."""


class Entry(NamedTuple):
    """One journal line: an event and its place in the run."""

    seq: int
    ts: str
    run_id: str
    event: Event

    def as_dict(self) -> dict[str, Any]:
        """The line's JSON object: ``seq``, ``ts``, ``run_id``, ``type``, then the event's
        fields in their order, None ones left out."""
        event = self.event
        data: dict[str, Any] = {
            "seq": self.seq,
            "ts": self.ts,
            "run_id": self.run_id,
            "type": event.type,
        }
        for name in event.field_types:
            value = getattr(event, name)
            if value is not None:
                data[name] = value
        return data

    def masked(self, mask: Callable[[Any], Any]) -> "Entry":
        """The entry with ``mask`` (a redactor) applied to each of its event's fields."""
        event = self.event
        masked = {name: mask(getattr(event, name)) for name in event.field_types}
        return self._replace(event=replace(event, **masked))


Listener = Callable[[Entry], None]


@dataclass(frozen=True, slots=True)
class Subscription:
    """A listener of some event types only (subclasses included): the sink tells it of those
    alone, and decides which listeners an event type has once, not for every event (a fan-out
    writes three events per item; most listeners care about few of them)."""

    types: tuple[type[Event], ...]
    listener: Listener

    def __call__(self, entry: Entry) -> None:
        if isinstance(entry.event, self.types):
            self.listener(entry)


def milliseconds(seconds: float) -> float:
    """A duration as events and reports give it: milliseconds, to three decimals."""
    return round(seconds * 1000, 3)


def tokens_per_second(tokens: int, seconds: float) -> float | None:
    """A generation's speed as events and reports give it (one decimal); None when nothing
    was timed (no tokens, or a reply that came in one piece)."""
    return round(tokens / seconds, 1) if tokens > 0 and seconds > 0 else None


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


def encode_line(data: Mapping[str, Any]) -> bytes:
    """One journal line: an entry's ``as_dict`` as compact JSON, and a newline."""
    try:
        return orjson.dumps(data, default=_json_default, option=_OPTIONS)
    except orjson.JSONEncodeError:
        pass
    # Keys that are not strings (a YAML map of numbers in an output) are written as text.
    # orjson walks every map more slowly under that option, so only such an event takes it.
    try:
        return orjson.dumps(data, default=_json_default, option=_OPTIONS | orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        # An integer beyond 64 bits (or nesting deeper than orjson's 254 levels).
        return (_ENCODER.encode(data) + "\n").encode()


class EventSink:
    """Writes events to ``events.jsonl`` (or nowhere, with ``path=None``) and tells listeners.

    ``redact`` masks secrets in each serialised line before it leaves the process. Listeners
    (the terminal) receive the ``Entry`` itself, passed through ``mask`` when there is one and
    the entry may hold a secret: when ``redact`` changed its line, when it has no line (no
    journal), or when ``escapes`` (``Redactor.escapes``) and the line holds an escape. A
    secret in any field is in the line (``redact`` knows each secret's JSON spellings), so
    a line ``redact`` left alone, without an escape, is an entry with nothing to mask. A
    ``Subscription`` is told of its event types only. ``flush`` writes what is waiting;
    ``close`` flushes, fsyncs and closes. Emit from the thread that runs the event loop (or
    with no loop running): the lines waiting for the loop's next turn are not shared with
    other threads. A failed write ends the journal: ``error`` holds it, ``on_error`` is
    called with it, and later events reach the listeners only.
    """

    def __init__(
        self,
        path: Path | None,
        run_id: str,
        *,
        redact: Callable[[str], str] | None = None,
        mask: Callable[[Entry], Entry] | None = None,
        escapes: bool = True,
        listeners: tuple[Listener, ...] = (),
        last_seq: int = 0,
        on_error: Callable[[OSError], object] | None = None,
    ) -> None:
        self.run_id = run_id
        self.path = path
        self.error: OSError | None = None  # the write that failed; nothing is written after it
        self._redact = redact
        self._mask = mask
        self._escapes = escapes
        self._listeners = listeners
        self._told: dict[type[Event], tuple[Listener, ...]] = {}  # by event type
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

    def emit(self, event: Event) -> None:
        """Record ``event``: the journal's one write path."""
        self._seq += 1
        ms = time.time_ns() // 1_000_000
        stamp = self._stamp
        if stamp[0] != ms:  # a fast run writes several events per millisecond
            stamp = self._stamp = (ms, utc_iso(ms))
        entry = Entry(self._seq, stamp[1], self.run_id, event)
        secret = True  # until its line shows otherwise
        if self._fd is not None:
            line = encode_line(entry.as_dict())
            if self._redact is not None:
                text = line.decode()
                masked = self._redact(text)
                line = masked.encode() if masked != text else line
                # A spelling of a secret that JSON escapes (a quote, a backslash) may be in the
                # line escaped once more than any spelling known: such a line clears nothing.
                secret = masked != text or (self._escapes and b"\\" in line)
            waiting = self._waiting
            waiting.append(line)
            if len(waiting) >= _MAX_WAITING:
                self.flush()
            elif not self._flush_due:
                self._flush_later()
        listeners = self._told.get(type(event))
        if listeners is None:
            listeners = self._told[type(event)] = self._listeners_of(type(event))
        if not listeners:
            return
        told = self._mask(entry) if secret and self._mask is not None else entry
        for listener in listeners:
            listener(told)

    def _listeners_of(self, kind: type[Event]) -> tuple[Listener, ...]:
        """The listeners told of events of type ``kind``: a subscription's own function."""
        return tuple(
            listener.listener if isinstance(listener, Subscription) else listener
            for listener in self._listeners
            if not isinstance(listener, Subscription) or issubclass(kind, listener.types)
        )

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

    def check_in_place(self) -> None:
        """Fail the journal when its path no longer names the file being written: the run
        directory was removed or moved (a cleanup job, a step clearing a folder), and every
        write since went to a file nobody can read, so the run's work would be lost without a
        word (a report file written meanwhile even makes the directory again)."""
        if self._fd is None or self.path is None:
            return
        written = os.fstat(self._fd)
        try:
            named = os.stat(self.path)
        except FileNotFoundError:
            named = None
        if named is None or (named.st_dev, named.st_ino) != (written.st_dev, written.st_ino):
            gone = "it was removed (or replaced) while the run went on, so what the run did "
            self._failed(OSError(errno.ENOENT, gone + "since is recorded nowhere", self.path))

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


def read_events(path: Path, unreadable: list[int] | None = None) -> Iterator[Entry]:
    """The entries of a journal in order. A torn last line (the process was killed) ends them.
    Any other line that ``parse_line`` cannot read (a disk error, an edit, a newer release's
    event) is passed over, and its number (1-based) added to ``unreadable``: the events after
    it still count, or a resumed run would redo the work they record. So is a line whose
    ``seq`` does not number past the event before it: agnoctl numbers a run's events upwards,
    so it repeats one (a line pasted twice, a journal appended to itself), which would count
    a segment or a model call twice."""
    last = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.endswith(b"\n"):
                return
            entry = parse_line(line)
            if entry is not None and entry.seq > last:
                last = entry.seq
                yield entry
            elif unreadable is not None:
                unreadable.append(number)


def parse_line(line: bytes) -> Entry | None:
    """The entry a journal line holds, or None for a line that holds none: not UTF-8, not
    JSON, not an object, an event type this release does not know, no ``seq`` or no step for
    an event about one, a field of the wrong type. Keys the event does not have are ignored;
    a field it has that the line lacks reads as the event's ``unset`` value."""
    data = _json(line)
    if not isinstance(data, dict):
        return None
    kind, seq = data.get("type"), data.get("seq")
    ts, run_id = data.get("ts", ""), data.get("run_id", "")
    cls = _BY_TYPE.get(kind) if isinstance(kind, str) else None
    if cls is None or not isinstance(seq, int) or not isinstance(ts, str):
        return None
    if not isinstance(run_id, str) or not cls.required <= data.keys():
        return None
    given: dict[str, Any] = dict(cls.unset)
    for name, allowed in cls.field_types.items():
        if name in data:
            value = data[name]
            if allowed is not None and not isinstance(value, allowed):
                return None
            given[name] = value
    return Entry(seq, ts, run_id, cls(**given))


def _json(line: bytes) -> object:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        pass
    # NaN, which the standard encoder writes (older journals, 64-bit overflows).
    try:
        return json.loads(line)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past reading
        return None
