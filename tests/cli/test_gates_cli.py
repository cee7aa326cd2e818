"""Quality gates through ``agnoctl run`` (SPEC "Quality gates"): every gate type passing and
failing, ``on_gate_failure`` warn / fail / retry, and each result in report.json, events.jsonl
and junit.xml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from issue5 import DATA, Run, RunCli, run_in_process, run_subprocess

from agnoctl.engine.gates import RETRY_FOOTER, RETRY_HEADER

GATES = DATA / "gates.yaml"
SCHEMA_GATE = "schema (implied by output_schema)"

# step -> (gate name, value measured, finding) of its one explicit gate, under gates-fail.yaml
FAILED: dict[str, tuple[str, Any, str]] = {
    "threshold": (
        "threshold confidence between 0.5 and 0.9",
        0.3,
        "confidence was 0.3, below the minimum 0.5",
    ),
    "threshold_max": (
        "threshold confidence <= 0.9",
        0.95,
        "confidence was 0.95, above the maximum 0.9",
    ),
    "threshold_missing": (
        "threshold detail.score >= 0",
        None,
        "field detail.score is missing from the output",
    ),
    "contains": ('contains "OK"', [], 'the output does not contain "OK"'),
    "contains_all": ('contains "alpha", "beta"', ["alpha"], 'the output does not contain "beta"'),
    "not_contains": (
        'not_contains "TODO"',
        ["TODO"],
        'the output contains "TODO", which it must not',
    ),
    "not_contains_any": (
        'not_contains "lorem", "ipsum"',
        ["lorem", "ipsum"],
        'the output contains "lorem", "ipsum", which it must not',
    ),
    "regex": (
        r"regex Verdict: (yes|no)\b",
        None,
        r"the output has no match for the pattern Verdict: (yes|no)\b",
    ),
    "length": (
        "length between 10 and 40",
        9,
        "the output has 9 characters, fewer than the minimum 10",
    ),
    "length_max": ("length <= 5", 13, "the output has 13 characters, more than the maximum 5"),
    "expr": (
        "expr output.risks | length >= 2",
        False,
        "the expression output.risks | length >= 2 was false",
    ),
    "judged": ("judge by judge >= 0.7", 0.6, "the judge scored 0.6, below the minimum 0.7: vague"),
    "judged_by_step": (
        "judge by strict >= 0.5",
        0.2,
        "the judge scored 0.2, below the minimum 0.5: no sources",
    ),
    "judge_garbled": (
        "judge by strict >= 0.5",
        None,
        "the judge agent strict could not score the output: the judge's reply is not "
        "{score: 0..1, reason: text}: 'score' is a required property; "
        "'reason' is a required property",
    ),
}

# step -> value its explicit gate measured under gates-pass.yaml
PASSED_VALUES: dict[str, Any] = {
    "threshold": 0.7,
    "threshold_max": 0.9,
    "threshold_missing": 3,
    "contains": ["OK"],
    "contains_all": ["alpha", "beta"],
    "not_contains": [],
    "not_contains_any": [],
    "regex": "Verdict: yes",
    "length": 20,
    "length_max": 4,
    "expr": True,
    "judged": 0.8,
    "judged_by_step": 0.5,
    "judge_garbled": 0.9,
}
JUDGED = ("judged", "judged_by_step", "judge_garbled")


def _gate_events(run: Run, step: str) -> list[tuple[int, str, bool, Any, str | None, str]]:
    return [
        (e["attempt"], e["gate"], e["passed"], e.get("value"), e.get("finding"), e["severity"])
        for e in run.of("gate_result", step)
    ]


def _gate_rows(run: Run, step: str) -> list[tuple[int, str, bool, Any, str | None, str]]:
    return [
        (g["attempt"], g["name"], g["passed"], g["value"], g["finding"], g["severity"])
        for g in run.step(step)["gates"]
    ]


def test_every_gate_type_passes(tmp_path: Path) -> None:
    run = run_in_process(GATES, DATA / "gates-pass.yaml", tmp_path / "run")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert set(run.statuses().values()) == {"succeeded"}
    for step, value in PASSED_VALUES.items():
        gate = run.step(step)["gates"][-1]
        assert (gate["passed"], gate["value"], gate["finding"]) == (True, value, None), step
        assert f"{step} gate {gate['name']}" in run.junit
    assert run.step("schema")["gates"] == [
        {
            "name": SCHEMA_GATE,
            "type": "schema",
            "passed": True,
            "value": [],
            "finding": None,
            "severity": "fail",
            "detail": None,
            "attempt": 1,
        }
    ]
    # The judge's reason is kept even when the gate passes, and its call is the step's.
    assert run.step("judged")["gates"][0]["detail"] == "clear"
    for step in JUDGED:
        assert run.step(step)["calls"] == 2
        judge_calls = [e for e in run.of("llm_call", step) if e["purpose"] == "judge"]
        assert len(judge_calls) == 1
    assert {"judge", "strict"} <= set(run.report["cost"]["by_agent"])


def test_every_gate_type_fails_and_is_reported_everywhere(run_cli: RunCli, tmp_path: Path) -> None:
    run = run_subprocess(run_cli, GATES, DATA / "gates-fail.yaml", tmp_path / "run")
    assert run.exit_code == 1, run.stdout + run.stderr
    assert run.stdout.startswith("failed: 0 of 15 steps succeeded")
    for step, (name, value, finding) in FAILED.items():
        record = run.step(step)
        assert record["status"] == "failed", step
        assert record["error"]["kind"] == "gate_failed"
        assert f"{name}: {finding}" in record["error"]["message"]
        expected = (1, name, False, value, finding, "fail")
        # report.json, events.jsonl and junit.xml tell the same story, gate by gate
        assert _gate_rows(run, step)[-1] == expected, step
        assert _gate_events(run, step) == _gate_rows(run, step), step
        failure = run.junit[f"{step} gate {name}"].find("failure")
        assert failure is not None and failure.get("message") == finding
        assert failure.get("type") == "gate_failed"
        step_failure = run.junit[step].find("failure")
        assert step_failure is not None and step_failure.get("type") == "gate_failed"


def test_an_invalid_structured_reply_is_retried_as_malformed_then_fails_the_schema_gate(
    tmp_path: Path,
) -> None:
    run = run_in_process(GATES, DATA / "gates-fail.yaml", tmp_path / "run")
    step = run.step("schema")
    problems = ["'confidence' is a required property", "summary: 1 is not of type 'string'"]
    finding = "the reply does not match the output_schema: " + "; ".join(problems)
    assert step["status"] == "failed"
    assert step["error"] == {"message": finding, "kind": "output_invalid"}
    # retried whatever on_gate_failure says: malformed replies always are
    assert [a["error"]["kind"] for a in step["attempts"]] == ["output_invalid"] * 2
    assert _gate_rows(run, "schema") == [
        (1, SCHEMA_GATE, False, problems, finding, "fail"),
        (2, SCHEMA_GATE, False, problems, finding, "fail"),
    ]
    assert _gate_events(run, "schema") == _gate_rows(run, "schema")
    failure = run.junit[f"schema gate {SCHEMA_GATE}"].find("failure")
    assert failure is not None and failure.get("message") == finding
    # the retry asked again with the validation problems appended
    first, second = (a["prompt"] for a in step["attempts"])
    assert first == "Analyse the market."
    assert second == "\n".join(
        [first, "", RETRY_HEADER, *(f"- {p}" for p in problems), RETRY_FOOTER]
    )


ON_FAILURE = DATA / "on-failure.yaml"


def test_warn_passes_and_retry_asks_again_with_the_finding(tmp_path: Path) -> None:
    run = run_in_process(ON_FAILURE, DATA / "on-failure-fixtures.yaml", tmp_path / "run")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.statuses() == {"warned": "succeeded", "retried": "succeeded", "report": "succeeded"}
    threshold = "threshold confidence >= 0.8"
    finding = "confidence was 0.5, below the minimum 0.8"

    # warn: the failure is recorded with severity warn, the output goes on downstream
    assert _gate_rows(run, "warned") == [
        (1, SCHEMA_GATE, True, [], None, "warn"),
        (1, threshold, False, 0.5, finding, "warn"),
    ]
    assert _gate_events(run, "warned") == _gate_rows(run, "warned")
    warned = run.junit[f"warned gate {threshold}"]
    assert warned.find("failure") is None
    assert warned.findtext("system-out") == f"warning: {finding}"

    # retry: attempt 2's prompt is attempt 1's plus the finding; attempt 2 passes
    retried = run.step("retried")
    assert [a["error"]["kind"] if a["error"] else None for a in retried["attempts"]] == [
        "gate_failed",
        None,
    ]
    first, second = (a["prompt"] for a in retried["attempts"])
    assert first == "Analyse the retried market."
    assert second == (f"{first}\n\n{RETRY_HEADER}\n- {threshold}: {finding}\n{RETRY_FOOTER}")
    assert [(row[0], row[2]) for row in _gate_rows(run, "retried")] == [
        (1, True),
        (1, False),
        (2, True),
        (2, True),
    ]
    assert _gate_events(run, "retried") == _gate_rows(run, "retried")
    assert [e["reason"] for e in run.of("retry_scheduled", "retried")] == ["gate_failed"]
    # JUnit shows the gates of the attempt that counted: the last one
    assert run.junit[f"retried gate {threshold}"].find("failure") is None
    report = run.step("report")["attempts"][0]["prompt"]
    assert report == "Report on weak and strong."


def test_gate_retries_are_bounded_by_max_attempts(tmp_path: Path) -> None:
    fixtures = tmp_path / "always-weak.yaml"
    fixtures.write_text(
        "steps:\n"
        "  warned: {json: {summary: weak, confidence: 0.5}}\n"
        "  retried: {json: {summary: weak, confidence: 0.5}}\n"
    )
    run = run_in_process(ON_FAILURE, fixtures, tmp_path / "run")
    assert run.exit_code == 1
    retried = run.step("retried")
    assert retried["status"] == "failed" and retried["error"]["kind"] == "gate_failed"
    assert len(retried["attempts"]) == 3  # defaults.retry.max_attempts
    prompts = [a["prompt"] for a in retried["attempts"]]
    assert prompts[1] == prompts[2] != prompts[0]  # findings replace, never pile up
    assert [e["retrying"] for e in run.of("attempt_failed", "retried")] == [True, True, False]
    assert run.statuses()["report"] == "skipped:upstream_failed"
    assert "retried (failed)" in run.report["reason"]


@pytest.mark.parametrize("mode", ["fail", "warn"])
def test_on_gate_failure_decides_the_exit_code(tmp_path: Path, mode: str) -> None:
    fixtures = tmp_path / "weak.yaml"
    fixtures.write_text(
        "steps:\n"
        "  warned: {json: {summary: weak, confidence: 0.5}}\n"
        "  retried: {json: {summary: strong, confidence: 0.9}}\n"
    )
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        ON_FAILURE.read_text().replace("on_gate_failure: warn", f"on_gate_failure: {mode}")
    )
    run = run_in_process(flow, fixtures, tmp_path / "run")
    assert run.exit_code == (1 if mode == "fail" else 0)
    warned = run.step("warned")
    assert warned["status"] == ("failed" if mode == "fail" else "succeeded")
    assert len(warned["attempts"]) == 1  # fail and warn never ask again
    assert warned["gates"][-1]["severity"] == mode
    if mode == "fail":
        assert run.statuses()["report"] == "skipped:upstream_failed"
        assert "not succeeded: warned (failed), report (upstream_failed)" in run.report["reason"]


def test_a_judge_that_is_briefly_down_is_asked_again_not_the_task(tmp_path: Path) -> None:
    workflow = tmp_path / "judge.yaml"
    workflow.write_text(
        """
version: 1
name: judge-retry
agents:
  writer: {model: mock/echo}
  judge: {model: mock/echo}
steps:
  judged:
    agent: writer
    prompt: Write a summary.
    retry: {max_attempts: 3, initial_delay: 10ms, max_delay: 20ms}
    gates: [{type: judge, agent: judge, rubric: Is it clear?, min: 0.7}]
"""
    )
    fixtures = tmp_path / "fixtures.yaml"
    fixtures.write_text(
        """
steps:
  judged: {text: a clear summary}
  "judged#judge":
    - {error: {status: 503, message: judge overloaded}}
    - {json: {score: 0.9, reason: clear}}
"""
    )
    run = run_in_process(workflow, fixtures, tmp_path / "run")
    assert run.exit_code == 0, run.stdout + run.stderr
    step = run.step("judged")
    assert len(step["attempts"]) == 1  # the task was not asked again
    assert step["gates"][0]["passed"] is True
    retries = run.of("retry_scheduled", "judged")
    assert [(e["purpose"], e["reason"]) for e in retries] == [("judge", "unavailable")]
