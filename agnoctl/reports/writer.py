"""The report files of a run directory, and what the run tells the world once.

report.json comes first and the other report files are made from it (and, for metrics.prom,
from the journal), so that a run whose report.json is final can get them back
(``write_derived_files``, ``stale_files``). Every file is written atomically
(``agnoctl.engine.rundir.atomic_write``).

A finished run appends its summary to the GitHub job page (``$GITHUB_STEP_SUMMARY``) and
sends its webhooks once; ``published.json`` records which of these the run's last segment
has done, so that making lost report files again (``--resume``) repeats neither.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson

from agnoctl.engine.rundir import OUTPUTS_DIR, REPORT_FILE, atomic_write
from agnoctl.reports.junit import render_junit
from agnoctl.reports.metrics import JournalTally
from agnoctl.reports.model import RunReport
from agnoctl.reports.summary import render_summary
from agnoctl.reports.views import HTML_FILE, METRICS_FILE, write_views
from agnoctl.spec.models import output_stem

if TYPE_CHECKING:
    from agnoctl.spec.models import Workflow

JUNIT_FILE = "junit.xml"
SUMMARY_FILE = "summary.md"
PUBLISHED_FILE = "published.json"

Publication = Literal["step_summary", "webhooks"]
"""What a finished run tells the world, once: the GitHub job summary, the webhooks."""


def write_report_json(
    run_dir: Path,
    report: RunReport,
    redact: Callable[[str], str] | None = None,
    *,
    dumped: str | None = None,
) -> str:
    """report.json, passed through ``redact``; returns ``report.dumps()`` (``dumped``, when
    the caller has it already), which ``write_derived_files`` takes."""
    if dumped is None:
        dumped = report.dumps()
    atomic_write(run_dir / REPORT_FILE, redact(dumped) if redact is not None else dumped)
    return dumped


def write_derived_files(
    run_dir: Path,
    report: RunReport,
    redact: Callable[[str], str] | None = None,
    workflow: Workflow | None = None,
    *,
    dumped: str | None = None,
    tally: JournalTally | None = None,
) -> None:
    """Every report file made from report.json: junit.xml, summary.md, outputs/, report.html
    and metrics.prom (which reads the journal too, or ``tally``, the run's tally of it), each
    passed through ``redact``; ``workflow`` lets report.html draw the DAG and show the
    prompts. ``dumped`` is ``report.dumps()`` when the caller has it already."""

    def clean(text: str) -> str:
        return redact(text) if redact is not None else text

    atomic_write(run_dir / JUNIT_FILE, clean(render_junit(report)))
    atomic_write(run_dir / SUMMARY_FILE, clean(render_summary(report)))
    # Made even with no output to hold: SPEC names outputs/ as part of every run directory,
    # and a CI step collecting it must find it.
    (run_dir / OUTPUTS_DIR).mkdir(exist_ok=True)
    for name, value in report.outputs.items():
        file_name, text = output_file(name, value)
        atomic_write(run_dir / OUTPUTS_DIR / file_name, clean(text))
    write_views(run_dir, report, workflow, redact, dumped=dumped, tally=tally)


def derived_files(outputs: Mapping[str, Any]) -> list[str]:
    """The paths, in the run directory, of the files ``write_derived_files`` writes for a
    report whose workflow outputs are ``outputs``."""
    files = [f"{OUTPUTS_DIR}/{output_file(name, value)[0]}" for name, value in outputs.items()]
    return [JUNIT_FILE, SUMMARY_FILE, *files, HTML_FILE, METRICS_FILE]


def stale_files(run_dir: Path, outputs: Mapping[str, Any]) -> list[str]:
    """The files made from report.json (whose workflow outputs are ``outputs``) that are
    missing or older than it (left from an earlier segment): a kill came between them."""
    written = (run_dir / REPORT_FILE).stat().st_mtime_ns
    stale = []
    for name in derived_files(outputs):
        try:
            fresh = (run_dir / name).stat().st_mtime_ns >= written
        except FileNotFoundError:
            fresh = False
        if not fresh:
            stale.append(name)
    return stale


def output_file(name: str, value: Any) -> tuple[str, str]:
    """File name and content of one workflow output: JSON when structured, else text."""
    safe = output_stem(name)
    if isinstance(value, dict | list):
        return f"{safe}.json", json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n"
    text = "" if value is None else value if isinstance(value, str) else json.dumps(value)
    return f"{safe}.txt", text


# ---------------------------------------------------------------------------- told once


def published(run_dir: Path, segment: int) -> set[Publication] | None:
    """What segment ``segment`` of the run (from 1: each ``--resume`` adds one) has told the
    world already, as ``published.json`` records it; None when it holds no record of it."""
    try:
        data = orjson.loads((run_dir / PUBLISHED_FILE).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("segment") != segment:
        return None  # an earlier segment's
    done = data.get("done")
    return {item for item in PUBLICATIONS if isinstance(done, list) and item in done}


def mark_published(run_dir: Path, segment: int, done: set[Publication]) -> None:
    """Record that segment ``segment`` of the run has told the world ``done``."""
    record = {"segment": segment, "done": sorted(done)}
    atomic_write(run_dir / PUBLISHED_FILE, json.dumps(record) + "\n")


PUBLICATIONS: tuple[Publication, ...] = ("step_summary", "webhooks")


def append_github_summary(run_dir: Path) -> bool:
    """Add the run's summary.md to the GitHub Actions job page when running there; whether
    it did. Raises OSError when the page's file cannot be written."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    markdown = (run_dir / SUMMARY_FILE).read_text(encoding="utf-8")
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(markdown + "\n")
    return True
