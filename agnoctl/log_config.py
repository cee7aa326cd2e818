"""How agnoctl writes log lines: structlog's processors and configuration, and ``get_logger``.

Every line is one log event carrying ``run_id``, ``step``, ``item`` and ``attempt`` (``null``
where they do not apply, so a JSON consumer can always index on them), a UTC ISO timestamp and
a level. Secrets are masked as the last processor before the renderer, so nothing a processor
or a caller adds escapes it: inside a run by the run's ``Redactor`` (``redact.masking``), which
also knows the providers' API keys whatever their variables are called; outside one by the
environment's secret-named variables.

Standard output is left for results (reports, tables, JSON): logs go to stderr, or to
``--log-file`` instead. Until a command configures a log (``configure_logging``), the quiet
default holds: warnings and errors, to stderr.

Below every layer, so the library (the response cache, webhooks) logs through ``get_logger``
and gets that default; what ``agnoctl run`` logs of its events is ``agnoctl.logs``.
structlog is imported by the functions that configure a log or write to one, not with this
module: a run that logs nothing never loads it, nor the console renderer's rich tracebacks.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, Literal

from agnoctl import redact
from agnoctl.errors import UsageError
from agnoctl.printable import printable

LogFormat = Literal["console", "json"]
ID_KEYS = ("run_id", "step", "item", "attempt")
"""Keys every log line carries."""

_LEVELS = (logging.WARNING, logging.INFO, logging.DEBUG)


class _Sink:
    """Where log lines go; a log that cannot be written (a closed pipe, a full disk) is lost
    rather than allowed to stop the run it describes."""

    def __init__(self, stream: Callable[[], IO[str]]) -> None:
        self._stream = stream  # looked up per write: rich's live display swaps sys.stderr
        self.failure: OSError | None = None  # the first write that failed

    def write(self, text: str) -> int:
        try:
            return self._stream().write(text)
        except OSError as exc:
            self.failure = self.failure or exc
            return 0
        except ValueError:  # closed
            return 0

    def flush(self) -> None:
        with suppress(OSError, ValueError):
            self._stream().flush()


def _masked(
    logger: object, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Every key and value of the event with the active redactor's secrets masked."""
    return redact.active().redact_obj(dict(event))


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


def _printable_line(_logger: Any, _name: str, line: str) -> str:
    """A JSON log line as the terminal shows text from outside (``agnoctl.printable``: it
    stays JSON meaning the same), so that a value cannot be a CI log's command."""
    return printable(line)


def _drop_empty_ids(
    logger: object, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # A console line is read by a person: ids that do not apply are noise there.
    for key in ID_KEYS:
        if event.get(key) is None:
            event.pop(key, None)
    return event


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
        _masked,
    ]
    if log_format == "json":
        renderer: list[Any] = [structlog.processors.JSONRenderer(default=str), _printable_line]
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
) -> Iterator[None]:
    """Route logs for the duration of a command; the quiet default is restored afterwards.

    ``log_file`` receives the lines instead of stderr (appended, one line per event).
    """
    global _log_file
    import structlog  # lazily: see the module docstring

    level = level_for(verbosity)
    if log_file is None:
        _configure(log_format, level, _Sink(lambda: sys.stderr), colors=sys.stderr.isatty())
        sink = None
    else:
        file = _log_file = _open_log_file(log_file)
        sink = _Sink(lambda: file)
        _configure(log_format, level, sink, colors=False)
    try:
        yield
    finally:
        _configure_default()
        structlog.contextvars.clear_contextvars()
        if sink is not None:
            _close_log_file(sink, log_file)


def _open_log_file(path: Path) -> IO[str]:
    """Open ``--log-file`` for appending; a path that cannot be one (a directory, a folder
    that cannot be made, no permission) is the command line's error, naming the option."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Without O_NONBLOCK a named pipe no process reads would wait for one forever. The
        # lines hold prompts and replies: its owner's only, as the run directory's files are.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o600)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise UsageError(
                f"--log-file {path} cannot be written: a named pipe no process reads"
            ) from None
        # The folder it would go in, when that is what failed (a file of that name).
        where = f"{exc.filename}: " if exc.filename and exc.filename != str(path) else ""
        reason = exc.strerror or str(exc)
        raise UsageError(f"--log-file {path} cannot be written: {where}{reason}") from None
    os.set_blocking(fd, True)  # a pipe's reader may be slower than the run: wait for it
    return open(fd, "a", encoding="utf-8", buffering=1)


def _close_log_file(sink: _Sink, path: Path | None) -> None:
    """Close ``--log-file``; lines it lost (a full disk) are told as a warning on stderr, the
    command's verdict kept: the log describes the run, it is not the run's result."""
    global _log_file
    if _log_file is None:
        return
    try:
        _log_file.close()
    except OSError as exc:  # what was left in its buffer could not be written either
        sink.failure = sink.failure or exc
    _log_file = None
    if sink.failure is not None:
        reason = sink.failure.strerror or str(sink.failure)
        get_logger().warning(f"lines of the log file {path} were lost: {reason}")


def get_logger(**bound: Any) -> Any:
    """A structlog logger with ``bound`` values on every line."""
    import structlog  # lazily: see the module docstring

    if not structlog.is_configured():
        _configure_default()
    return structlog.get_logger(**bound)


__all__ = [
    "ID_KEYS",
    "LogFormat",
    "configure_logging",
    "get_logger",
    "level_for",
]
