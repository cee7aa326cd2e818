"""The run directory: ids, the ``latest`` pointer and atomic writes of every report file.

Every file is written to a temporary file in the same folder, fsynced and renamed over the
target (``os.replace``), so a reader (or a run killed mid-write) sees the old file or the new
one, never half of one. A kill can leave the temporary file (``.report.json.*.tmp``) behind:
``remove_temporaries`` clears them when the run is taken up again.

report.json comes first and the other report files are made from it (and, for metrics.prom,
from the journal), so that a run whose report.json is final can get them back
(``write_derived_files``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agnoctl.reports.junit import render_junit
from agnoctl.reports.model import RunReport
from agnoctl.reports.summary import render_summary
from agnoctl.reports.views import HTML_FILE, METRICS_FILE, write_views

if TYPE_CHECKING:
    from agnoctl.spec.models import Workflow

RUNS_DIR = Path(".agnoctl") / "runs"
LATEST = "latest"
REPORT_FILE = "report.json"
JUNIT_FILE = "junit.xml"
SUMMARY_FILE = "summary.md"
OUTPUTS_DIR = "outputs"
_TEMPORARY = ".*.tmp"  # what atomic_write names its temporary files
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def new_run_id(now: float | None = None) -> str:
    """``20250131T120000Z-3f9a1c``: sortable by start time, unique by the random tail."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{secrets.token_hex(3)}"


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, all at once. An OSError names ``path``, not the
    temporary file that was being written."""
    try:
        _replace(path, text)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, os.fspath(path)) from exc


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def write_report_json(
    run_dir: Path, report: RunReport, redact: Callable[[str], str] | None = None
) -> str:
    """report.json, passed through ``redact``; returns ``report.dumps()``, which
    ``write_derived_files`` takes."""
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
) -> None:
    """Every report file made from report.json: junit.xml, summary.md, outputs/, report.html
    and metrics.prom (which reads the journal too), each passed through ``redact``;
    ``workflow`` lets report.html draw the DAG and show the prompts. ``dumped`` is
    ``report.dumps()`` when the caller has it already."""

    def clean(text: str) -> str:
        return redact(text) if redact is not None else text

    atomic_write(run_dir / JUNIT_FILE, clean(render_junit(report)))
    summary = clean(render_summary(report))
    atomic_write(run_dir / SUMMARY_FILE, summary)
    for name, value in report.outputs.items():
        file_name, text = output_file(name, value)
        atomic_write(run_dir / OUTPUTS_DIR / file_name, clean(text))
    write_views(run_dir, report, workflow, redact, dumped=dumped)
    append_github_summary(summary)


def derived_files(outputs: Mapping[str, Any]) -> list[str]:
    """The paths, in the run directory, of the files ``write_derived_files`` writes for a
    report whose workflow outputs are ``outputs``."""
    files = [f"{OUTPUTS_DIR}/{output_file(name, value)[0]}" for name, value in outputs.items()]
    return [JUNIT_FILE, SUMMARY_FILE, *files, HTML_FILE, METRICS_FILE]


def remove_temporaries(run_dir: Path) -> list[Path]:
    """Delete the temporary files a killed process left in ``run_dir`` (and its outputs/):
    each is a half-written copy of a report file, of no use to anyone; returns them. Call it
    while holding the run's lock, or a live writer's file would go."""
    found = [
        path for folder in (run_dir, run_dir / OUTPUTS_DIR) for path in folder.glob(_TEMPORARY)
    ]
    for temporary in found:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return found


def output_file(name: str, value: Any) -> tuple[str, str]:
    """File name and content of one workflow output: JSON when structured, else text."""
    safe = _UNSAFE.sub("_", name).lstrip(".") or "output"
    if isinstance(value, dict | list):
        return f"{safe}.json", json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n"
    text = "" if value is None else value if isinstance(value, str) else json.dumps(value)
    return f"{safe}.txt", text


def append_github_summary(markdown: str) -> None:
    """Add the summary to the GitHub Actions job page when running there."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    with contextlib.suppress(OSError), open(target, "a", encoding="utf-8") as handle:
        handle.write(markdown + "\n")


def update_latest(runs_dir: Path, run_id: str) -> None:
    """Point ``runs/latest`` at ``run_id``: a symlink, or a text file where links are refused."""
    link = runs_dir / LATEST
    temp = runs_dir / f".{LATEST}.{secrets.token_hex(4)}"
    try:
        os.symlink(run_id, temp)
    except OSError:
        atomic_write(link, run_id + "\n")
        return
    try:
        os.replace(temp, link)
    except OSError:
        os.unlink(temp)
        raise


def latest_run(runs_dir: Path = RUNS_DIR) -> Path | None:
    """The run directory ``latest`` points at, or None when there is none."""
    link = runs_dir / LATEST
    if link.is_symlink():
        target = runs_dir / os.readlink(link)
    elif link.is_file():
        target = runs_dir / link.read_text(encoding="utf-8").strip()
    else:
        return None
    return target if target.is_dir() else None
