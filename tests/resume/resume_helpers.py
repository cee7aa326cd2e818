"""Helpers of the resume tests: workflows on the fake LLM server, journal and report readers."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from agnoctl.events import read_events
from agnoctl.testing.fake_llm import FakeLLMThread, prompt_hash

REPO = Path(__file__).resolve().parents[2]
REPORT_SCHEMA = json.loads((REPO / "schemas" / "report.schema.json").read_text(encoding="utf-8"))
API_KEY = "sk-agnoctl-PLANTED-7f3a9c1e5b"  # recognisable: no file may ever hold it


def workflow(folder: Path, url: str, steps: dict[str, Any], **more: Any) -> Path:
    """A workflow whose agent `a` talks to the fake server at ``url`` with the planted key."""
    data: dict[str, Any] = {
        "version": 1,
        "name": "resume-test",
        "providers": {
            "local": {"type": "openai", "base_url": f"{url}/v1", "api_key": "${LLM_KEY}"}
        },
        "agents": {"a": {"model": "local/m"}},
        "defaults": {"retry": {"max_attempts": 1}},
        "steps": steps,
        **more,
    }
    path = folder / "flow.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def prompt_counts(server: FakeLLMThread, prompts: dict[str, str]) -> dict[str, int]:
    """Requests the server saw per prompt, by the caller's names for the prompts."""
    seen = server.stats()["prompts"]
    return {name: seen.get(prompt_hash(text), 0) for name, text in prompts.items()}


def events(run_dir: Path) -> list[dict[str, Any]]:
    return [entry.as_dict() for entry in read_events(run_dir / "events.jsonl")]


def valid_report(run_dir: Path) -> dict[str, Any]:
    """report.json, parsed and validated against the committed schema."""
    report: dict[str, Any] = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    check_report(report)
    return report


def check_report(report: dict[str, Any]) -> None:
    """Raise what ``jsonschema.validate(report, REPORT_SCHEMA)`` raises, if anything."""
    error = jsonschema.exceptions.best_match(_report_validator().iter_errors(report))
    if error is not None:
        raise error


@functools.cache
def _report_validator() -> jsonschema.protocols.Validator:
    """The committed schema's validator, the schema checked once: ``jsonschema.validate``
    checks the schema itself on every call, which costs more than validating a run of a
    hundred items against it, and the soaks validate hundreds of reports."""
    cls = jsonschema.validators.validator_for(REPORT_SCHEMA)
    cls.check_schema(REPORT_SCHEMA)
    return cls(REPORT_SCHEMA)


def latest(folder: Path) -> Path:
    runs = folder / ".agnoctl" / "runs"
    return (runs / "latest").resolve()
