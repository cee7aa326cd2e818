"""A ``runs/latest`` text file (what agnoctl writes where symbolic links are refused) that holds
no run id: bytes that are not UTF-8 ended every `agnoctl run` in a traceback (even a new run,
which replaces it), and an empty one or `..` was read as naming the runs folder or the folder
above it. Such a file names no run: a new run replaces it, `--resume latest` looks for the
workflow's newest run, and `report show latest` finds none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agnoctl.engine.rundir import latest_run
from tests.conftest import RunCli

BAD = [b"\xff\xfe run", b"", b"  \n", b"..\n", b".\n", b"../runs/x\n"]


@pytest.mark.parametrize("content", BAD)
def test_a_latest_file_that_holds_no_run_id_names_no_run(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "20260101T000000Z-aaaaaa").mkdir()
    (tmp_path / "latest").write_bytes(content)
    assert latest_run(tmp_path) is None


def test_a_latest_file_naming_a_run_still_finds_it(tmp_path: Path) -> None:
    (tmp_path / "20260101T000000Z-aaaaaa").mkdir()
    (tmp_path / "latest").write_text("20260101T000000Z-aaaaaa\n", encoding="utf-8")
    assert latest_run(tmp_path) == tmp_path / "20260101T000000Z-aaaaaa"


def test_runs_go_on_past_a_latest_file_that_is_not_text(tmp_path: Path, run_cli: RunCli) -> None:
    flow = {"version": 1, "name": "l", "agents": {"a": {"model": "mock/echo"}}}
    flow["steps"] = {"ask": {"agent": "a", "prompt": "hi"}}
    (tmp_path / "flow.yaml").write_text(json.dumps(flow), encoding="utf-8")
    runs = tmp_path / ".agnoctl" / "runs"
    runs.mkdir(parents=True)
    (runs / "latest").write_bytes(b"\xff\xfe")

    resumed = run_cli("run", "flow.yaml", "-q", "--resume", "latest")
    assert resumed.returncode == 0, resumed.stderr
    assert "no earlier run of workflow 'l'" in resumed.stderr
    shown = run_cli("report", "show", "latest")
    assert shown.returncode == 0, shown.stderr
    assert "ask" in shown.stdout
