"""Structured logs: structlog, configured once per command, to stderr or a file.

Every line is one log event carrying ``run_id``, ``step``, ``item`` and ``attempt`` (``null``
where they do not apply, so a JSON consumer can always index on them), a UTC ISO timestamp and
a level. Secrets are masked by the run's ``Redactor``, run as the last processor before the
renderer, so nothing a processor or a caller adds escapes it.

Standard output is left for results (reports, tables, JSON): logs go to stderr, or to
``--log-file`` instead. ``-v`` shows info, ``-vv`` debug; without it only warnings and errors.
The run's events become log lines through ``log_event``, the listener the engine hands to its
``EventSink``, so the log, ``events.jsonl`` and the terminal tell the same story.

structlog is imported by the functions that configure a log or write to one, not with this
module: a run that logs nothing never loads it, nor the console renderer's rich tracebacks.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from agnoctl.printable import printable
from agnoctl.redact import Redactor

if TYPE_CHECKING:
    from agnoctl.engine.state import RunState
    from agnoctl.events import Entry
    from agnoctl.reports.model import RunReport
    from agnoctl.session import RunObserver

LogFormat = Literal["console", "json"]
ID_KEYS = ("run_id", "step", "item", "attempt")
"""Keys every log line carries."""

_LEVELS = (logging.WARNING, logging.INFO, logging.DEBUG)

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


class _Sink:
    """Where log lines go; a log that cannot be written (a closed pipe, a full disk) is lost
    rather than allowed to stop the run it describes."""

    def __init__(self, stream: Callable[[], IO[str]]) -> None:
        self._stream = stream  # looked up per write: rich's live display swaps sys.stderr

    def write(self, text: str) -> int:
        try:
            return self._stream().write(text)
        except (OSError, ValueError):
            return 0

    def flush(self) -> None:
        with suppress(OSError, ValueError):
            self._stream().flush()


class _RedactProcessor:
    """Masks secrets in every key and value of a log event."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    def __call__(
        self, logger: object, method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        return self.redactor.redact_obj(dict(event))


def _add_ids(
    logger: object, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in ID_KEYS:
        event.setdefault(key, None)
    return event


def _printable(
    logger: object, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # A console line may carry what a step or a model wrote: its control characters are
    # shown as escapes, never obeyed by the terminal (JSON lines escape them already).
    return {
        key: printable(value) if isinstance(value, str) else value for key, value in event.items()
    }


def _drop_empty_ids(
    logger: object, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # A console line is read by a person: ids that do not apply are noise there.
    for key in ID_KEYS:
        if event.get(key) is None:
            event.pop(key, None)
    return event


_redact = _RedactProcessor(Redactor.from_environment())
_log_file: IO[str] | None = None


def level_for(verbosity: int) -> int:
    """The lowest level shown: warning by default, info with ``-v``, debug with ``-vv``."""
    return _LEVELS[max(0, min(verbosity, len(_LEVELS) - 1))]


def _configure(log_format: LogFormat, level: int, stream: _Sink, colors: bool) -> None:
    import structlog  # lazily: see the module docstring

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_ids,
        structlog.processors.format_exc_info,
        _redact,
    ]
    if log_format == "json":
        renderer: list[Any] = [structlog.processors.JSONRenderer(default=str)]
    else:
        renderer = [_drop_empty_ids, _printable, structlog.dev.ConsoleRenderer(colors=colors)]
    structlog.configure(
        processors=[*shared, *renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def _configure_default() -> None:
    _configure("console", logging.WARNING, _Sink(lambda: sys.stderr), colors=False)


@contextmanager
def configure_logging(
    *,
    log_format: LogFormat = "console",
    verbosity: int = 0,
    log_file: Path | None = None,
    redactor: Redactor | None = None,
) -> Iterator[None]:
    """Route logs for the duration of a command; the quiet default is restored afterwards.

    ``log_file`` receives the lines instead of stderr (appended, one line per event).
    ``redactor`` masks secrets; without one, the values of secret-named environment variables
    are masked.
    """
    global _log_file
    import structlog  # lazily: see the module docstring

    use_redactor(redactor or Redactor.from_environment())
    level = level_for(verbosity)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file = _log_file = log_file.open("a", encoding="utf-8", buffering=1)
        _configure(log_format, level, _Sink(lambda: file), colors=False)
    else:
        _configure(log_format, level, _Sink(lambda: sys.stderr), colors=sys.stderr.isatty())
    try:
        yield
    finally:
        _configure_default()
        structlog.contextvars.clear_contextvars()
        if _log_file is not None:
            _log_file.close()
            _log_file = None


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
        import structlog  # lazily: see the module docstring

        structlog.contextvars.bind_contextvars(run_id=state.run_id)
        self._inner.run_started(state)

    def event(self, entry: Entry) -> None:
        log_event(entry)
        self._inner.event(entry)

    def run_finished(self, report: RunReport, run_dir: Path) -> None:
        self._inner.run_finished(report, run_dir)


def use_redactor(redactor: Redactor) -> None:
    """Mask this redactor's secrets from now on (the run's redactor knows the API keys)."""
    _redact.redactor = redactor


def get_logger(**bound: Any) -> Any:
    """A structlog logger with ``bound`` values on every line."""
    import structlog  # lazily: see the module docstring

    if not structlog.is_configured():
        _configure_default()
    return structlog.get_logger(**bound)


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
    "use_redactor",
]
