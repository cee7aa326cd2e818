"""What ``agnoctl run`` shows while it runs, and the summary it ends with.

Three modes: ``live`` (a rich display redrawn from the run's state about 8 times a second:
never per event, so a fast run is not slowed by its own progress display), ``plain`` (one line
per event, for CI logs and pipes, a large fan-out's items summed up: ``PlainLines``) and
``quiet`` (only the final line). ``NO_COLOR`` is respected. This module and ``cli.py`` are the
only ones that write to the terminal, and this is the only one that imports rich.

What steps, models, tools and the workflow wrote is shown with its control characters as
visible escapes (``agnoctl.printable``), and rich markup is off: a step's stderr cannot retitle
the terminal, paint a failure green or spoof a CI log line.

Output the stream refuses (a reader gone away, ``agnoctl run wf.yaml | head -2``, or a full
disk) stops the display, never the run: the run finishes and exits with its own code.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Container, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from rich.console import Console, Group, RenderableType
from rich.text import Text

from agnoctl import events, redact
from agnoctl.engine.state import ExecRecord, RunState, StepRecord
from agnoctl.events import Entry, Event
from agnoctl.money import usd
from agnoctl.printable import clipped, one_line, printable
from agnoctl.reports.model import (
    LoopIterationReport,
    Row,
    RunReport,
    StepReport,
    Usage,
    own_usage,
    whole_usage,
    worth_showing,
)

if TYPE_CHECKING:
    from rich.live import Live
    from rich.table import Table

    from agnoctl.redact import Redactor
    from agnoctl.reports.history import RunSummary

Mode = Literal["live", "plain", "quiet"]

_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "skipped": "yellow",
    "running": "cyan",
    "pending": "dim",
    "passed": "bold green",
    "interrupted": "bold yellow",
    "waiting": "bold magenta",
}
_ICON = {
    "succeeded": "✓",
    "failed": "✗",
    "skipped": "↷",
    "running": "…",
    "pending": "·",
    "waiting": "✋",
}
_MAX_ROWS = 40  # rows of the live display; the rest is summed up in its header
_MAX_ERROR = 160


def choose_mode(progress: str, quiet: bool, stream: IO[str]) -> Mode:
    if quiet:
        return "quiet"
    if progress == "auto":
        return "live" if stream.isatty() else "plain"
    return "live" if progress == "live" else "plain"


class _Console(Console):
    """rich's Console, but a reader gone away is the terminal's to handle: rich's own
    answer exits the process (code 1), ending the run it shows."""

    def __init__(self, on_broken_pipe: Callable[[], None], **options: Any) -> None:
        super().__init__(**options)
        self._on_broken_pipe = on_broken_pipe

    def on_broken_pipe(self) -> None:
        self.quiet = True  # drops what it still holds, and everything after
        self._on_broken_pipe()


class Terminal:
    """A ``RunObserver`` that draws progress and the final summary."""

    def __init__(
        self,
        mode: Mode,
        stream: IO[str] | None = None,
        on_closed: Callable[[], None] | None = None,
        show_text: bool | None = False,
    ) -> None:
        """``on_closed`` runs once when the stream refuses output, e.g. to drop what is still
        buffered for it, which the interpreter would otherwise try again at exit.
        ``show_text`` (the live display only): the text of running agent tasks as it arrives,
        for every one (True) or when one alone is writing (None)."""
        self.mode = mode
        self.live_text = (
            LiveText(every=bool(show_text)) if mode == "live" and show_text is not False else None
        )
        self.stream = stream or sys.stdout
        self.console = _Console(
            self._stop,
            file=self.stream,
            highlight=False,
            soft_wrap=False,
            markup=False,  # text from steps and models is shown as written, never as markup
            emoji=False,
        )
        self._open = True
        self._on_closed = on_closed
        self._state: RunState | None = None
        self._watch = Watch()
        self._live: Live | None = None
        self._last: RenderableType = Text("")
        self._held: list[str] | None = None  # progress lines held while a prompt is shown
        self._plain = PlainLines()
        self.event = events.Subscription(_SHOWN[mode], self._show)
        """The ``RunObserver`` listener: told of the event types its mode shows alone (none
        under ``-q``), so a run's events cost the display nothing it does not draw."""

    # ------------------------------------------------------------------ RunObserver

    def run_started(self, state: RunState) -> None:
        self._state = state
        if self.mode == "live":
            from rich.live import Live  # a terminal's display only: CI logs get plain lines

            self._live = Live(
                get_renderable=self._render_live,
                console=self.console,
                refresh_per_second=8,
                transient=True,
            )
            self._live.start()

    def _show(self, entry: Entry) -> None:
        if self.mode == "plain":
            text = self._plain.lines(entry)
            if text:
                self.write(text)
        elif self.mode == "live":
            self._watch.event(entry.event)
            if self.live_text is not None:
                self.live_text.event(entry.event)

    def run_finished(self, report: RunReport, run_dir: Path) -> None:
        self.close()
        if not self._open:
            return
        style = _STYLE.get(report.status, "bold red")
        line = Text.assemble(
            (report.status, style),
            f": {one_line(report.reason)} ",
            (f"(run dir: {printable(str(run_dir))})", "dim"),
        )
        try:
            if self.mode != "quiet":
                self.console.print(summary_table(report))
            self.console.print(line, soft_wrap=True)
        except OSError as exc:  # a reader gone away is the console's on_broken_pipe
            self._stop(exc.strerror or str(exc))

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Hold the progress display while a question is asked on the terminal (an approval):
        the live view is taken down, plain lines are kept, and both come back after."""
        live = self._live
        if live is not None:
            live.stop()
        self._held = []
        try:
            yield
        finally:
            held, self._held = self._held, None
            for text in held:
                self.write(text)
            if live is not None and self._live is live:
                live.start()

    def write(self, text: str) -> None:
        """Write ``text`` now (progress lines, and what the command adds after the run)."""
        if not self._open:
            return
        if self._held is not None:
            self._held.append(text)
            return
        try:
            self.stream.write(printable(text))
            self.stream.flush()
        except BrokenPipeError:
            self._stop()
        except OSError as exc:
            self._stop(exc.strerror or str(exc))

    def _stop(self, problem: str | None = None) -> None:
        """The stream refused output: the rest of the run is not shown, and nothing else
        changes. A reader that went away (no ``problem``) is `head` having read enough."""
        self._open = False
        if self._on_closed is not None:
            self._on_closed()
        if problem is not None:
            sys.stderr.write(f"warning: progress output stopped: {problem}\n")

    def close(self) -> None:
        """Stop the live display (also when the run ended in an error)."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    # ------------------------------------------------------------------ live view

    def _render_live(self) -> RenderableType:
        # Runs on rich's refresh thread while the run mutates its records: a view that
        # cannot be built this time keeps the previous one.
        try:
            if self._state is not None:
                width = self.console.width
                view = live_view(self._state, self._watch, width)
                text = self.live_text.view(width) if self.live_text is not None else None
                self._last = view if text is None else Group(view, text)
        except (RuntimeError, ValueError):
            pass
        return self._last


class LiveText:
    """The text of running agent tasks as their streamed replies bring it (``add``, on the
    run's loop), drawn under the live display (``view``, on its refresh thread).

    A task's text goes when its attempt ends or another starts. Shown: the end of each text,
    a few lines, every escape sequence visible rather than obeyed (``printable``: model text is
    untrusted), the run's secrets masked. The last word is held back until it is whole, and
    the kept end starts at a whole word, so no part of a secret shows before the redactor can
    recognise it. With ``every`` false only a task writing alone is shown (one reply to read;
    a fan-out's interleaved texts would be noise).
    """

    def __init__(self, every: bool) -> None:
        self.every = every
        self.texts: dict[tuple[str, int | None], str] = {}
        self._redactor: Redactor | None = None

    def add(self, path: str, index: int | None, delta: str) -> None:
        key = (path, index)
        text = self.texts.get(key, "") + delta
        if len(text) > _TEXT_KEPT:
            text = text[-_TEXT_KEPT:]
            text = text[min(_next_space(text) + 1, len(text)) :]
        self.texts[key] = text
        self._redactor = redact.active()  # the run's, where its replies arrive

    READS = (events.AttemptStarted, events.Succeeded, events.Failed)
    """The events that end a task's text."""

    def event(self, event: Event) -> None:
        if isinstance(event, self.READS):
            self.texts.pop((event.step, event.item), None)

    def view(self, width: int) -> RenderableType | None:
        texts = list(self.texts.items())
        if not texts or (not self.every and len(texts) != 1):
            return None
        redactor = self._redactor or redact.active()
        parts: list[RenderableType] = []
        for (path, index), text in texts[:_TEXTS_SHOWN]:
            name = path if index is None or path.endswith("]") else f"{path}[{index}]"
            parts.append(Text(printable(f"── {name} "), style="dim", no_wrap=True))
            whole = text[: max(text.rfind(" "), text.rfind("\n")) + 1]
            # Its end is a cut one: words that begin a secret (a passphrase) wait for the rest.
            shown, _ = redactor.head(whole, len(whole), cut=True)
            lines = shown.splitlines()[-_TEXT_LINES:]
            parts.extend(Text(printable(line), no_wrap=True, overflow="ellipsis") for line in lines)
        return Group(*parts)


_TEXT_KEPT = 2000  # characters of each task's text kept for the display
_TEXT_LINES = 6
_TEXTS_SHOWN = 4


def _next_space(text: str) -> int:
    found = [i for i in (text.find(" "), text.find("\n")) if i >= 0]
    return min(found, default=len(text))


class Watch:
    """What the run's events say that its records do not: a retry waiting out its delay, a
    provider holding calls back (a 429, a pause) or its breaker open.

    Fed by the event listener on the run's loop, read by the display's refresh thread: every
    change is one assignment to a dict, and the reader copies before it iterates.
    """

    def __init__(self) -> None:
        self.retries: dict[tuple[str, int | None], tuple[int, int, float]] = {}
        """(step, item) -> (next attempt, attempts allowed, when it starts)."""
        self.paused: dict[str, tuple[float, str]] = {}  # provider -> (until, why)
        self.throttled: dict[str, int] = {}  # provider -> its narrowed window of calls
        self.breakers: dict[str, str] = {}  # provider -> open / half_open

    READS = (
        events.RetryScheduled,
        events.AttemptStarted,
        events.LlmCall,
        events.Succeeded,
        events.Failed,
        events.ProviderPaused,
        events.ProviderThrottled,
        events.BreakerState,
    )
    """The events ``event`` learns from: the others change nothing it notes."""

    def event(self, event: Event) -> None:
        now = time.time()
        match event:
            case events.RetryScheduled(attempt=attempt, max_attempts=allowed, delay=delay):
                self.retries[(event.step, event.item)] = (attempt + 1, allowed, now + delay)
            case (
                events.AttemptStarted()
                | events.LlmCall()
                | events.Succeeded()
                | events.Failed() as moved_on
            ):
                self.retries.pop((moved_on.step, moved_on.item), None)
            case events.ProviderPaused(provider=provider, seconds=seconds, reason=reason):
                why = "429" if reason == "rate_limited" else reason
                self.paused[provider] = (now + seconds, why)
            case events.ProviderThrottled(provider=provider, reason="recovered"):
                self.throttled.pop(provider, None)
            case events.ProviderThrottled(provider=provider, window=window):
                self.throttled[provider] = window
            case events.BreakerState(provider=provider, new="closed"):
                self.breakers.pop(provider, None)
            case events.BreakerState(provider=provider, new=new):
                self.breakers[provider] = new

    def note(self, record: StepRecord, now: float) -> str:
        """Why a running step is not making progress right now, or ""."""
        notes = [self._retry(record, now), self._provider(record, now)]
        return " · ".join(note for note in notes if note)

    def _retry(self, record: StepRecord, now: float) -> str:
        retries = dict(self.retries)
        if record.items is None:
            waiting = retries.get((record.path, None))
            if waiting is None:
                return ""
            attempt, allowed, start = waiting
            return f"retrying ({attempt}/{allowed}) in {max(0.0, start - now):.1f}s"
        count = sum(1 for step, item in retries if step == record.path and item is not None)
        return f"{count} item(s) retrying" if count else ""

    def _provider(self, record: StepRecord, now: float) -> str:
        provider = _provider_of(record)
        if provider is None:
            return ""
        if provider in self.breakers:
            return f"breaker {self.breakers[provider].replace('_', '-')} ({provider})"
        until, why = self.paused.get(provider, (0.0, ""))
        if until > now:
            return f"waiting for provider {provider} ({why}) {until - now:.1f}s"
        if provider in self.throttled:
            return f"provider {provider} throttled to {self.throttled[provider]} call(s)"
        return ""


def _provider_of(record: StepRecord) -> str | None:
    """The provider a running step's latest attempt asks (an agent step's model names it)."""
    held = record.items.held() if record.items is not None else ()
    running: list[ExecRecord] = [item for item in held if item.status == "running"]
    for task in running or [record]:
        attempts = list(task.attempts)
        if attempts and attempts[-1].model:
            return attempts[-1].model.partition("/")[0]
    return None


def live_view(state: RunState, watch: Watch | None = None, width: int = 100) -> RenderableType:
    """The header and one row per step in file order (group children below their group);
    ``width`` is the terminal's, so nothing wraps."""
    now = time.time()
    top = list(state.steps.values())  # counted as the final line counts: the top-level steps
    done = sum(1 for record in top if record.done and record.reason != "cancelled")
    failed = sum(1 for record in top if record.status == "failed")
    running = sum(1 for record in top if record.status == "running")
    tokens, cost = 0, 0.0
    for record in top:
        _, tokens_in, tokens_out, spent = record.usage()
        tokens, cost = tokens + tokens_in + tokens_out, cost + spent
    parts = [
        Text(printable(state.workflow), style="bold"),
        Text(f"{done}/{len(top)} steps"),
        Text(f"{running} running", style=_STYLE["running"]),
        Text(f"{failed} failed", style=_STYLE["failed"] if failed else ""),
        Text(f"{now - state.started:.1f}s"),
        Text(f"{tokens} tokens"),
        Text(usd(cost)),
    ]
    if state.mock:
        parts.append(Text("mock"))
    rows = [_live_row(record, watch or Watch(), now) for record in _shown(list(state.records()))]
    return Group(_fit(parts, width), _rows_table(rows, width))


def _rows_table(rows: list[tuple[Text, Text, Text, str]], width: int) -> Table:
    """The rows in columns that fit ``width``: the step names and the progress take what they
    need (up to a share of the width), the status what is left, cut short, never wrapped."""
    from rich.table import Table

    step = min(max((len(row[0]) for row in rows), default=4), width // 3)
    progress = min(max((len(row[2]) for row in rows), default=0), width // 3)
    status = max(10, width - step - progress - _TIME_WIDTH - 3)  # three one-space gaps
    table = Table(box=None, pad_edge=False, show_header=False, padding=(0, 1, 0, 0))
    for name, size in (("step", step), ("status", status), ("progress", progress)):
        table.add_column(name, width=size, no_wrap=True, overflow="ellipsis")
    table.add_column("time", width=_TIME_WIDTH, no_wrap=True, justify="right")
    for row in rows:
        table.add_row(*row)
    return table


_TIME_WIDTH = 7


def _fit(parts: list[Text], width: int) -> Text:
    """As many parts as fit in one line of ``width``: a narrow terminal drops the last ones."""
    line = Text(no_wrap=True, overflow="ellipsis")
    for part in parts:
        extra = len(part) + (3 if line else 0)
        if line and len(line) + extra > width:
            break
        line.append(" · " if line else "")
        line.append_text(part)
    return line


def _shown(records: list[StepRecord]) -> list[StepRecord]:
    """Every row, in file order; past the room the display has, the finished nested rows and
    then the finished steps go first (the rest keep their order)."""
    if len(records) > _MAX_ROWS:
        records = [r for r in records if not (r.done and "." in r.path)]
    if len(records) > _MAX_ROWS:
        records = [r for r in records if not r.done]
    return records[:_MAX_ROWS]


def _live_row(record: StepRecord, watch: Watch, now: float) -> tuple[Text, Text, Text, str]:
    style = _STYLE.get(record.status, "")
    status = record.status + (f": {record.reason}" if record.reason else "")
    if record.status == "running":  # what holds it up says more than "running"
        status = watch.note(record, now) or status
    progress = Text()
    if record.items is not None:
        progress = _fan_out(record, now)
    elif record.loop is not None:
        progress = Text(f"iteration {record.loop.iterations + (record.status == 'running')}")
    duration = record.duration
    return (
        Text(printable(record.path)),
        Text(f"{_ICON.get(record.status, '')} {printable(status)}", style=style),
        progress,
        "" if duration is None else f"{duration:.1f}s",
    )


_BAR = 8


def _fan_out(record: StepRecord, now: float) -> Text:
    """A bar, the items done of all, and the time left at the pace so far."""
    assert record.items is not None
    total, finished, failed = len(record.items), record.items.finished, record.items.failed
    filled = _BAR * finished // max(total, 1)
    line = Text.assemble(("━" * filled, "green"), ("━" * (_BAR - filled), "dim"))
    line.append(f" {finished}/{total}" + (f" · {failed} failed" if failed else ""))
    if record.started is not None and 0 < finished < total:
        left = (now - record.started) / finished * (total - finished)
        line.append(f" · ETA {left:.0f}s")
    return line


_SHOWN: dict[Mode, tuple[type[Event], ...]] = {
    "quiet": (),
    "plain": (Event,),  # a line for each, or a count of a large fan-out's items
    # The display is drawn from the run's state; events say what holds a step up, and when
    # a task's streamed text ends.
    "live": (*Watch.READS, *LiveText.READS),
}
"""The event types each mode's terminal is told of."""


# ---------------------------------------------------------------------------- plain lines

_ITEMS_TOLD = 20
"""A fan-out of up to this many items prints every item's lines; a larger one sums them up."""
_PROGRESS_LINES = 10  # a summed-up fan-out's progress lines: at each tenth of its items


class PlainLines:
    """The plain lines of a run (CI logs, pipes): a line per event, except the routine events
    of a large fan-out's items, which are counted instead.

    A fan-out of more than ``_ITEMS_TOLD`` items does not print its items' starts, successes,
    reuses, successful model and tool calls and passed gates (nor those of the steps inside a
    group item): a CI log of a million items would be millions of lines. The step prints
    ``fan: 200/2,000 items done (199 succeeded, 1 failed)`` at each tenth of its items and as it
    ends instead: by count, not by the clock, so a run prints the same lines each time. What a
    person may have to act on keeps its own line: a failed item, a retry, a fallback, a failed
    call, tool call or gate, a skip with an error, and every event of the run and whole steps.
    Every event is still in events.jsonl, and in the logs at ``-vv``.
    """

    def __init__(self) -> None:
        self._fans: dict[str, FanProgress] = {}  # the summed-up fan-outs, by step path
        # Every fan-out's path: an event of one of its items names the item (`fan[3]`); a step
        # inside a group item is named by its path alone (`outer[1].check`), though its
        # events carry the group item's number too.
        self._fan_outs: set[str] = set()

    def lines(self, entry: Entry) -> str:
        """What ``entry`` prints: its line, a progress line, both, or nothing."""
        event = entry.event
        fan = self._fan_of(event) if self._fans and isinstance(event, events.TaskEvent) else None
        if fan is None:
            return self._step_line(entry)
        line = "" if _routine(event) else plain_line(entry, self._fan_outs) + "\n"
        return line + fan.count(event, entry.ts)

    def _step_line(self, entry: Entry) -> str:
        """The line of an event outside any summed-up fan-out; a fan-out's own step line
        starts its count or ends it with its last progress line."""
        event = entry.event
        if isinstance(event, events.StepStarted) and event.items is not None:
            self._fan_outs.add(event.step)
        line = plain_line(entry, self._fan_outs) + "\n"
        if isinstance(event, events.StepStarted):  # a loop runs a fan-out again: anew
            if (event.items or 0) > _ITEMS_TOLD:
                self._fans[event.step] = FanProgress(event.step, event.items or 0)
            else:
                self._fans.pop(event.step, None)
        elif isinstance(event, _STEP_EVENTS) and event.step in self._fans:
            return self._fans[event.step].end(entry.ts) + line
        return line

    def _fan_of(self, event: events.TaskEvent) -> FanProgress | None:
        """The summed-up fan-out whose item ``event`` is about: a leaf item's events name the
        fan-out's step; the steps inside its group items are below ``fan[index].``."""
        step = event.step
        fan = self._fans.get(step)
        if fan is not None:  # the fan-out's own step events are not an item's
            return None if isinstance(event, _STEP_EVENTS) or event.item is None else fan
        at = step.find("[")
        while at >= 0:
            fan = self._fans.get(step[:at])
            if fan is not None:
                return fan
            at = step.find("[", at + 1)
        return None


class FanProgress:
    """A summed-up fan-out's items finished so far, by outcome, and its progress lines."""

    def __init__(self, path: str, total: int) -> None:
        self.path = path
        self.total = total
        self.counts = dict.fromkeys(_OUTCOMES.values(), 0)
        self.done = 0
        self.said = 0  # items done at the last progress line
        self.next = _next_line_at(0, total)  # items done at the next one
        self.ended = False  # its step ended: what is skipped after is counted, not told

    def count(self, event: Event, ts: str) -> str:
        """Count an item that finished; the progress line it completes, or ""."""
        outcome = _OUTCOMES.get(type(event))
        if outcome is None or not isinstance(event, events.TaskEvent) or event.step != self.path:
            return ""  # not an item of this fan-out finishing (a step inside a group item)
        self.counts[outcome] += 1
        self.done += 1
        return "" if self.done < self.next or self.ended else self.progress(ts)

    def end(self, ts: str) -> str:
        """The step ended: the last progress line, unless the count is told already."""
        self.ended = True
        return "" if self.said == self.done else self.progress(ts)

    def progress(self, ts: str) -> str:
        """``12:00:01.250 fan: 200/2,000 items done (199 succeeded, 1 failed)``."""
        self.said = self.done
        self.next = _next_line_at(self.done, self.total)
        counts = self.counts
        parts = [f"{counts['succeeded']:,} succeeded"]
        parts += [f"{counts['reused']:,} reused"] if counts["reused"] else []
        parts.append(f"{counts['failed']:,} failed")
        parts += [f"{counts['skipped']:,} skipped"] if counts["skipped"] else []
        done = f"{self.done:,}/{self.total:,} items done"
        return f"{ts[11:23]} {self.path}: {done} ({', '.join(parts)})\n"


def _next_line_at(done: int, total: int) -> int:
    """Items done at the next progress line: the next tenth of ``total`` after ``done``."""
    tenth = done * _PROGRESS_LINES // total + 1
    return -(-total * tenth // _PROGRESS_LINES)  # rounded up: the last line is at ``total``


# An item's outcome, by its event.
_OUTCOMES: dict[type[Event], str] = {
    events.ItemSucceeded: "succeeded",
    events.ItemReused: "reused",
    events.ItemFailed: "failed",
    events.ItemSkipped: "skipped",
}
_STEP_EVENTS = (
    events.StepStarted,
    events.StepSucceeded,
    events.StepFailed,
    events.StepSkipped,
    events.StepReused,
)
# The events of an item that are counted, not told, unless they carry an error or a failure.
_ROUTINE = (
    events.ItemStarted,
    events.Succeeded,
    events.Reused,
    events.Skipped,
    events.StepStarted,
    events.LoopIterationStarted,
    events.LoopIterationFinished,
    events.LlmCall,
    events.ToolCalled,
    events.ToolAnswered,
    events.GateChecked,
)


def _routine(event: Event) -> bool:
    """An item's event nobody has to act on: a start, a success, a call that was answered,
    a tool call that worked, a gate passed."""
    if not isinstance(event, _ROUTINE) or getattr(event, "error", None) is not None:
        return False
    return bool(getattr(event, "passed", True) and getattr(event, "ok", True))


def plain_line(entry: Entry, fan_outs: Container[str] = ()) -> str:
    """One event as one line: ``12:00:01.250 step_succeeded analyse 1.2s 340 tok $0.0012``.
    An event of an item of one of ``fan_outs`` (step paths) names its item: ``fan[2]``; the
    fan-out's own step events do not (inside a group item they carry that item's number)."""
    event = entry.event
    where = ""
    if isinstance(event, events.TaskEvent):
        where = event.step
        numbered = event.step in fan_outs and not isinstance(event, _STEP_EVENTS)
        if event.item is not None and numbered:
            where += f"[{event.item}]"
    parts = [entry.ts[11:23], f"{event.type:<16}", where]
    parts.extend(_details(event))
    return " ".join(part for part in parts if part).rstrip()


# Fields shown as key=value by whichever events have them.
_DETAIL_FIELDS = (
    "reason",
    "attempt",
    "delay",
    "iteration",
    "items",
    "gate",
    "passed",
    "window",
    "in_flight",
    "seconds",
)


def _details(event: Event) -> list[str]:
    details: list[str] = []
    duration = getattr(event, "duration_ms", None)
    if duration is not None:
        details.append(f"{duration / 1000:.2f}s")
    match event:
        case events.LlmCall():
            details.append(f"{event.provider}/{event.model}")
            details.append(f"{event.tokens_in or 0}+{event.tokens_out or 0} tok")
            details.append(usd(event.cost or 0.0))
            if event.wait_ms is not None:
                details.append(f"waited {event.wait_ms / 1000:.2f}s")
        case events.ProviderThrottled() | events.ProviderPaused():
            details.append(event.provider)
        case events.BreakerState():
            details.extend([event.provider, f"{event.old} → {event.new}"])
    finished = isinstance(event, events.RunFinished)
    for name in _DETAIL_FIELDS:
        value = getattr(event, name, None)
        if value is not None and not (finished and name == "reason"):
            details.append(f"{name}={value}")
    error = getattr(event, "error", None)
    if error is not None:
        details.append(_short(error))
    if isinstance(event, events.RunFinished):
        details.append(f"{event.status}: {one_line(event.reason or '')}")
    return details


def _short(text: str) -> str:
    return clipped(one_line(text), _MAX_ERROR)


# ---------------------------------------------------------------------------- final summary


def summary_table(report: RunReport) -> Table:
    """The steps, each loop iteration with its children, and the total. Each call is counted
    on one row only, so the tokens and cost columns add up to the total row."""
    from rich.table import Table  # drawn for a reader: a `-q` run does without it

    title = printable(f"{report.workflow.name} · run {report.run_id}")
    table = Table(title=title, title_justify="left")
    table.add_column("step")
    table.add_column("status")
    table.add_column("duration", justify="right")
    table.add_column("tokens", justify="right")
    table.add_column("cost", justify="right")
    rows = list(report.rows())
    if len(rows) <= _MAX_ROWS:
        for row in rows:
            table.add_row(*_summary_row(row, own_usage(row.entry)))
    else:  # the top-level steps whole, and below them the nested rows that did not succeed
        shown = worth_showing(rows, _MAX_ROWS)
        for row in shown:
            whole = whole_usage(row.entry) if row.depth == 0 else None
            table.add_row(*_summary_row(row, whole))
        table.add_row(Text(f"… {len(rows) - len(shown)} more in report.json", style="dim"))
    total = report.cost.total
    table.add_row(
        Text("total", style="bold"),
        Text(report.status, style=_STYLE.get(report.status, "bold red")),
        f"{report.duration_ms / 1000:.2f}s",
        str(total.tokens),
        usd(total.cost_usd),
    )
    return table


def _summary_row(row: Row, usage: Usage | None) -> tuple[Any, ...]:
    entry = row.entry
    status: str = entry.status
    if isinstance(entry, StepReport):
        status += f": {entry.reason}" if entry.reason else ""
        if entry.total is not None and entry.succeeded is not None:
            status += f" {entry.succeeded}/{entry.total}"
        if entry.loop is not None:
            ran_out = ", ran out" if entry.loop.exhausted else ""
            status += f" ({entry.loop.iterations} it{ran_out})"
    icon = _ICON.get(entry.status, "")
    cell = Text(f"{icon} {printable(status)}", style=_STYLE.get(entry.status, ""))
    if isinstance(entry, StepReport) and entry.error is not None and entry.status == "failed":
        cell.append(f"\n{_short(entry.error.message)}", style="dim")
    duration = "" if entry.duration_ms is None else f"{entry.duration_ms / 1000:.2f}s"
    calls, tokens, cost = usage or (0, 0, 0.0)
    return (
        printable(row.label),
        cell,
        duration,
        str(tokens) if tokens else "",
        usd(cost) if calls else "",
    )


# ---------------------------------------------------------------------------- other tables


def gates_table(report: RunReport) -> Table:
    """Every gate checked, per step (a fan-out's per item, a loop's child per iteration) and
    attempt (``agnoctl report show``); a big fan-out's items (in items.jsonl) one row per gate,
    as junit.xml groups them. No rows when no gate was checked."""
    from rich.table import Table

    table = Table(
        "step", "attempt", "gate", "result", "value", "finding", title="gates", title_justify="left"
    )
    iterations: list[tuple[int, str]] = []  # the loop iterations the row is in: (depth, name)
    for row in report.rows():
        while iterations and iterations[-1][0] >= row.depth:
            iterations.pop()
        step = row.entry
        if isinstance(step, LoopIterationReport):
            iterations.append((row.depth, f"iteration {step.number}"))
            continue
        where = f" ({', '.join(name for _, name in iterations)})" if iterations else ""
        executions = [(f"{step.path}[{item.index}]", item.gates) for item in step.items or ()]
        for label, gates in [*executions, (step.path, step.gates)]:
            label += where
            for gate in gates:
                result = "passed" if gate.passed else f"failed ({gate.severity})"
                cells = (gate.name, result, repr(gate.value), gate.finding or "")
                table.add_row(label, str(gate.attempt or ""), *map(printable, cells))
        if step.items_file is None:
            continue
        for name, group in report.tally(step).item_gates.items():
            if group.failed or group.warned:
                severity = "fail" if group.failed else "warn"
                result = f"{group.failed or group.warned} of {group.checked} failed ({severity})"
            else:
                result = f"passed ({group.checked})"
            first = "" if group.first is None else f"first: item {group.first[0]}: {group.first[1]}"
            table.add_row(f"{step.path}[*]", "", *map(printable, (name, result, "", first)))
    return table


def runs_table(runs: list[RunSummary]) -> Table:
    """The runs, newest first (``agnoctl runs list``)."""
    from rich.table import Column, Table

    # The run id starts with its UTC start time: no column of its own for it.
    table = Table(Column("run id", no_wrap=True), "workflow", "status", "duration", "cost")
    for run in runs:
        table.add_row(
            printable(run.run_id),
            printable(run.workflow or "-"),
            run.status,
            "-" if run.duration_ms is None else f"{run.duration_ms / 1000:.2f}s",
            "-" if run.cost_usd is None else usd(run.cost_usd),
        )
    return table
