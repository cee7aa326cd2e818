"""The run directory: ids, the ``latest`` pointer and atomic writes of every report file.

Every file is written to a temporary file in the same folder, fsynced and renamed over the
target (``os.replace``), so a reader (or a run killed mid-write) sees the old file or the new
one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agnoctl.reports.junit import render_junit
from agnoctl.reports.model import RunReport
from agnoctl.reports.summary import render_summary
from agnoctl.reports.views import write_views

if TYPE_CHECKING:
    from agnoctl.spec.models import Workflow

RUNS_DIR = Path(".agnoctl") / "runs"
LATEST = "latest"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def new_run_id(now: float | None = None) -> str:
    """``20250131T120000Z-3f9a1c``: sortable by start time, unique by the random tail."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{secrets.token_hex(3)}"


def atomic_write(path: Path, text: str) -> None:
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


def write_report_files(
    run_dir: Path,
    report: RunReport,
    redact: Callable[[str], str] | None = None,
    workflow: Workflow | None = None,
) -> None:
    """report.json, junit.xml, summary.md, outputs/, report.html and metrics.prom, each passed
    through ``redact``; ``workflow`` lets report.html draw the DAG and show the prompts."""

    def clean(text: str) -> str:
        return redact(text) if redact is not None else text

    dumped = report.dumps()
    atomic_write(run_dir / "report.json", clean(dumped))
    atomic_write(run_dir / "junit.xml", clean(render_junit(report)))
    summary = clean(render_summary(report))
    atomic_write(run_dir / "summary.md", summary)
    for name, value in report.outputs.items():
        file_name, text = output_file(name, value)
        atomic_write(run_dir / "outputs" / file_name, clean(text))
    write_views(run_dir, report, workflow, redact, dumped=dumped)
    append_github_summary(summary)


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
