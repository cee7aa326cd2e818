"""The run's derived views, written beside report.json: ``report.html`` and ``metrics.prom``.

Both are built from the report as written (secrets already masked) and from ``events.jsonl``
(or the run's tally of its events as they were written), so they can hold nothing that
report.json and the journal do not.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from agnoctl.reports.html import render_html
from agnoctl.reports.metrics import JournalTally, journal, render_metrics
from agnoctl.reports.model import RunReport

if TYPE_CHECKING:
    from agnoctl.spec.models import Workflow

HTML_FILE = "report.html"
METRICS_FILE = "metrics.prom"


def write_views(
    run_dir: Path,
    report: RunReport,
    workflow: Workflow | None = None,
    redact: Callable[[str], str] | None = None,
    *,
    dumped: str | None = None,
    tally: JournalTally | None = None,
) -> None:
    """Write report.html and metrics.prom into ``run_dir`` (atomically, like every report file).

    ``dumped`` is ``report.dumps()`` when the caller has it already (a big report takes a
    tenth of a second to dump); ``tally`` the run's tally of its journal, when it kept one
    (else the journal is read back).
    """
    from agnoctl.engine.rundir import atomic_write

    if redact is not None:
        # Mask first, then render: a secret is found in the JSON text, before HTML escaping
        # could change how it is spelled. Most reports hold no secret (the engine masks its
        # report already): then there is nothing to read back.
        text = report.dumps() if dumped is None else dumped
        masked = redact(text)
        if masked != text:
            report = RunReport.model_validate_json(masked).located(run_dir)
    events = journal(run_dir) if tally is None else tally
    atomic_write(run_dir / METRICS_FILE, render_metrics(report, events))
    page = render_html(report, workflow)
    # The workflow's own text (prompts, argv) may hold an interpolated ${SECRET} too.
    atomic_write(run_dir / HTML_FILE, page if redact is None else redact(page))


__all__ = ["HTML_FILE", "METRICS_FILE", "write_views"]
