"""``items.jsonl``: the records of a big run's ``for_each`` items, beside report.json.

A finished item of an agent or command fan-out leaves the engine's memory at once
(``agnoctl.engine.state.FanOut``): its record is written here, one JSON object per line (the
item's ``step`` path, then its ``ItemReport`` fields), as it finishes, so the order is the
order items finished, each line naming its ``index``. The run writes the lines to a
temporary file (``.items.jsonl.tmp``, which a killed run leaves for the next segment to
delete); the final report then either puts them back into report.json, when the run's
spilled fan-outs hold at most ``INLINE_ITEMS`` items in all (a small run's report.json reads
as it always did), or moves the file into place as ``items.jsonl`` before report.json names
it (``StepReport.items_file``). Lines are masked as report.json is.

The file a run names is whole: it is fsynced before it is moved into place, and a killed run
leaves only the temporary one. So a reader refuses a line it cannot read (cut short by a full
disk or a partial copy, or damaged), naming the file and the line: read as fewer items, a
diff would report the lost ones as removed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from agnoctl.engine.state import ItemRecord, StepRecord
from agnoctl.errors import UsageError

ITEMS_FILE = "items.jsonl"
INLINE_ITEMS = 1_000
"""Most items a run's spilled fan-outs may hold in all for report.json to list them itself."""

_PART = f".{ITEMS_FILE}.tmp"  # a temporary name: remove_temporaries deletes a killed run's
_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE


class ItemsFile:
    """Where the engine's finished items go (``agnoctl.engine.state.Spill``), as lines of
    ``fields(step path, item)`` (the step's path first); ``finish`` puts them where the
    final report says."""

    def __init__(
        self,
        run_dir: Path,
        fields: Callable[[str, ItemRecord], dict[str, Any]],
        redact: Callable[[str], str] | None = None,
    ) -> None:
        self.path = run_dir / _PART
        self._fields = fields
        self._redact = redact
        self._handle: IO[bytes] | None = None

    def __call__(self, step: StepRecord, item: ItemRecord) -> None:
        line = orjson.dumps(self._fields(step.path, item), option=_OPTIONS)
        if self._redact is not None:
            line = self._redact(line.decode()).encode()
        with self._naming():
            if self._handle is None:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                self._handle = os.fdopen(fd, "wb")
            self._handle.write(line)

    def written(self) -> dict[str, list[dict[str, Any]]]:
        """The lines written so far, by step path (a small run's, to list in report.json)."""
        by_step: dict[str, list[dict[str, Any]]] = {}
        if self._handle is None:
            return by_step
        with self._naming():
            self._handle.flush()
        for _, step, line in _lines(self.path):
            by_step.setdefault(step, []).append(line)
        return by_step

    def close(self) -> None:
        """Close the file unfinished (the run stopped first): what it failed to write the
        error that stopped the run has said."""
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()

    def finish(self, keep: bool) -> None:
        """Make the lines durable as ``items.jsonl`` (``keep``), or drop them (report.json
        lists them); either way an ``items.jsonl`` of an earlier segment goes."""
        final = self.path.with_name(ITEMS_FILE)
        handle, self._handle = self._handle, None
        if handle is not None:
            with self._naming(), handle:
                handle.flush()
                if keep:
                    os.fsync(handle.fileno())
            if keep:
                os.replace(self.path, final)
                return
            self.path.unlink()
        with contextlib.suppress(FileNotFoundError):
            final.unlink()

    @contextlib.contextmanager
    def _naming(self) -> Iterator[None]:
        """A refused write names this file: a buffered write's error names none, and the run
        would say that report.json could not be written."""
        try:
            yield
        except OSError as exc:
            if exc.filename is not None:
                raise
            raise OSError(exc.errno, exc.strerror, os.fspath(self.path)) from exc


def read_items(path: Path, step: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The item data of ``step`` in the items file at ``path``, in the order they finished,
    each with its line's number (``RunReport.items_of`` makes them ``ItemReport``s).

    Raises ``UsageError`` (``damaged``) naming the file and the line that cannot be read.
    """
    for number, line_step, line in _lines(path):
        if line_step == step:
            yield number, line


def _lines(path: Path) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(line number, step path, item data) of each line."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.endswith(b"\n"):
                raise damaged(path, number, "cut short (the disk filled, or a copy was cut off)")
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise damaged(path, number, "not JSON") from None
            step = line.pop("step", None) if isinstance(line, dict) else None
            if not isinstance(step, str):
                raise damaged(path, number, "no item record (no `step`)")
            yield number, step, line


def damaged(path: Path, number: int, what: str) -> UsageError:
    """The error that refuses line ``number`` of the items file at ``path``."""
    return _unreadable(f"{path} line {number}: {what}")


def incomplete(path: Path, step: str, found: int, expected: int) -> UsageError:
    """The error that refuses an items file holding another number of ``step``'s items than
    report.json says it wrote (lines lost or added whole, which no line shows)."""
    said = f"{found:,} items of step {step}, where report.json says {expected:,}"
    return _unreadable(f"{path}: {said}")


def _unreadable(what: str) -> UsageError:
    return UsageError(
        f"{what}: the run's items cannot be read whole, so nothing is made from them; restore "
        "the file from a copy, or run the workflow again"
    )


__all__ = ["INLINE_ITEMS", "ITEMS_FILE", "ItemsFile", "damaged", "incomplete", "read_items"]
