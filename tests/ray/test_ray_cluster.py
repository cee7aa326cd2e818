"""`agnoctl run --executor ray` against a real local Ray cluster with two worker CPUs.

One cluster for the module (started here, shut down at the end with everything it started);
every run is the real CLI in a subprocess, a driver of its own that connects with
`--ray-address`. What is checked is what the issue promised (#25): the same report as the
local executor, a worker killed mid-task retried by the step's policy with every result there
once, and a driver killed with SIGKILL resumed without repeating a finished item.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agnoctl.engine.state import load_journal
from agnoctl.events import read_events

ITEMS = 2000


@pytest.fixture(scope="module")
def started() -> Iterator[dict[str, Any]]:
    """A local cluster of two CPUs (its processes end with the module): its address info."""
    import ray

    from agnoctl.engine.ray_executor import no_usage_reports

    no_usage_reports()  # the tests call nothing beyond the loopback
    context = ray.init(
        num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False
    )
    try:
        yield dict(context.address_info)
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def cluster(started: dict[str, Any]) -> str:
    """The cluster's address."""
    return str(started["gcs_address"])


@pytest.fixture(scope="module")
def cluster_logs(started: dict[str, Any]) -> Path:
    """Where the cluster's processes (and every driver's) write their logs."""
    return Path(started["session_dir"]) / "logs"


def _agnoctl(cwd: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "agnoctl", "run", "wf.yaml", "-q", "--seed", "1", *args]


def _run(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _agnoctl(cwd, *args),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )


def _on_ray(address: str) -> tuple[str, ...]:
    return ("--executor", "ray", "--ray-address", address)


def _driver(cwd: Path, address: str) -> subprocess.Popen[str]:
    """`agnoctl run --executor ray` started in ``cwd``, left running."""
    return subprocess.Popen(
        _agnoctl(cwd, *_on_ray(address)),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _report(cwd: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(
        (cwd / ".agnoctl" / "runs" / "latest" / "report.json").read_text()
    )
    return report


def _items(cwd: Path, report: dict[str, Any], step: str) -> list[dict[str, Any]]:
    """A for_each step's items, from report.json or the items file it names, by index."""
    record = report["steps"][step]
    items: list[dict[str, Any]] | None = record.get("items")
    if items is None:
        lines = (cwd / ".agnoctl" / "runs" / "latest" / record["items_file"]).read_text()
        items = [json.loads(line) for line in lines.splitlines()]
        items = [item for item in items if item["step"] == step]
    return sorted(items, key=lambda item: item["index"])


def _write(cwd: Path, template: str, items: int = 0) -> None:
    """wf.yaml in ``cwd``: ``template`` with ``{items}`` (a list of that many) and ``{dir}``."""
    cwd.mkdir(parents=True, exist_ok=True)
    text = template.format(items=json.dumps(list(range(items))), dir=cwd)
    (cwd / "wf.yaml").write_text(text, encoding="utf-8")


# Every 97th item fails (exit 3); the rest print a line made from the item and from a file
# read by a relative path, which must resolve on the worker as it does here. The shell's own
# `read` reads it: a `cat` would start a second program per item, a third of the test's time.
FAN = """\
version: 1
name: fan
steps:
  fan:
    for_each: {items}
    max_concurrency: 16
    success_threshold: 0.9
    run:
      - sh
      - -c
      - |
        test $(( $0 % 97 )) -ne 5 || {{ echo "item $0 refused" >&2; exit 3; }}
        read -r word < data/word.txt
        echo "$word-$0"
      - '{{{{ item }}}}'
    resources: {{cpus: 0.5, memory: 16MiB}}
  count:
    needs: [fan]
    run: [echo, '{{{{ steps.fan.output | select | list | length }}}}']
"""


def _same_fields(item: dict[str, Any]) -> tuple[Any, ...]:
    error = item.get("error") or {}
    return (
        item["index"],
        item["status"],
        item.get("output"),
        item.get("exit_code"),
        error.get("kind"),
        len(item["attempts"]),
    )


@pytest.mark.slow
def test_a_2000_item_fan_out_reports_on_ray_what_it_reports_locally(
    cluster: str, tmp_path: Path
) -> None:
    runs = {}
    for executor in ("local", "ray"):
        cwd = tmp_path / executor
        _write(cwd, FAN, ITEMS)
        (cwd / "data").mkdir()
        (cwd / "data" / "word.txt").write_text("ok\n")
        extra = _on_ray(cluster) if executor == "ray" else ()
        proc = _run(cwd, *extra)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[executor] = (cwd, _report(cwd))
    (local_dir, local), (ray_dir, ray) = runs["local"], runs["ray"]
    for key in ("status", "reason", "succeeded", "total", "share", "outputs"):
        assert ray[key] == local[key], key
    for step in ("fan", "count"):
        for key in ("status", "output", "succeeded", "total", "share", "error"):
            assert ray["steps"][step].get(key) == local["steps"][step].get(key), (step, key)
    local_items = _items(local_dir, local, "fan")
    ray_items = _items(ray_dir, ray, "fan")
    assert [_same_fields(i) for i in ray_items] == [_same_fields(i) for i in local_items]
    assert len(ray_items) == ITEMS
    assert sum(i["status"] == "failed" for i in ray_items) == len(range(5, ITEMS, 97))
    assert ray["steps"]["count"]["output"] == str(ITEMS - len(range(5, ITEMS, 97)))
    # Where each task ran: a Ray node's id on every attempt there, none here.
    assert {a.get("node") is not None for i in ray_items for a in i["attempts"]} == {True}
    assert {a.get("node") for i in local_items for a in i["attempts"]} == {None}
    journal = [entry.event for entry in read_events(ray_dir / ".agnoctl/runs/latest/events.jsonl")]
    nodes = {e.node for e in journal if e.type == "item_succeeded"}
    assert len(nodes) == 1 and None not in nodes  # one node in this cluster


# Item 7's first attempt leaves its worker's pid (its parent's) and waits for the test, which
# kills that worker; the retry finds the pid file and answers.
VICTIM = """\
version: 1
name: victim
steps:
  fan:
    for_each: {items}
    max_concurrency: 4
    retry: {{max_attempts: 2, initial_delay: 0.1}}
    run:
      - sh
      - -c
      - |
        if [ "$0" = 7 ] && [ ! -e {dir}/worker.pid ]; then
          echo $PPID > {dir}/worker.tmp && mv {dir}/worker.tmp {dir}/worker.pid
          while [ ! -e {dir}/go ]; do sleep 0.05; done
          exit 0
        fi
        echo "result-$0"
      - '{{{{ item }}}}'
"""


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    """Until ``path`` exists; fails if the run ended first."""
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)


@pytest.mark.slow
def test_a_worker_killed_mid_task_fails_that_attempt_and_the_retry_completes_it(
    cluster: str, tmp_path: Path
) -> None:
    items = 60
    _write(tmp_path, VICTIM, items)
    proc = _driver(tmp_path, cluster)
    try:
        _wait_for(tmp_path / "worker.pid", proc)
        os.kill(int((tmp_path / "worker.pid").read_text()), signal.SIGKILL)
    finally:
        (tmp_path / "go").touch()  # the killed worker's program ends too
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    report = _report(tmp_path)
    fan = _items(tmp_path, report, "fan")
    assert [item.get("output") for item in fan] == [f"result-{i}" for i in range(items)]
    assert {item["status"] for item in fan} == {"succeeded"}
    victim = fan[7]["attempts"]
    assert [(a.get("error") or {}).get("kind") for a in victim] == ["worker_lost", None]
    journal = load_journal(tmp_path / ".agnoctl" / "runs" / "latest" / "events.jsonl")
    assert sorted(index for (_, index, _) in journal if index is not None) == list(range(items))
    lost = [
        e.event
        for e in read_events(tmp_path / ".agnoctl/runs/latest/events.jsonl")
        if e.event.type == "attempt_failed"
    ]
    assert [(e.item, e.reason, e.retrying) for e in lost] == [(7, "worker_lost", True)]  # type: ignore[attr-defined]


# Each item leaves a line in a side-effect file, then answers.
SIDE_EFFECT = """\
version: 1
name: side-effect
steps:
  fan:
    for_each: {items}
    max_concurrency: 4
    run: [sh, -c, 'echo "$0" >> {dir}/side.txt; sleep 0.02; echo "done-$0"', '{{{{ item }}}}']
"""


@pytest.mark.slow
def test_a_driver_killed_with_sigkill_resumes_on_ray_without_repeating_a_finished_item(
    cluster: str, tmp_path: Path
) -> None:
    items = 300
    _write(tmp_path, SIDE_EFFECT, items)
    journal = tmp_path / ".agnoctl" / "runs" / "latest" / "events.jsonl"
    driver = _driver(tmp_path, cluster)
    try:
        while len(_finished(journal)) < 40:
            assert driver.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
    finally:
        driver.kill()  # SIGKILL
        driver.communicate()
    finished = _finished(journal)
    assert len(finished) < items
    proc = _run(tmp_path, "--resume", "latest", *_on_ray(cluster))
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = _report(tmp_path)
    assert report["reused"] == len(finished)
    assert [i.get("output") for i in _items(tmp_path, report, "fan")] == [
        f"done-{i}" for i in range(items)
    ]
    counts = Counter(int(line) for line in (tmp_path / "side.txt").read_text().split())
    assert set(counts) == set(range(items))
    assert {index: counts[index] for index in finished} == dict.fromkeys(finished, 1)
    # Only the tasks in flight when the driver died may have run twice.
    assert sum(count - 1 for count in counts.values()) <= 4 + 2


def _finished(journal: Path) -> set[int]:
    if not journal.exists():
        return set()
    return {index for (_, index, _) in load_journal(journal) if index is not None}


# The agent (the mock, scripted) calls a command tool, which runs on a worker: it reads a
# file by a relative path and leaves the directory it ran in.
TOOL = """\
version: 1
name: tool
tools:
  notes:
    description: Read the notes.
    parameters: {{type: object, properties: {{}}}}
    run: [sh, -c, 'pwd > {dir}/tool-cwd.txt; cat notes.txt']
agents:
  reader: {{model: mock/echo, tools: [notes]}}
steps:
  read: {{agent: reader, prompt: Read the notes.}}
"""
TOOL_FIXTURES = """\
steps:
  read:
    - tool_calls: [{name: notes, arguments: {}}]
    - text: done
"""


def test_a_command_tool_runs_on_a_worker_in_a_copy_of_the_working_directory(
    cluster: str, tmp_path: Path
) -> None:
    _write(tmp_path, TOOL)
    (tmp_path / "notes.txt").write_text("beta opens in May\n")
    (tmp_path / "fixtures.yaml").write_text(TOOL_FIXTURES)
    proc = _run(tmp_path, "--mock-fixtures", "fixtures.yaml", *_on_ray(cluster))
    assert proc.returncode == 0, proc.stderr[-3000:]
    answers = [
        e.event
        for e in read_events(tmp_path / ".agnoctl/runs/latest/events.jsonl")
        if e.event.type == "tool_result"
    ]
    assert [(a.name, a.ok, a.chars) for a in answers] == [("notes", True, 18)]  # type: ignore[attr-defined]
    worker_cwd = Path((tmp_path / "tool-cwd.txt").read_text().strip())
    assert (
        worker_cwd != tmp_path and (worker_cwd / "notes.txt").read_text() == "beta opens in May\n"
    )


SLEEPER = """\
version: 1
name: sleeper
steps:
  wait:
    run:
      - sh
      - -c
      - |
        trap 'echo SIGTERM > {dir}/terminated; exit 143' TERM
        echo $$ > {dir}/command.tmp && mv {dir}/command.tmp {dir}/command.pid
        sleep 300 & wait
"""


def test_sigint_cancels_the_runs_ray_tasks_and_ends_their_programs(
    cluster: str, tmp_path: Path
) -> None:
    _write(tmp_path, SLEEPER)
    driver = _driver(tmp_path, cluster)
    try:
        _wait_for(tmp_path / "command.pid", driver)
        pid = int((tmp_path / "command.pid").read_text())
        driver.send_signal(signal.SIGINT)
        _, stderr = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.communicate()
    assert driver.returncode == 130, stderr[-3000:]
    assert _report(tmp_path)["steps"]["wait"]["status"] == "skipped"
    # The task's cancel ended the program on the worker as a local cancel does (SIGTERM to
    # its group, which it heard), before the driver exited; nothing was left behind.
    assert (tmp_path / "terminated").read_text() == "SIGTERM\n"
    assert not Path(f"/proc/{pid}").exists() or _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] in "ZX"


# A model served "on the cluster" (the fake server, on loopback): the step's `resources: {}`
# sends its model calls there; the key comes from the driver's environment.
SERVED = """\
version: 1
name: served
providers:
  served: {{type: openai, base_url: '{url}/v1', api_key: '${{SERVED_KEY}}'}}
agents:
  writer: {{model: served/small, instructions: Be brief.}}
steps:
  draft:
    for_each: [1, 2, 3]
    agent: writer
    prompt: 'Draft {{{{ item }}}}'
    retry: {{max_attempts: 2, initial_delay: 0.1}}
    resources: {{}}
"""
SERVED_KEY = "sk-served-3f9c1e7a5b2d4068"


def _served_fields(report: dict[str, Any]) -> dict[str, Any]:
    draft = report["steps"]["draft"]
    return {
        "status": report["status"],
        "outputs": report["outputs"],
        "draft": (draft["status"], draft["output"], draft["succeeded"], draft["total"]),
        "items": [
            (i["index"], i["status"], i["output"], len(i["attempts"]), i.get("tokens_in"))
            for i in draft["items"]
        ],
    }


def test_an_agent_step_with_resources_makes_its_model_calls_on_a_worker(
    cluster: str, cluster_logs: Path, tmp_path: Path
) -> None:
    from agnoctl.testing.fake_llm import start_in_thread

    with start_in_thread() as server:
        reports = {}
        for executor in ("local", "ray"):
            cwd = tmp_path / executor
            cwd.mkdir()
            (cwd / "wf.yaml").write_text(SERVED.format(url=server.url), encoding="utf-8")
            server.reset()
            extra = _on_ray(cluster) if executor == "ray" else ()
            proc = _run(cwd, *extra, env={"SERVED_KEY": SERVED_KEY})
            assert proc.returncode == 0, proc.stderr[-3000:]
            assert server.stats()["requests"] == 3  # each item's one call reached the server
            reports[executor] = _report(cwd)
    local, ray = reports["local"], reports["ray"]
    assert _served_fields(ray) == _served_fields(local)
    assert [i["output"] for i in ray["steps"]["draft"]["items"]] == [
        f"echo: Draft {n}" for n in (1, 2, 3)
    ]
    # Where each call ran: a Ray node's id on every attempt there, none here.
    assert {
        a.get("node") is not None for i in ray["steps"]["draft"]["items"] for a in i["attempts"]
    } == {True}
    assert {a.get("node") for i in local["steps"]["draft"]["items"] for a in i["attempts"]} == {
        None
    }
    # The key travelled in the tasks' arguments only: in no file of the run, its cache or
    # the cluster's logs (the driver's own included).
    leaks = [
        path
        for root in (tmp_path / "ray", cluster_logs)
        for path in root.rglob("*")
        if path.is_file() and SERVED_KEY.encode() in path.read_bytes()
    ]
    assert leaks == []


TIMED_OUT = """\
version: 1
name: timed_out
steps:
  running:
    run: [sleep, '300']
    timeout: 1s
  waiting:
    run: [echo, never]
    resources: {{custom: {{nowhere: 1}}}}
    timeout: 1s
"""


def test_a_timed_out_task_is_cancelled_without_a_traceback(cluster: str, tmp_path: Path) -> None:
    # One task running its program, one no node can take: both cancelled by their timeout.
    _write(tmp_path, TIMED_OUT)
    proc = _run(tmp_path, *_on_ray(cluster))
    assert proc.returncode == 1, proc.stderr[-3000:]
    steps = _report(tmp_path)["steps"]
    assert {name: steps[name]["status"] for name in steps} == {
        "running": "failed",
        "waiting": "failed",
    }
    assert "Traceback" not in proc.stderr and "never retrieved" not in proc.stderr, proc.stderr
