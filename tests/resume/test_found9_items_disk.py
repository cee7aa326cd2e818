"""A disk that fills up under the items file (``.items.jsonl.tmp``, where a fan-out's finished
items go while the run goes on): the run stops as for any other file of the run directory,
one error naming that file, resumable; never a traceback."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import IO, Any

import pytest

from agnoctl.engine import run as engine_run
from agnoctl.engine.state import ItemRecord, StepRecord
from agnoctl.errors import RunDirUnwritable
from agnoctl.reports.items import ItemsFile
from agnoctl.session import run_workflow

_write_item = ItemsFile.__call__


def _on_a_full_disk(self: ItemsFile, step: StepRecord, item: ItemRecord) -> None:
    # The lines go to /dev/full: buffered, so the disk refuses them at the next flush.
    if self._handle is None:
        handle: IO[bytes] = open("/dev/full", "wb")  # noqa: SIM115 - closed by ItemsFile
        self._handle = handle
    _write_item(self, step, item)


def _open_files() -> set[str]:
    found: set[str] = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # the listing's own descriptor, closed
            found.add(os.readlink(f"/proc/self/fd/{fd}"))
    return found


def _flow(folder: Path, waiting: list[str]) -> Path:
    flow: dict[str, Any] = {
        "version": 1,
        "name": "items-disk",
        "agents": {"a": {"model": "mock/echo"}},
        "steps": {
            "fan": {"for_each": [1, 2], "agent": "a", "prompt": "item {{ item }}"},
            # Runs until the failed write stops the run: a checkpoint is built meanwhile.
            "wait": {"run": waiting, "needs": ["fan"]},
        },
    }
    path = folder / "flow.yaml"
    path.write_text(json.dumps(flow), encoding="utf-8")
    return path


def test_a_checkpoint_that_cannot_read_back_the_items_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(ItemsFile, "__call__", _on_a_full_disk)
    monkeypatch.setattr(engine_run, "CHECKPOINT_INTERVAL", 0.0)  # one as soon as an item is in
    monkeypatch.setattr(engine_run, "CHECKPOINT_COST_FACTOR", 0)
    flow = _flow(tmp_path, ["sleep", "60"])
    with pytest.raises(RunDirUnwritable) as stopped:
        run_workflow(flow)
    # The stopped run closed its items file: a library caller keeps no descriptor of it.
    assert "/dev/full" not in _open_files()
    message = str(stopped.value)
    run_dir = next((tmp_path / ".agnoctl" / "runs").glob("2*"))
    assert message == (
        f"cannot write the report {run_dir.relative_to(tmp_path) / '.items.jsonl.tmp'}: "
        "No space left on device; free space and run "
        f"`agnoctl run {flow} --resume latest`"
    )
