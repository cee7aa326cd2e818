"""kill -9 at random moments, then resume: no finished call is ever made twice.

Four runs of a 200-item fan-out against the fake LLM server (30 ms a reply) go on in parallel,
each one killed with SIGKILL five times, each time once its segment has a random number of
model replies in the journal (so the kill lands while work is under way, never after the end),
then resumed to the end. After every kill the run directory's report.json (a checkpoint) must be
valid; at the end every run must be complete, and the server's per-prompt counts must show
that no item the journal recorded as finished before a kill was asked for again.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from resume_helpers import API_KEY, events, latest, prompt_counts, valid_report, workflow

from agnoctl.testing.fake_llm import FakeLLMConfig, FakeLLMThread
from tests import forkcli

ITEMS = 200
RUNS = 4
KILLS_PER_RUN = 5
# Half a second of replies at 30 ms and two at a time; five segments of at most this many
# leave most of the 200 items for the last, unkilled one.
MAX_REPLIES_BEFORE_KILL = 32


@dataclass(frozen=True)
class Kill:
    finished: frozenset[int]  # items the journal said had succeeded when the process died
    counts: dict[str, int]  # requests per item prompt at that moment
    report_checked: bool


def _prompts(run: int) -> dict[str, str]:
    return {str(i): f"run {run} item {i}" for i in range(ITEMS)}


def _finished_items(run_dir: Path) -> frozenset[int]:
    return frozenset(
        int(e["item"])
        for e in events(run_dir)
        if e["type"] in {"item_succeeded", "item_reused"} and e["step"] == "fan"
    )


LLM_CALL = b'"type":"llm_call"'


def _replies(journal: Path) -> int:
    """Model replies in the journal, every segment's: the journal's bytes searched, not parsed,
    as it is read every 20 ms while four runs go on."""
    return journal.read_bytes().count(LLM_CALL) if journal.exists() else 0


def _wait_for_replies(journal: Path, replies: int, process: forkcli.Process) -> None:
    """Until the journal holds ``replies`` model replies (or the process ended).

    The moment of the kill is a count of replies, not a time: a loaded machine moves it in
    time but never past the end of the run, so every run is killed KILLS_PER_RUN times."""
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if _replies(journal) >= replies:
            return
        time.sleep(0.02)


def _crash_and_resume(
    folder: Path, url: str, run: int, counts: Callable[[], dict[str, int]]
) -> list[Kill]:
    rng = random.Random(run)
    flow = workflow(
        folder,
        url,
        {
            "fan": {
                "agent": "a",
                "for_each": f"range({ITEMS}) | list",
                "max_concurrency": 2,
                "prompt": f"run {run} item {{{{ item }}}}",
            },
            "total": {
                "agent": "a",
                "needs": ["fan"],
                "prompt": f"run {run}: {{{{ steps.fan.output | length }}}} items",
            },
        },
    )
    env = {**os.environ, "LLM_KEY": API_KEY, "NO_COLOR": "1"}
    base = ["run", str(flow), "--no-cache", "-q"]
    journal = folder / ".agnoctl" / "runs" / "latest" / "events.jsonl"
    kills: list[Kill] = []
    while len(kills) < KILLS_PER_RUN:
        replies = _replies(journal) + rng.randint(1, MAX_REPLIES_BEFORE_KILL)
        argv = base + (["--resume", "latest"] if kills else [])
        process = forkcli.start(
            argv, cwd=folder, env=env, stdout=forkcli.DEVNULL, stderr=forkcli.DEVNULL
        )
        _wait_for_replies(journal, replies, process)
        process.send_signal(signal.SIGKILL)
        process.wait()
        if process.returncode != -signal.SIGKILL:
            break  # it finished first: no more kills for this run
        run_dir = latest(folder)
        report = run_dir / "report.json"
        if report.exists():
            valid_report(run_dir)
        kills.append(Kill(_finished_items(run_dir), counts(), report.exists()))
    final = forkcli.run([*base, "--resume", "latest"], cwd=folder, env=env, timeout=120)
    assert final.returncode == 0, final.stderr
    return kills


@pytest.mark.slow
def test_kill_nine_then_resume_never_repeats_finished_work(tmp_path: Path) -> None:
    with FakeLLMThread(FakeLLMConfig(latency_ms=30, api_key=API_KEY)) as server:
        counters = [partial(prompt_counts, server, _prompts(run)) for run in range(RUNS)]
        folders = [tmp_path / f"run{run}" for run in range(RUNS)]
        for folder in folders:
            folder.mkdir()
        with ThreadPoolExecutor(RUNS) as pool:
            outcomes = list(
                pool.map(_crash_and_resume, folders, [server.url] * RUNS, range(RUNS), counters)
            )
        final_counts = [prompt_counts(server, _prompts(run)) for run in range(RUNS)]

    assert [len(kills) for kills in outcomes] == [KILLS_PER_RUN] * RUNS
    for run, (folder, kills) in enumerate(zip(folders, outcomes, strict=True)):
        run_dir = latest(folder)
        report = valid_report(run_dir)
        assert report["status"] == "passed", report["reason"]
        assert report["resumed"] and report["reused"] > 0
        fan = report["steps"]["fan"]
        assert fan["succeeded"] == ITEMS
        assert [i["output"] for i in fan["items"]] == [
            f"echo: run {run} item {i}" for i in range(ITEMS)
        ]
        assert report["steps"]["total"]["output"] == f"echo: run {run}: {ITEMS} items"
        journal = events(run_dir)
        assert [e["seq"] for e in journal] == list(range(1, len(journal) + 1))
        assert sum(e["type"] == "run_resumed" for e in journal) == len(kills)
        for kill in kills:
            repeated = [
                i for i in kill.finished if final_counts[run][str(i)] != kill.counts[str(i)]
            ]
            assert repeated == [], f"run {run}: finished items asked again: {repeated}"
        assert min(final_counts[run].values()) >= 1
        assert any(kill.report_checked for kill in kills)
