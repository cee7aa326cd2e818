"""A run against a model, exported as fixtures, replays offline with the same outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from resume_helpers import API_KEY, latest, valid_report, workflow

from agnoctl.testing.fake_llm import FakeLLMThread

RunCli = Any

SCHEMA = {
    "type": "object",
    "required": ["summary", "confidence"],
    "properties": {"summary": {"type": "string"}, "confidence": {"type": "number"}},
}
STEPS: dict[str, Any] = {
    "fan": {"agent": "a", "for_each": ["x", "y", "z"], "prompt": "collect {{ item }}"},
    "analyse": {
        "agent": "a",
        "needs": ["fan"],
        "output_schema": SCHEMA,
        "prompt": "analyse {{ steps.fan.output | join(' ') }}",
    },
    "lookup": {
        "agent": "tooled",
        "prompt": 'look it up [[tool:say:{"word": "hello"}]]',
    },
    "brief": {
        "agent": "a",
        "needs": ["analyse", "lookup"],
        "prompt": "brief {{ steps.analyse.output.summary }} {{ steps.lookup.output }}",
    },
}
MORE: dict[str, Any] = {
    "agents": {
        "a": {"model": "local/m"},
        "tooled": {"model": "local/m", "tools": ["say"]},
    },
    "tools": {
        "say": {
            "description": "Say a word.",
            "parameters": {"type": "object", "properties": {"word": {"type": "string"}}},
            "run": ["echo", "said {{ args.word }}"],
        }
    },
}


def _outputs(report: dict[str, Any]) -> dict[str, Any]:
    return {name: step["output"] for name, step in report["steps"].items()}


def test_exported_fixtures_replay_the_run_offline(
    run_cli: RunCli, fake_llm: FakeLLMThread, tmp_path: Path
) -> None:
    flow = workflow(tmp_path, fake_llm.url, STEPS, **MORE)
    live = run_cli("run", flow, "-q", "--no-cache", env={"LLM_KEY": API_KEY})
    assert live.returncode == 0, live.stdout + live.stderr
    recorded = _outputs(valid_report(latest(tmp_path)))
    assert recorded["lookup"] == "tool result: said hello\n"
    asked = fake_llm.stats()["requests"]

    exported = run_cli("fixtures", "export", "latest", "-o", tmp_path / "fixtures.yaml")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith("wrote 7 replies of run ")
    assert API_KEY not in (tmp_path / "fixtures.yaml").read_text(encoding="utf-8")

    replay = run_cli(
        "run",
        flow,
        "-q",
        "--mock",
        "--mock-fixtures",
        tmp_path / "fixtures.yaml",
        "--report-dir",
        tmp_path / "replay",
        env={"LLM_KEY": "not-needed-offline"},
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
    report = valid_report(tmp_path / "replay")
    assert report["mock"] is True
    assert _outputs(report) == recorded
    assert fake_llm.stats()["requests"] == asked


def test_export_needs_a_run(run_cli: RunCli, tmp_path: Path) -> None:
    missing = run_cli("fixtures", "export", "latest")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: no runs yet in")
