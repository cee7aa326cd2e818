"""Huge fan-outs in bounded memory (#24): a run's finished items go to ``items.jsonl`` as they
finish, report.json keeps their counts, and every reader reads the items from the file.

Through the real CLI, on the mock provider. The slow test runs 200,000 items and bounds the
``agnoctl run`` process's peak RSS against a 1,000-item run, each a fresh ``python -m
agnoctl``; the other tests fork their commands from the worker's zygote (tests/forkcli.py),
whose memory is no concern of theirs, and read or damage copies of runs made once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from agnoctl.errors import UsageError
from agnoctl.reports.junit import render_junit
from agnoctl.reports.metrics import render_metrics
from agnoctl.reports.model import RunReport
from tests import forkcli

KIB = 1024


def flow(items: int, *, fail_every: int | None = None) -> dict[str, Any]:
    """One mock agent over ``items`` items (every ``fail_every``-th refused by a gate),
    read whole by two outputs."""
    fan: dict[str, Any] = {"agent": "worker", "for_each": f"range({items})"}
    fan["prompt"] = "n{{ item }}"
    if fail_every is not None:
        fan["gates"] = [{"type": "expr", "expr": f"(output[1:] | int) % {fail_every} != 0"}]
        fan["success_threshold"] = 0.5
    return {
        "version": 1,
        "name": "many",
        "defaults": {"cache": False},
        "agents": {"worker": {"model": "mock/echo"}},
        "steps": {"fan": fan},
        "outputs": {
            "count": "{{ steps.fan.output | length }}",
            "failed": "{{ steps.fan.results | rejectattr('status', 'equalto', 'succeeded') "
            "| map(attribute='item') | list | length }}",
        },
    }


def run(tmp_path: Path, name: str, spec: dict[str, Any]) -> tuple[Path, int, int]:
    """``agnoctl run`` of ``spec``: its run directory, exit code and peak RSS (KiB)."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    run_dir = tmp_path / name
    argv = [sys.executable, "-m", "agnoctl", "run", str(path), "-q", "--report-dir", str(run_dir)]
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    with proc.stderr:
        stderr = proc.stderr.read().decode()
        _, status, usage = os.wait4(proc.pid, 0)  # its own peak RSS, not its siblings'
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert "Traceback" not in stderr, stderr[-3000:]
    return run_dir, proc.returncode, usage.ru_maxrss


# The runs the tests read or damage, each made once for the module: name → (items, fail_every).
MADE: dict[str, tuple[int, int | None]] = {
    "plain": (1_100, None),
    "refused": (1_100, 500),
    "gated": (1_200, 100),
}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each run of ``MADE``, forked: its run directory (never changed: tests take copies)."""
    folder = tmp_path_factory.mktemp("made")
    runs = {}
    for name, (items, fail_every) in MADE.items():
        run_dir, code = forked(folder, name, flow(items, fail_every=fail_every))
        assert code == 0
        runs[name] = run_dir
    return runs


@pytest.fixture
def copy(made: dict[str, Path], tmp_path: Path) -> Callable[[str, str], Path]:
    """``copy(name, as_)``: a copy of the run ``name`` made once, at ``tmp_path / as_``."""

    def copied(name: str, as_: str) -> Path:
        return Path(shutil.copytree(made[name], tmp_path / as_))

    return copied


def forked(folder: Path, name: str, spec: dict[str, Any]) -> tuple[Path, int]:
    """``agnoctl run`` of ``spec``, forked: its run directory and exit code."""
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    run_dir = folder / name
    done = forkcli.run(["run", path, "-q", "--report-dir", run_dir], cwd=folder)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return run_dir, done.returncode


def report_of(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    return data


def test_a_big_fan_out_keeps_its_items_in_items_jsonl(copy: Callable[[str, str], Path]) -> None:
    run_dir = copy("gated", "big")
    fan = report_of(run_dir)["steps"]["fan"]
    assert fan["items"] is None and fan["items_file"] == "items.jsonl"
    assert (fan["succeeded"], fan["total"]) == (1_188, 1_200)
    lines = [json.loads(line) for line in (run_dir / "items.jsonl").read_text().splitlines()]
    assert sorted(line["index"] for line in lines) == list(range(1_200))
    assert {line["step"] for line in lines} == {"fan"}
    assert lines[0]["attempts"][0]["prompt"].startswith("n")
    assert not list(run_dir.glob(".*.tmp"))
    # Templates still read the whole output and every result.
    assert (run_dir / "outputs" / "count.txt").read_text() == "1200"
    assert (run_dir / "outputs" / "failed.txt").read_text() == "12"
    # The readers read the file: the model, junit (grouped), summary, report show.
    report = RunReport.model_validate_json((run_dir / "report.json").read_text()).located(run_dir)
    items = list(report.items_of(report.steps["fan"]))
    assert len(items) == 1_200 and sum(i.status == "failed" for i in items) == 12
    cases = {c.get("name"): c for c in ET.parse(run_dir / "junit.xml").getroot().iter("testcase")}
    grouped = cases["fan[*] gate expr (output[1:] | int) % 100 != 0"]
    # The step met its success_threshold: the run tolerated the 12 (and passed).
    assert grouped.find("failure") is None
    tolerated = grouped.findtext("system-out") or ""
    first = "12 of 1200 items failed the gate; first: item 0:"
    assert tolerated.startswith(f"failed, tolerated: {first}"), tolerated
    assert "fan[0] gate" not in " ".join(cases)
    show = forkcli.run(["report", "show", run_dir, "--format", "json"], cwd=run_dir)
    assert show.returncode == 0, show.stderr


def test_report_diff_compares_items_from_items_files(copy: Callable[[str, str], Path]) -> None:
    a, b = copy("plain", "a"), copy("refused", "b")
    diff = _diff(a, b)
    assert diff.returncode == 0, diff.stderr
    assert "fan[500]" in diff.stdout and "fan[0]" in diff.stdout


def test_report_diff_of_a_run_whose_items_file_is_gone_names_the_file(
    copy: Callable[[str, str], Path],
) -> None:
    a = copy("plain", "a")
    (a / "items.jsonl").unlink()
    diff = forkcli.run(["report", "diff", a, a], cwd=a.parent)
    assert diff.returncode == 2, diff.stderr
    assert str(a / "items.jsonl") in diff.stderr and "Traceback" not in diff.stderr


def test_a_small_fan_out_lists_its_items_in_report_json(tmp_path: Path) -> None:
    run_dir, code = forked(tmp_path, "small", flow(30, fail_every=10))
    assert code == 0
    fan = report_of(run_dir)["steps"]["fan"]
    assert fan["items_file"] is None
    assert [item["index"] for item in fan["items"]] == list(range(30))
    assert [i["index"] for i in fan["items"] if i["status"] == "failed"] == [0, 10, 20]
    assert not (run_dir / "items.jsonl").exists() and not list(run_dir.glob(".*.tmp"))


@pytest.mark.slow
def test_200000_items_grow_peak_rss_by_under_1_kib_an_item(tmp_path: Path) -> None:
    _, code, small = run(tmp_path, "small", flow(1_000))
    assert code == 0
    run_dir, code, big = run(tmp_path, "big", flow(200_000))
    assert code == 0
    per_item = (big - small) * KIB / 199_000
    assert per_item < KIB, f"peak RSS {small} -> {big} KiB: {per_item:.0f} bytes an item"
    fan = report_of(run_dir)["steps"]["fan"]
    assert (fan["succeeded"], fan["total"], fan["items_file"]) == (200_000, 200_000, "items.jsonl")
    with (run_dir / "items.jsonl").open("rb") as lines:
        assert sum(1 for _ in lines) == 200_000
    assert (run_dir / "outputs" / "count.txt").read_text() == "200000"


def test_report_html_draws_a_big_fan_outs_items_from_items_jsonl(
    copy: Callable[[str, str], Path],
) -> None:
    run_dir = copy("gated", "page")
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    # The timeline's item rows and the step's item table, read back from items.jsonl (the
    # first items only: the page stays small), and how many more the file holds.
    assert "fan[0]" in page and "fan[1199]" not in page
    assert "1000 more items in items.jsonl." in page


def _diff(a: Path, b: Path) -> subprocess.CompletedProcess[str]:
    return forkcli.run(["report", "diff", a, b, "--format", "json"], cwd=a.parent)


def test_report_diff_refuses_an_items_file_cut_short_naming_its_line(
    copy: Callable[[str, str], Path],
) -> None:
    # A disk that filled, a copy cut off: the last line torn. Read as fewer items, the diff
    # would report the lost ones as removed and pass.
    a, b = copy("plain", "a"), copy("plain", "b")
    data = (b / "items.jsonl").read_bytes()
    (b / "items.jsonl").write_bytes(data[: data.rindex(b"\n", 0, -1) + 20])
    diff = _diff(a, b)
    assert diff.returncode == 2, diff.stdout[-2000:]
    assert f"{b / 'items.jsonl'} line 1100" in diff.stderr and "Traceback" not in diff.stderr
    # Nor do the report files made from the items count fewer than the run did.
    report = RunReport.model_validate_json((b / "report.json").read_text()).located(b)
    for render in (render_junit, lambda report: render_metrics(report, [])):
        with pytest.raises(UsageError, match=r"items\.jsonl line 1100: cut short"):
            render(report)


def test_report_diff_refuses_an_items_file_with_a_damaged_line(
    copy: Callable[[str, str], Path],
) -> None:
    a = copy("plain", "a")
    lines = (a / "items.jsonl").read_bytes().splitlines(keepends=True)
    lines[6] = b'{"step": "fan", "index": "seven"}\n'  # JSON, but no item record
    lines[2] = b"\x00" * 40 + b"\n"  # a block the disk lost
    (a / "items.jsonl").write_bytes(b"".join(lines))
    diff = _diff(a, a)
    assert diff.returncode == 2, diff.stdout[-2000:]
    assert f"{a / 'items.jsonl'} line 3" in diff.stderr and "Traceback" not in diff.stderr
    report = RunReport.model_validate_json((a / "report.json").read_text()).located(a)
    lines[2] = lines[3]
    (a / "items.jsonl").write_bytes(b"".join(lines))
    with pytest.raises(UsageError, match=r"items\.jsonl line 7: status: Field required"):
        list(report.items_of(report.steps["fan"]))


def test_an_items_file_missing_or_gaining_whole_lines_is_refused(
    copy: Callable[[str, str], Path],
) -> None:
    # A line lost whole (a block of the disk, an edit) leaves every other line readable:
    # only the count report.json keeps shows the file is not the run's.
    a = copy("plain", "a")
    report = report_of(a)
    assert report["steps"]["fan"]["items_in_file"] == 1_100
    lines = (a / "items.jsonl").read_bytes().splitlines(keepends=True)
    (a / "items.jsonl").write_bytes(b"".join(lines[:500] + lines[501:]))
    diff = _diff(a, a)
    assert diff.returncode == 2, diff.stdout[-2000:]
    said = f"{a / 'items.jsonl'}: 1,099 items of step fan, where report.json says 1,100"
    assert said in diff.stderr and "Traceback" not in diff.stderr
    located = RunReport.model_validate_json((a / "report.json").read_text()).located(a)
    for render in (render_junit, lambda report: render_metrics(report, [])):
        with pytest.raises(UsageError, match="1,099 items of step fan"):
            render(located)
    (a / "items.jsonl").write_bytes(b"".join([*lines, lines[7]]))  # one told twice
    with pytest.raises(UsageError, match="1,101 items of step fan"):
        list(located.items_of(located.steps["fan"]))


def test_an_items_file_the_system_cannot_read_is_named(
    copy: Callable[[str, str], Path],
) -> None:
    # Not a file at all: what the system refused names the path, not only "Is a directory".
    a = copy("plain", "a")
    (a / "items.jsonl").unlink()
    (a / "items.jsonl").mkdir()
    diff = _diff(a, a)
    assert diff.returncode == 1, diff.stdout[-2000:]
    assert diff.stderr.strip() == f"error: {a / 'items.jsonl'}: Is a directory"
