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
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from agnoctl.engine.state import ItemRecord, StepRecord

ITEMS_FILE = "items.jsonl"
INLINE_ITEMS = 1_000
"""Most items a run's spilled fan-outs may hold in all for report.json to list them itself."""

_PART = f".{ITEMS_FILE}.tmp"  # a temporary name: remove_temporaries deletes a killed run's
_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE


class ItemsFile:
    """Where the engine's finished items go (``agnoctl.engine.state.Spill``), as lines of
    ``fields(item)``; ``finish`` puts them where the final report says."""

    def __init__(
        self,
        run_dir: Path,
        fields: Callable[[ItemRecord], dict[str, Any]],
        redact: Callable[[str], str] | None = None,
    ) -> None:
        self.path = run_dir / _PART
        self._fields = fields
        self._redact = redact
        self._handle: IO[bytes] | None = None

    def __call__(self, step: StepRecord, item: ItemRecord) -> None:
        line = orjson.dumps({"step": step.path, **self._fields(item)}, option=_OPTIONS)
        if self._redact is not None:
            line = self._redact(line.decode()).encode()
        if self._handle is None:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            self._handle = os.fdopen(fd, "wb")
        self._handle.write(line)

    def written(self) -> dict[str, list[dict[str, Any]]]:
        """The lines written so far, by step path (a small run's, to list in report.json)."""
        by_step: dict[str, list[dict[str, Any]]] = {}
        if self._handle is None:
            return by_step
        self._handle.flush()
        for line in _lines(self.path):
            by_step.setdefault(line.pop("step"), []).append(line)
        return by_step

    def finish(self, keep: bool) -> None:
        """Make the lines durable as ``items.jsonl`` (``keep``), or drop them (report.json
        lists them); either way an ``items.jsonl`` of an earlier segment goes."""
        final = self.path.with_name(ITEMS_FILE)
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.flush()
            if keep:
                os.fsync(handle.fileno())
            handle.close()
            if keep:
                os.replace(self.path, final)
                return
            self.path.unlink()
        with contextlib.suppress(FileNotFoundError):
            final.unlink()


def read_items(path: Path, step: str) -> Iterator[dict[str, Any]]:
    """The item data of ``step`` in the items file at ``path``, in the order they finished."""
    for line in _lines(path):
        if line.pop("step") == step:
            yield line


def _lines(path: Path) -> Iterable[dict[str, Any]]:
    with path.open("rb") as handle:
        for raw in handle:
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue  # a torn last line: the process was killed while writing it
            if isinstance(line, dict) and isinstance(line.get("step"), str):
                yield line


__all__ = ["INLINE_ITEMS", "ITEMS_FILE", "ItemsFile", "read_items"]
