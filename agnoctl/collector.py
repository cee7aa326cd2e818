"""How ``agnoctl run`` sets Python's cycle collector for the run it is the process of.

A library call (``agnoctl.run_workflow``) leaves its caller's collector as it is: the caller's
program may have its own reasons. The ``agnoctl`` process exists for one run, so the command
line tunes the collector for it (``tuned_for_a_run``):

- The young generation is collected less often, for the whole command. A step leaves a few
  long-lived objects (its record, its output) and many short-lived ones; with the default
  threshold of 700 a young collection came every few dozen steps and traversed objects about
  to be freed anyway (2% of a step's instructions). Preparing the run (a record per step, the
  dump its fingerprint is made from) allocates as much, and there the collections it set off,
  the older generation's among them, rescanned the workflow just loaded: 3 % of a 600-step
  run's instructions.
- What exists when the steps start is kept off the collector (``gc.freeze``) until the run
  has finished. The workflow's models, the records of every step and the imported modules live
  as long as the run, and every full collection scanned them all again: a quarter of a
  10,000-step run's time. Frozen objects are still freed by reference counting. A process that
  froze objects itself is left alone: unfreezing would undo its own freeze.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agnoctl.engine.state import RunState
    from agnoctl.reports.model import RunReport
    from agnoctl.session import RunObserver

YOUNG_THRESHOLD = 10_000


@contextlib.contextmanager
def tuned_for_a_run(observer: RunObserver) -> Iterator[RunObserver]:
    """The collector tuned while the block runs, back as it was after; yields the observer
    to give the run (``observer``, which also freezes what lasts as the steps start)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], YOUNG_THRESHOLD), *thresholds[1:])
    sparing = _SparingWhatLasts(observer)
    try:
        yield sparing
    finally:
        sparing.thaw()
        gc.set_threshold(*thresholds)


class _SparingWhatLasts:
    """A run observer that freezes what exists as the steps start, and thaws it as the run
    finishes; the rest is ``observer``'s."""

    def __init__(self, observer: RunObserver) -> None:
        self._observer = observer
        self._frozen = False
        # The observer's own listener, not a call through this one: an observer that
        # subscribes to some event types (``events.Subscription``) is told of those alone.
        self.event = observer.event

    def run_started(self, state: RunState) -> None:
        if not gc.get_freeze_count():
            gc.freeze()
            self._frozen = True
        self._observer.run_started(state)

    def run_finished(self, report: RunReport, run_dir: Path) -> None:
        self.thaw()
        self._observer.run_finished(report, run_dir)

    def thaw(self) -> None:
        """Hand what was frozen back to the collector (once)."""
        if self._frozen:
            gc.unfreeze()
            self._frozen = False
