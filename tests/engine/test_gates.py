"""Quality gates: every type passing and failing, findings, the retry prompt, judge replies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import TypeAdapter

from agnoctl.engine.gates import (
    JUDGE_SCHEMA,
    GateFailed,
    GateResult,
    check_gates,
    gate_failure,
    judge_prompt,
    parse_judge_reply,
    parse_output,
    retry_prompt,
    summarize_findings,
    validation_errors,
    with_findings,
)
from agnoctl.engine.retry import is_retryable
from agnoctl.errors import BadRequest, CacheMiss, OutputInvalid, StepFailed
from agnoctl.spec.models import Gate, JudgeGate

pytestmark = pytest.mark.anyio

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["summary", "confidence"],
    "properties": {
        "summary": {"type": "string"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "risks": {"type": "array", "items": {"type": "string"}},
    },
}
GOOD = {"summary": "Fintech adopts AI", "confidence": 0.9, "risks": ["cost", "privacy"]}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def gate(**fields: Any) -> Gate:
    """A gate exactly as the spec loader builds it from YAML."""
    parsed: Gate = TypeAdapter(Gate).validate_python(fields)
    return parsed


async def check_one(spec: dict[str, Any], output: Any, **kwargs: Any) -> GateResult:
    kwargs.setdefault("output_schema", None)
    kwargs.setdefault("judge", None)
    [result] = await check_gates([gate(**spec)], output, **kwargs)
    return result


# --------------------------------------------------------------------------- each gate type

PASSING: list[tuple[dict[str, Any], Any, Any]] = [
    ({"type": "threshold", "field": "confidence", "min": 0.8}, GOOD, 0.9),
    ({"type": "threshold", "field": "confidence", "max": 0.9}, GOOD, 0.9),
    ({"type": "threshold", "field": "scores.0", "min": 1, "max": 3}, {"scores": [2]}, 2),
    ({"type": "contains", "value": "AI"}, "AI is here", ["AI"]),
    ({"type": "contains", "value": ["AI", "here"]}, "AI is here", ["AI", "here"]),
    ({"type": "contains", "value": '"confidence":0.9'}, GOOD, ['"confidence":0.9']),
    ({"type": "not_contains", "value": ["TODO", "lorem"]}, "done", []),
    ({"type": "regex", "pattern": r"\d{4}"}, "in 2024 only", "2024"),
    ({"type": "length", "min": 3, "max": 5}, "abcd", 4),
    ({"type": "length", "max": 0}, None, 0),
    ({"type": "expr", "expr": "output.risks | length >= 2"}, GOOD, True),
    ({"type": "expr", "expr": "output.summary"}, GOOD, "Fintech adopts AI"),
]


@pytest.mark.parametrize(("spec", "output", "value"), PASSING, ids=repr)
async def test_gate_passes(spec: dict[str, Any], output: Any, value: Any) -> None:
    result = await check_one(spec, output)
    assert result.passed, result.finding
    assert result.value == value
    assert result.finding is None
    assert result.type == spec["type"]


FAILING: list[tuple[dict[str, Any], Any, Any, str]] = [
    (
        {"type": "threshold", "field": "confidence", "min": 0.8},
        {"confidence": 0.5},
        0.5,
        "confidence was 0.5, below the minimum 0.8",
    ),
    (
        {"type": "threshold", "field": "confidence", "max": 0.6},
        {"confidence": 0.75},
        0.75,
        "confidence was 0.75, above the maximum 0.6",
    ),
    (
        {"type": "threshold", "field": "scores.quality", "min": 1},
        {"scores": {}},
        None,
        "field scores.quality is missing from the output",
    ),
    (
        {"type": "threshold", "field": "scores.3", "min": 1},
        {"scores": [1]},
        None,
        "field scores.3 is missing from the output",
    ),
    (
        {"type": "threshold", "field": "confidence", "min": 0.8},
        {"confidence": "high"},
        "high",
        'field confidence is "high", not a number',
    ),
    (
        {"type": "threshold", "field": "confidence", "min": 0.8},
        {"confidence": True},
        True,
        "field confidence is true, not a number",
    ),
    (
        {"type": "threshold", "field": "confidence", "min": 0.8},
        "confidence: 0.9",
        None,
        "the output is text, not structured data: a threshold gate needs an output_schema",
    ),
    (
        {"type": "contains", "value": ["AI", "risk", "cost"]},
        "AI only",
        ["AI"],
        'the output does not contain "risk", "cost"',
    ),
    (
        {"type": "not_contains", "value": ["TODO", "lorem"]},
        "TODO: lorem",
        ["TODO", "lorem"],
        'the output contains "TODO", "lorem", which it must not',
    ),
    (
        {"type": "not_contains", "value": "summary"},
        GOOD,
        ["summary"],
        'the output contains "summary", which it must not',
    ),
    (
        {"type": "regex", "pattern": r"^\d+$"},
        "12 apples",
        None,
        r"the output has no match for the pattern ^\d+$",
    ),
    (
        {"type": "length", "min": 10},
        "short",
        5,
        "the output has 5 characters, fewer than the minimum 10",
    ),
    (
        {"type": "length", "max": 3},
        "too long",
        8,
        "the output has 8 characters, more than the maximum 3",
    ),
    (
        {"type": "expr", "expr": "output.risks | length >= 3"},
        GOOD,
        False,
        "the expression output.risks | length >= 3 was false",
    ),
    (
        {"type": "expr", "expr": "output.nope > 1"},
        GOOD,
        None,
        "the expression could not be evaluated: undefined value",
    ),
    (
        {"type": "expr", "expr": "output.summary / 2"},
        GOOD,
        None,
        "the expression could not be evaluated: TypeError",
    ),
    (
        {"type": "expr", "expr": "output.__class__"},
        GOOD,
        None,
        "the expression could not be evaluated: refused by the template sandbox",
    ),
]


@pytest.mark.parametrize(("spec", "output", "value", "finding"), FAILING, ids=repr)
async def test_gate_fails_with_a_finding(
    spec: dict[str, Any], output: Any, value: Any, finding: str
) -> None:
    result = await check_one(spec, output)
    assert not result.passed
    assert result.value == value
    assert result.finding is not None and result.finding.startswith(finding)


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ({"type": "threshold", "field": "confidence", "min": 0.8}, "threshold confidence >= 0.8"),
        ({"type": "threshold", "field": "n", "max": 3.0}, "threshold n <= 3"),
        ({"type": "threshold", "field": "n", "min": 1, "max": 2}, "threshold n between 1 and 2"),
        ({"type": "contains", "value": ["a", "b"]}, 'contains "a", "b"'),
        ({"type": "not_contains", "value": "x" * 60}, f'not_contains "{"x" * 39}…"'),
        ({"type": "regex", "pattern": "^OK"}, "regex ^OK"),
        ({"type": "length", "min": 10}, "length >= 10"),
        ({"type": "expr", "expr": "output.ok"}, "expr output.ok"),
        (
            {"type": "judge", "agent": "critic", "rubric": "r", "min": 0.75},
            "judge by critic >= 0.75",
        ),
    ],
)
async def test_gate_names_are_readable(spec: dict[str, Any], name: str) -> None:
    async def judge(_gate: JudgeGate, _output: Any) -> tuple[float, str]:
        return 1.0, "fine"

    result = await check_one(spec, {"ok": True, "n": 1, "confidence": 1}, judge=judge)
    assert result.name == name


async def test_expr_sees_the_template_context() -> None:
    spec = {"type": "expr", "expr": "output.confidence >= inputs.bar"}
    passing = await check_one(spec, GOOD, context={"inputs": {"bar": 0.8}})
    failing = await check_one(spec, GOOD, context={"inputs": {"bar": 0.95}})
    assert (passing.passed, failing.passed) == (True, False)


# --------------------------------------------------------------------------- schema gate


async def test_the_schema_gate_is_implied_and_checked_first() -> None:
    results = await check_gates(
        [gate(type="length", min=1)], GOOD, output_schema=SCHEMA, judge=None
    )
    assert [(r.index, r.type, r.name) for r in results] == [
        (0, "schema", "schema (implied by output_schema)"),
        (1, "length", "length >= 1"),
    ]
    assert results[0].passed and results[0].value == []


async def test_an_explicit_schema_gate_is_not_doubled() -> None:
    gates = [gate(type="length", min=1), gate(type="schema")]
    results = await check_gates(gates, GOOD, output_schema=SCHEMA, judge=None)
    assert [(r.type, r.name) for r in results] == [("length", "length >= 1"), ("schema", "schema")]


async def test_the_schema_gate_lists_every_violation() -> None:
    output = {"summary": 3, "confidence": 1.5}
    [result] = await check_gates([], output, output_schema=SCHEMA, judge=None)
    assert not result.passed
    assert result.value == [
        "confidence: 1.5 is greater than the maximum of 1",
        "summary: 3 is not of type 'string'",
    ]
    assert result.finding == (
        "the output does not match the output_schema: "
        "confidence: 1.5 is greater than the maximum of 1; summary: 3 is not of type 'string'"
    )


async def test_a_schema_gate_without_a_schema_fails() -> None:
    result = await check_one({"type": "schema"}, GOOD)
    assert not result.passed
    assert result.finding == "no output_schema applies to this step's output"


async def test_an_invalid_schema_is_a_finding_not_a_crash() -> None:
    result = await check_one({"type": "schema"}, GOOD, output_schema={"type": "nonsense"})
    assert not result.passed
    assert result.finding is not None
    assert result.finding.startswith("the output_schema itself is invalid")


async def test_no_gates_and_no_schema_means_no_results() -> None:
    assert await check_gates([], "anything", output_schema=None, judge=None) == []


# --------------------------------------------------------------------------- judge


def fake_judge(score: float, why: str = "because") -> Any:
    seen: list[tuple[JudgeGate, Any]] = []

    async def judge(judge_gate: JudgeGate, output: Any) -> tuple[float, str]:
        seen.append((judge_gate, output))
        return score, why

    judge.seen = seen  # type: ignore[attr-defined]
    return judge


JUDGE = {"type": "judge", "agent": "critic", "rubric": "Is it concise?", "min": 0.7}


async def test_judge_passes_at_or_above_min() -> None:
    judge = fake_judge(0.7, "concise enough")
    result = await check_one(JUDGE, "a brief", judge=judge)
    assert (result.passed, result.value, result.detail) == (True, 0.7, "concise enough")
    [(asked_gate, asked_output)] = judge.seen
    assert asked_gate.rubric == "Is it concise?" and asked_output == "a brief"


async def test_judge_fails_below_min_with_its_reason() -> None:
    result = await check_one(JUDGE, "a rambling brief", judge=fake_judge(0.55, "rambles"))
    assert not result.passed
    assert result.value == 0.55
    assert result.finding == "the judge scored 0.55, below the minimum 0.7: rambles"


@pytest.mark.parametrize(
    "error", [OutputInvalid("the judge's reply is not JSON"), BadRequest("model not found")]
)
async def test_a_judge_that_cannot_answer_fails_the_gate(error: Exception) -> None:
    async def judge(_gate: JudgeGate, _output: Any) -> tuple[float, str]:
        raise error

    result = await check_one(JUDGE, "x", judge=judge)
    assert not result.passed and result.value is None
    assert result.finding == f"the judge agent critic could not score the output: {error}"


async def test_a_judge_stopping_the_run_is_not_swallowed() -> None:
    async def judge(_gate: JudgeGate, _output: Any) -> tuple[float, str]:
        raise CacheMiss("no cached reply for the judge of step a")

    with pytest.raises(CacheMiss):
        await check_one(JUDGE, "x", judge=judge)


async def test_a_judge_gate_needs_a_judge_function() -> None:
    with pytest.raises(ValueError, match="judge function"):
        await check_one(JUDGE, "x", judge=None)


def test_judge_prompt_carries_rubric_output_and_format() -> None:
    text = judge_prompt(gate(**JUDGE), {"summary": "short"})  # type: ignore[arg-type]
    assert "Rubric:\nIs it concise?" in text
    assert '"summary": "short"' in text
    assert '{"score": <number from 0 to 1>, "reason": "<why, briefly>"}' in text


@pytest.mark.parametrize(
    "reply",
    [
        {"score": 0.8, "reason": "good"},
        '{"score": 0.8, "reason": "good"}',
        '```json\n{"score": 0.8, "reason": "good", "extra": 1}\n```',
    ],
)
def test_parse_judge_reply(reply: Any) -> None:
    assert parse_judge_reply(reply) == (0.8, "good")


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ({"score": 1.2, "reason": "x"}, "score: 1.2 is greater than the maximum of 1"),
        ({"score": True, "reason": "x"}, "score: True is not of type 'number'"),
        ({"score": 0.5}, "'reason' is a required property"),
        ([0.5, "x"], "is not of type 'object'"),
        ("score: 0.5", "the reply is not valid JSON"),
    ],
)
def test_a_bad_judge_reply_is_output_invalid(reply: Any, problem: str) -> None:
    with pytest.raises(OutputInvalid) as caught:
        parse_judge_reply(reply)
    assert problem in str(caught.value)
    assert is_retryable(caught.value)


def test_the_judge_schema_is_a_valid_schema_requiring_both_fields() -> None:
    assert validation_errors({"score": 0, "reason": ""}, JUDGE_SCHEMA) == []
    assert JUDGE_SCHEMA["required"] == ["score", "reason"]


# --------------------------------------------------------------------------- many gates


async def test_every_gate_is_reported_not_just_the_first_failure() -> None:
    gates = [
        gate(type="threshold", field="confidence", min=0.95),
        gate(type="contains", value="Fintech"),
        gate(type="expr", expr="missing_name"),
        gate(type="length", max=5),
        gate(**JUDGE),
    ]
    results = await check_gates(
        gates, GOOD, output_schema=SCHEMA, judge=fake_judge(0.9), context={}
    )
    assert [(r.index, r.type, r.passed) for r in results] == [
        (0, "schema", True),
        (1, "threshold", False),
        (2, "contains", True),
        (3, "expr", False),
        (4, "length", False),
        (5, "judge", True),
    ]
    json.dumps([r.as_dict() for r in results])  # report.json and events take them as they are


@pytest.mark.parametrize(
    ("policy", "severity"), [("fail", "fail"), ("retry", "fail"), ("warn", "warn")]
)
async def test_severity_follows_on_gate_failure(policy: Any, severity: str) -> None:
    results = await check_gates(
        [gate(type="length", min=100)],
        "short",
        output_schema=None,
        judge=None,
        on_gate_failure=policy,
    )
    assert results[0].severity == severity


async def test_gate_failure_by_policy() -> None:
    results = await check_gates(
        [gate(type="length", min=100), gate(type="contains", value="sh")],
        "short",
        output_schema=None,
        judge=None,
    )
    assert gate_failure(results, "warn") is None
    failed = gate_failure(results, "fail")
    retried = gate_failure(results, "retry")
    assert isinstance(failed, GateFailed) and isinstance(retried, GateFailed)
    assert isinstance(failed, StepFailed) and failed.kind == "gate_failed"
    assert (is_retryable(failed), is_retryable(retried)) == (False, True)
    assert failed.results == tuple(results)
    assert str(failed) == (
        "1 of 2 gate(s) failed: length >= 100: "
        "the output has 5 characters, fewer than the minimum 100"
    )
    passing = [r for r in results if r.passed]
    assert gate_failure(passing, "fail") is None


# --------------------------------------------------------------------------- retry prompt


async def test_the_retry_prompt_carries_every_finding_in_a_stable_format() -> None:
    results = await check_gates(
        [gate(type="threshold", field="confidence", min=0.8), gate(type="contains", value="AI")],
        {"summary": "x", "confidence": 0.5},
        output_schema=None,
        judge=None,
    )
    assert summarize_findings(results) == (
        "- threshold confidence >= 0.8: confidence was 0.5, below the minimum 0.8\n"
        '- contains "AI": the output does not contain "AI"'
    )
    assert retry_prompt("Analyse these findings.\n", results) == (
        "Analyse these findings.\n"
        "\n"
        "Your previous answer did not pass these checks:\n"
        "- threshold confidence >= 0.8: confidence was 0.5, below the minimum 0.8\n"
        '- contains "AI": the output does not contain "AI"\n'
        "Answer again and fix these problems."
    )


async def test_the_prompt_is_unchanged_when_every_gate_passed() -> None:
    results = await check_gates([gate(type="length", min=1)], "ok", output_schema=None, judge=None)
    assert summarize_findings(results) == ""
    assert retry_prompt("Do it.", results) == "Do it."


def test_invalid_output_errors_append_the_same_way() -> None:
    with pytest.raises(OutputInvalid) as caught:
        parse_output('{"summary": "x"}', SCHEMA)
    assert with_findings("Do it.", caught.value.errors) == (
        "Do it.\n\nYour previous answer did not pass these checks:\n"
        "- 'confidence' is a required property\nAnswer again and fix these problems."
    )


# --------------------------------------------------------------------------- parse_output


@pytest.mark.parametrize(
    "text",
    [json.dumps(GOOD), f"```json\n{json.dumps(GOOD)}\n```", f"  ```\n{json.dumps(GOOD)}\n```\n"],
)
def test_parse_output_accepts_json_with_or_without_a_fence(text: str) -> None:
    assert parse_output(text, SCHEMA) == GOOD


def test_parse_output_rejects_text_that_is_not_json() -> None:
    with pytest.raises(OutputInvalid, match="not valid JSON: Expecting value at line 1 column 1"):
        parse_output("Sure! Here it is.", SCHEMA)


def test_parse_output_rejects_json_that_does_not_validate() -> None:
    with pytest.raises(OutputInvalid) as caught:
        parse_output('{"summary": "x", "confidence": "high"}', SCHEMA)
    assert caught.value.errors == ("confidence: 'high' is not of type 'number'",)
    assert caught.value.kind == "output_invalid" and is_retryable(caught.value)


def test_an_invalid_schema_is_not_retried() -> None:
    with pytest.raises(StepFailed, match="output_schema itself is invalid") as caught:
        parse_output("{}", {"type": 12})
    assert not isinstance(caught.value, OutputInvalid)
    assert not is_retryable(caught.value)


def test_long_messages_are_cut() -> None:
    errors = validation_errors("x" * 5000, {"type": "object"})
    assert len(errors) == 1 and len(errors[0]) == 300 and errors[0].endswith("…")
