"""A run killed at any moment, then `--resume`: every report file present, valid and final.

A kill -9 right after the journal recorded the end of a run used to leave report.json at a
checkpoint ("interrupted") and no junit.xml, summary.md or report.html, and `--resume` said
"nothing to resume"; a kill mid-write left a `.report.json.*.tmp` behind; SIGHUP (a closed
terminal or SSH session) left only the checkpoint. Now `--resume` makes again whatever report
file is missing or older than the journal's end, clears half-written files, and SIGHUP ends a
run as SIGTERM does.

The soak kills a 3,000-item mock fan-out at 14 moments chosen by the journal's length (one
seeded random number of lines in each of 11 equal stretches of the journal, so the kills cover
the whole run, and moments on purpose: at the first line, before the first checkpoint, and twice
right after `run_finished`), resumes each, and checks every report file and that no item the
journal had recorded as finished before the kill was asked for again.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from agnoctl.reports.model import RunReport
from tests import forkcli
from tests.cli.test_run_signals import alive, start
from tests.resume.resume_helpers import check_report, events, latest, valid_report
from tests.security import cli

FLOW = """\
version: 1
name: kill
agents:
  a: {model: mock/echo}
steps:
  fan:
    agent: a
    for_each: "range(ITEMS) | list"
    prompt: "item {{ item }}"
  total:
    agent: a
    needs: [fan]
    prompt: "{{ steps.fan.output | length }} items"
outputs:
  total: "{{ steps.total.output }}"
"""
REPORT_FILES = ("report.json", "junit.xml", "summary.md", "report.html", "metrics.prom")


def write_flow(folder: Path, items: int) -> None:
    (folder / "flow.yaml").write_text(FLOW.replace("ITEMS", str(items)), encoding="utf-8")


def agnoctl(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli.agnoctl(folder, "run", "flow.yaml", "-q", "--no-cache", *args, timeout=120)


def assert_final(run_dir: Path, items: int, *, sample: int | None = None) -> dict[str, Any]:
    """Every report file present, valid, and the run's final word; no temporary file.

    report.json is read by the report model, and checked against the committed JSON Schema:
    whole, or with ``sample`` items of the fan-out (all alike; jsonschema takes 3 s over
    3,000 of them, pydantic milliseconds).
    """
    report = _report(run_dir)
    if sample is None:
        valid_report(run_dir)
    else:
        fan = report["steps"]["fan"]
        check_report(
            {
                **report,
                "steps": {**report["steps"], "fan": {**fan, "items": _items(run_dir, fan, sample)}},
            }
        )
    assert report["status"] == "passed" and not report["interrupted"], report["reason"]
    assert report["steps"]["fan"]["succeeded"] == items
    assert (run_dir / "outputs" / "total.txt").read_text(encoding="utf-8") == f"{items} items"
    suites = ET.parse(run_dir / "junit.xml").getroot()
    assert suites.get("failures") == "0" and suites.get("errors") == "0"
    assert "passed" in (run_dir / "summary.md").read_text(encoding="utf-8")
    assert report["run_id"] in (run_dir / "report.html").read_text(encoding="utf-8")
    assert 'status="passed"' in (run_dir / "metrics.prom").read_text(encoding="utf-8")
    left = [path.name for path in run_dir.rglob("*.tmp")]
    assert left == [], left
    return report


def _items(run_dir: Path, fan: dict[str, Any], sample: int) -> list[dict[str, Any]]:
    """The first ``sample`` items of the fan-out: report.json's, or its items file's (every
    line of which names the step)."""
    if fan.get("items") is not None:
        return list(fan["items"][:sample])
    lines = (run_dir / fan["items_file"]).read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines]
    assert len(items) == fan["total"] and {item.pop("step") for item in items} == {"fan"}
    return items[:sample]


# ---------------------------------------------------------------------------- deterministic


def test_resume_makes_missing_and_stale_report_files_again(tmp_path: Path) -> None:
    write_flow(tmp_path, 3)
    assert agnoctl(tmp_path).returncode == 0
    run_dir = latest(tmp_path)
    for name in ("junit.xml", "summary.md", "report.html", "outputs/total.txt"):
        (run_dir / name).unlink()
    older = (run_dir / "report.json").stat().st_mtime_ns - 10**9
    os.utime(run_dir / "metrics.prom", ns=(older, older))  # an earlier segment's
    (run_dir / ".report.json.x1y2z3.tmp").write_bytes(b"{" * 2_000_000)  # killed mid-write
    journal = (run_dir / "events.jsonl").read_bytes()

    resumed = agnoctl(tmp_path, "--resume", "latest")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith(f"repaired the reports of run {run_dir.name} (made ")
    for name in ("junit.xml", "summary.md", "outputs/total.txt", "report.html", "metrics.prom"):
        assert name in resumed.stdout
    assert_final(run_dir, 3)
    assert (run_dir / "events.jsonl").read_bytes() == journal  # nothing ran

    again = agnoctl(tmp_path, "--resume", "latest")
    assert again.returncode == 0
    assert "nothing to resume" in again.stdout and "repaired" not in again.stdout


def test_resume_remakes_a_report_json_left_at_a_checkpoint(tmp_path: Path) -> None:
    """The journal records the end, report.json is still the last checkpoint: the resumed
    run makes it (and the rest) from the journal, every task reused, no model called."""
    write_flow(tmp_path, 3)
    assert agnoctl(tmp_path).returncode == 0
    run_dir = latest(tmp_path)
    checkpoint = valid_report(run_dir)
    checkpoint.update(status="interrupted", exit_code=130, interrupted=True, reason="killed")
    (run_dir / "report.json").write_text(json.dumps(checkpoint), encoding="utf-8")
    valid_report(run_dir)
    (run_dir / "junit.xml").unlink()
    asked = len(events(run_dir))

    resumed = agnoctl(tmp_path, "--resume", "latest")
    assert resumed.returncode == 0, resumed.stderr
    assert "its report.json was not written" in resumed.stderr
    report = assert_final(run_dir, 3)
    assert report["reused"] == 4
    assert not any(e["type"] == "llm_call" for e in events(run_dir)[asked:])


def test_sighup_ends_a_run_as_sigterm_does(tmp_path: Path) -> None:
    process, out, pid_file = start(tmp_path)
    process.send_signal(signal.SIGHUP)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    report = valid_report(out)
    assert report["status"] == "interrupted" and report["exit_code"] == 130
    assert not report["reason"].startswith("the run has not finished")  # not the checkpoint
    ET.parse(out / "junit.xml")
    assert (out / "summary.md").is_file() and (out / "report.html").is_file()
    assert not alive(int(pid_file.read_text()))


# ---------------------------------------------------------------------------- the soak

ITEMS = 3000
STRETCHES = 11  # a trial at a random moment in each; every trial is two agnoctl processes
AFTER_THE_END = -1  # a kill right after run_finished is in the journal


def _kill_when(process: forkcli.Process, journal: Path, lines: int) -> None:
    """SIGKILL ``process`` once ``journal`` has ``lines`` lines (or records the end)."""
    wanted = b'"type":"run_finished"' if lines == AFTER_THE_END else None
    seen, offset, tail = 0, 0, b""
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if journal.exists():
            with journal.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            offset += len(chunk)
            seen += chunk.count(b"\n")
            if wanted is not None and wanted in tail + chunk:
                break
            tail = chunk[-64:]
            if wanted is None and seen >= lines:
                break
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()


def _report(run_dir: Path) -> dict[str, Any]:
    """report.json, read whole by the report model: a checkpoint or a final report, never
    half of one."""
    text = (run_dir / "report.json").read_text(encoding="utf-8")
    RunReport.model_validate_json(text)
    report: dict[str, Any] = json.loads(text)
    return report


def _finished_items(journal: list[dict[str, Any]]) -> set[int]:
    return {
        int(e["item"])
        for e in journal
        if e["type"] in {"item_succeeded", "item_reused"} and e["step"] == "fan"
    }


def _trial(folder: Path, lines: int, sample: int | None) -> str:
    """One run killed at ``lines``, then resumed; what the resume said."""
    folder.mkdir()
    write_flow(folder, ITEMS)
    process = forkcli.start(
        ["run", "flow.yaml", "-q", "--no-cache"],
        cwd=folder,
        env={**os.environ, "NO_COLOR": "1"},
        stdout=forkcli.DEVNULL,
        stderr=forkcli.DEVNULL,
    )
    _kill_when(process, folder / ".agnoctl" / "runs" / "latest" / "events.jsonl", lines)
    run_dir = latest(folder)
    if (run_dir / "report.json").exists():
        _report(run_dir)
    journal = events(run_dir) if (run_dir / "events.jsonl").exists() else []
    finished = _finished_items(journal)
    seen = len(journal) if finished else 0

    resumed = agnoctl(folder, "--resume", "latest")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert_final(run_dir, ITEMS, sample=sample)
    asked_again = {
        int(e["item"])
        for e in events(run_dir)[seen:]
        if e["type"] == "llm_call" and e["step"] == "fan"
    }
    assert asked_again.isdisjoint(finished), sorted(asked_again & finished)[:10]
    return resumed.stdout + resumed.stderr


def _moments(rng: random.Random) -> list[int]:
    """Journal lengths to kill at: one at random in each of STRETCHES equal stretches of the
    run's journal (about three lines an item), so the kills fall all along the run."""
    bounds = [2 + (3 * ITEMS - 2) * n // STRETCHES for n in range(STRETCHES + 1)]
    return [rng.randint(low, high - 1) for low, high in itertools.pairwise(bounds)]


@pytest.mark.slow
@pytest.mark.timeout(300)  # about 25 s alone on two cores; more when they are shared
def test_kill_nine_at_fourteen_moments_then_resume_leaves_every_report_final(
    tmp_path: Path,
) -> None:
    moments = [1, AFTER_THE_END, AFTER_THE_END, *_moments(random.Random(19))]
    # The moments on purpose get the whole report checked against the schema; the others a
    # sample of its items.
    samples = [None, None, None, *[20] * STRETCHES]
    folders = [tmp_path / f"trial{n}" for n in range(len(moments))]
    with ThreadPoolExecutor(2) as pool:
        said = list(pool.map(_trial, folders, moments, samples))
    # The moments on purpose happened: a kill after the end was repaired, not rerun.
    assert any(text.startswith("repaired the reports") for text in said), said
