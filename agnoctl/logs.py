"""What ``agnoctl run`` logs: its options, and one log line per event of the run.

``-v`` shows info, ``-vv`` debug; without it only warnings and errors. The run's events become
log lines through ``log_event``, the listener the engine hands to its ``EventSink``, so the
log, ``events.jsonl`` and the terminal tell the same story.

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
    from agnoctl.events import Entry
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


@contextmanager
def run_logging(options: LogOptions) -> Iterator[None]:
    """Logging for one run: as asked, and a log file gets info lines even without ``-v``."""
    if not options.requested:
        yield
        return
    verbosity = max(options.verbosity, 1) if options.file is not None else options.verbosity
    with configure_logging(
        log_format=options.format or "console", verbosity=verbosity, log_file=options.file
    ):
        yield


class LoggedRun:
    """A run observer that logs each event, then hands everything on to ``inner``.

    The engine gives observers events already passed through the run's redactor (which also
    knows the providers' API keys); the log's own redaction processor masks them again.
    """

    def __init__(self, inner: RunObserver) -> None:
        self._inner = inner

    def run_started(self, state: RunState) -> None:
        import structlog  # lazily: see agnoctl.log_config

        structlog.contextvars.bind_contextvars(run_id=state.run_id)
        self._inner.run_started(state)

    def event(self, entry: Entry) -> None:
        log_event(entry)
        self._inner.event(entry)

    def run_finished(self, report: RunReport, run_dir: Path) -> None:
        self._inner.run_finished(report, run_dir)


def log_event(entry: Entry) -> None:
    """An ``EventSink`` listener: one log line per run event, at the level its type deserves,
    with the fields its journal line has."""
    from agnoctl import events  # the run has imported it: logging alone does not need it

    event = entry.event
    fields = entry.as_dict()
    del fields["type"], fields["ts"]
    level = _EVENT_LEVELS.get(event.type, logging.INFO)
    match event:
        case events.GateChecked(passed=False):
            level = logging.WARNING
        case events.RunFinished(status=status) if status != "passed":
            level = logging.ERROR
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
