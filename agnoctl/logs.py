"""What ``agnoctl run`` logs: its options, and one log line per event of the run.

``-v`` shows info, ``-vv`` debug; without it only warnings and errors. The run's events become
log lines through ``log_event``, the listener the engine hands to its ``EventSink``, so the
log, ``events.jsonl`` and the terminal tell the same story. A run is told of the event types
that can reach the level it logs alone (``LogOptions.listener``): at ``-v`` a fan-out's
``item_started`` and ``llm_call``, debug lines, are not even looked at.

How a line is written (its ids, redaction, the console or JSON form) and ``configure_logging``
are ``agnoctl.log_config``'s, below every layer so the library can log too; they are
re-exported here, with this module's own names, as the log's one API.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agnoctl.log_config import (
    ID_KEYS,
    LogFormat,
    configure_logging,
    get_logger,
    level_for,
)

if TYPE_CHECKING:
    from agnoctl.engine.state import RunState
    from agnoctl.events import Entry, Subscription
    from agnoctl.reports.model import RunReport
    from agnoctl.session import RunObserver

# How loud each event type is: progress is info, the chatter of calls is debug, trouble is a
# warning or an error. Types not listed are info.
_EVENT_LEVELS: dict[str, int] = {
    "attempt_started": logging.DEBUG,
    "item_started": logging.DEBUG,
    "step_started": logging.DEBUG,
    "llm_call": logging.DEBUG,
    "tool_call": logging.DEBUG,
    "tool_result": logging.DEBUG,
    "loop_iteration_started": logging.DEBUG,
    "loop_iteration_finished": logging.DEBUG,
    "attempt_failed": logging.WARNING,
    "retry_scheduled": logging.WARNING,
    "budget_warning": logging.WARNING,
    "breaker_state": logging.WARNING,
    "provider_throttled": logging.WARNING,
    "provider_paused": logging.WARNING,
    "item_failed": logging.WARNING,
    "step_failed": logging.ERROR,
}
# What some events say makes them louder than their type: a gate that failed, a run that did
# not pass.
_LOUDEST: dict[str, int] = {"gate_result": logging.WARNING, "run_finished": logging.ERROR}


@dataclass(frozen=True, slots=True)
class LogOptions:
    """What ``agnoctl run`` was asked to log (``--log-format``, ``--log-file``, ``-v``)."""

    format: LogFormat | None = None
    file: Path | None = None
    verbosity: int = 0

    @property
    def requested(self) -> bool:
        """Logs of the run's events were asked for; otherwise only warnings are logged."""
        return self.format is not None or self.file is not None or self.verbosity > 0

    @property
    def shown(self) -> int:
        """The verbosity logged: a log file gets info lines even without ``-v``."""
        return max(self.verbosity, 1) if self.file is not None else self.verbosity

    def listener(self) -> Subscription:
        """``log_event``, told of the event types that can reach the level logged."""
        from agnoctl import events

        level = level_for(self.shown)
        logged = tuple(
            cls
            for name, cls in events.EVENT_CLASSES.items()
            if _LOUDEST.get(name, _EVENT_LEVELS.get(name, logging.INFO)) >= level
        )
        return events.Subscription(logged, log_event)


@contextmanager
def run_logging(options: LogOptions) -> Iterator[None]:
    """Logging for one run: as asked, and a log file gets info lines even without ``-v``."""
    if not options.requested:
        yield
        return
    with configure_logging(
        log_format=options.format or "console", verbosity=options.shown, log_file=options.file
    ):
        yield


class LoggedRun:
    """A run observer that gives every log line of the run its id, and hands everything on to
    ``inner`` (its events to ``inner``'s own listener); the events are logged by
    ``LogOptions.listener``."""

    def __init__(self, inner: RunObserver) -> None:
        self._inner = inner
        self.event = inner.event

    def run_started(self, state: RunState) -> None:
        import structlog  # lazily: see agnoctl.log_config

        structlog.contextvars.bind_contextvars(run_id=state.run_id)
        self._inner.run_started(state)

    def run_finished(self, report: RunReport, run_dir: Path) -> None:
        self._inner.run_finished(report, run_dir)


def log_event(entry: Entry) -> None:
    """An ``EventSink`` listener: one log line per run event, at the level its type deserves,
    with the fields its journal line has. The engine gives listeners events already passed
    through the run's redactor (which also knows the providers' API keys); the log's own
    redaction processor masks them again."""
    from agnoctl import events  # the run has imported it: logging alone does not need it

    event = entry.event
    fields = entry.as_dict()
    del fields["type"], fields["ts"]
    level = _EVENT_LEVELS.get(event.type, logging.INFO)
    match event:
        case events.GateChecked(passed=False):
            level = _LOUDEST[event.type]
        case events.RunFinished(status=status) if status != "passed":
            level = _LOUDEST[event.type]
    get_logger().log(level, event.type, **fields)


__all__ = [
    "ID_KEYS",
    "LogFormat",
    "LogOptions",
    "LoggedRun",
    "configure_logging",
    "get_logger",
    "level_for",
    "log_event",
    "run_logging",
]
