"""A run exported by ``fixtures export`` replays offline to the same end, failures included.

Found by trying it: the export wrote a reply the server did not finish (cut at max_tokens,
withheld by the content filter, refused) as an ordinary text reply, and left every provider
error out, so a step that failed in the real run (exit 1) succeeded in its mock replay
(exit 0): a CI test recorded from a failing run passed. The export now writes an unfinished
reply with its ``finish_reason`` and the error a call's retries ended with, and the mock
answers with them, so the replay's steps end as the run's did.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agnoctl.testing.fake_llm import FakeLLMConfig, FakeLLMThread

RunCli = Any

# Each step's prompt makes the fake server answer as named; every prompt is its own text, so
# the server's "first N requests" counters are the step's own.
UNFINISHED: dict[str, str] = {
    "cut": "[[finish:length]] write a brief",
    "filtered": "[[finish:content_filter]] write a summary",
    "refused": "[[finish:refusal]] [[text:I cannot help with that]] write a plan",
    "fine": "write a line",
}
FAILING: dict[str, str] = {
    "down": "[[fail:9:500]] ask a server that stays down",
    "limited": "[[429:times=9]] ask a server that stays busy",
    "denied": "[[status:400]] ask what the server refuses",
    "garbled": "[[malformed]] ask a server that answers garbage",
    "dropped": "[[reset]] ask a server that hangs up",
    "recovered": "[[fail:1]] ask a server that comes back",
    "fine": "write a line",
}


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMThread]:
    with FakeLLMThread(FakeLLMConfig()) as server:
        yield server


def _workflow(folder: Path, url: str, prompts: dict[str, str]) -> Path:
    steps: dict[str, Any] = {name: {"agent": "a", "prompt": p} for name, p in prompts.items()}
    first = next(iter(prompts))
    steps["after"] = {"agent": "a", "needs": [first], "prompt": "go on"}
    data = {
        "version": 1,
        "name": "replay",
        "providers": {"local": {"type": "openai", "base_url": f"{url}/v1", "api_key": "k"}},
        "agents": {"a": {"model": "local/m", "max_tokens": 64}},
        # Two attempts, at once: `recovered` needs the second, the others fail both.
        "defaults": {"retry": {"max_attempts": 2, "initial_delay": 0}},
        "steps": steps,
    }
    path = folder / "flow.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _ends(run_dir: Path) -> dict[str, tuple[str, str | None]]:
    """Each step's status and, for a failed step, its error's kind."""
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    return {
        name: (step["status"], (step.get("error") or {}).get("kind"))
        for name, step in report["steps"].items()
    }


def _record_and_replay(
    run_cli: RunCli, server: FakeLLMThread, folder: Path, prompts: dict[str, str]
) -> dict[str, Any]:
    """Run against the fake server, export, replay with the mock: the replay's steps end as
    the run's did, with its exit code, offline. Returns the exported file's steps."""
    flow = _workflow(folder, server.url, prompts)
    live = run_cli("run", flow, "-q", "--no-cache", "--report-dir", folder / "live")
    assert live.returncode == 1, live.stdout + live.stderr
    recorded = _ends(folder / "live")
    assert recorded["fine"] == ("succeeded", None)
    assert recorded["after"][0] != "succeeded"
    asked = server.stats()["requests"]
    fixtures = folder / "fixtures.yaml"
    exported = run_cli("fixtures", "export", folder / "live", "-o", fixtures)
    assert exported.returncode == 0, exported.stderr
    replay = run_cli(
        "run", flow, "-q", "--mock", "--mock-fixtures", fixtures, "--report-dir", folder / "replay"
    )
    assert replay.returncode == live.returncode, replay.stdout + replay.stderr
    assert _ends(folder / "replay") == recorded
    assert server.stats()["requests"] == asked  # offline
    steps: dict[str, Any] = yaml.safe_load(fixtures.read_text(encoding="utf-8"))["steps"]
    return steps


def test_an_unfinished_reply_fails_its_step_in_the_replay(
    run_cli: RunCli, fake_llm: FakeLLMThread, tmp_path: Path
) -> None:
    steps = _record_and_replay(run_cli, fake_llm, tmp_path, UNFINISHED)
    assert [reply.get("finish_reason") for reply in steps["cut"]] == ["length"]
    assert [reply.get("finish_reason") for reply in steps["fine"]] == [None]


def test_a_call_that_kept_failing_fails_its_step_in_the_replay(
    run_cli: RunCli, fake_llm: FakeLLMThread, tmp_path: Path
) -> None:
    steps = _record_and_replay(run_cli, fake_llm, tmp_path, FAILING)
    assert steps["down"] == [{"error": {"status": 503}}]  # the last error, which repeats
    assert steps["dropped"] == [{"error": {"status": "reset"}}]
    assert [list(reply) for reply in steps["recovered"]] == [["text", "usage"]]  # it recovered


def test_a_finish_reason_on_an_error_is_refused(run_cli: RunCli, tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "version: 1\nname: mock\nagents: {a: {model: mock/echo}}\n"
        "steps: {s: {agent: a, prompt: hi}}\n",
        encoding="utf-8",
    )
    fixtures = tmp_path / "fixtures.yaml"
    fixtures.write_text(
        "steps:\n  s: {error: {status: 500}, finish_reason: length}\n", encoding="utf-8"
    )
    refused = run_cli("run", flow, "-q", "--mock-fixtures", fixtures)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "s.finish_reason: an error has no finish_reason" in refused.stderr
    assert "Traceback" not in refused.stderr
