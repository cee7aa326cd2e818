"""The mock and function providers, and the minimal instances the mock answers schemas with."""

from __future__ import annotations

import json
import time
from typing import Any

import anyio
import jsonschema
import pytest

from agnoctl.errors import BadRequest, ProviderUnavailable, RateLimited
from agnoctl.providers.base import (
    CallContext,
    Message,
    ModelReply,
    ModelRequest,
    Provider,
    Usage,
)
from agnoctl.providers.fixtures import parse_fixtures
from agnoctl.providers.function import FunctionProvider
from agnoctl.providers.mock import MockProvider
from agnoctl.schema_instance import SchemaInstanceError, minimal_instance


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def request(
    prompt: str = "Say hi",
    *,
    step: str = "s",
    index: int | None = None,
    agent: str | None = None,
    purpose: str = "task",
    model: str = "echo",
    schema: dict[str, Any] | None = None,
) -> ModelRequest:
    return ModelRequest(
        model=model,
        messages=(Message("system", "Be brief."), Message("user", prompt)),
        output_schema=schema,
        context=CallContext(step_id=step, index=index, agent=agent, purpose=purpose),
    )


# --------------------------------------------------------------------------- defaults


@pytest.mark.anyio
async def test_echo_replies_with_the_prompt_for_any_model_name() -> None:
    provider: Provider = MockProvider()
    for model in ("echo", "gpt-4o", "anything"):
        reply = await provider.request(request("What is 2 + 2?", model=model))
        assert reply.text == "What is 2 + 2?"
        assert reply.model == model
        assert reply.finish_reason == "stop"
    assert (provider.name, provider.protocol, provider.base_url) == ("mock", "mock", "")


@pytest.mark.anyio
async def test_token_counts_are_deterministic_estimates() -> None:
    reply = await MockProvider().request(request("x" * 10))
    # input: "Be brief." (9) + 10 characters = 19 -> 5 tokens; output: 10 -> 3 tokens
    assert reply.usage == Usage(input_tokens=5, output_tokens=3)


@pytest.mark.anyio
async def test_an_output_schema_gets_a_minimal_valid_instance() -> None:
    schema = {
        "type": "object",
        "required": ["summary", "confidence"],
        "properties": {
            "summary": {"type": "string"},
            "confidence": {"type": "number", "minimum": 0.5, "maximum": 1},
        },
    }
    provider = MockProvider()
    reply = await provider.request(request(schema=schema))
    value = json.loads(reply.text)
    jsonschema.validate(value, schema)
    assert value == {"summary": "", "confidence": 1}
    again = await provider.request(request(schema=schema))
    assert again.text == reply.text


@pytest.mark.anyio
async def test_a_schema_with_no_valid_value_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="cannot produce a value for this output_schema"):
        await MockProvider(name="local").request(request(schema={"enum": []}))


@pytest.mark.anyio
async def test_a_judge_call_gets_a_passing_score_by_default() -> None:
    reply = await MockProvider().request(request(purpose="judge", agent="judge"))
    assert json.loads(reply.text) == {"score": 1.0, "reason": "mock judge"}


# --------------------------------------------------------------------------- fixtures

FIXTURES = parse_fixtures(
    {
        "steps": {
            "analyse": [
                {"json": {"summary": "weak", "confidence": 0.5}},
                {"json": {"summary": "strong", "confidence": 0.9}},
            ],
            "collect": {
                "items": {1: [{"error": {"status": 503}}, {"text": "recovered"}]},
                "default": {"text": "collected"},
            },
            "slow": {"text": "late", "delay": "100ms"},
            "limited": {"error": {"status": 429, "retry_after": 3}},
            "tooly": {"tool_calls": [{"name": "grep", "arguments": {"q": "x"}}, {"name": "ls"}]},
            "costly": {"text": "x", "usage": {"input_tokens": 1000, "output_tokens": 7}},
            "analyse#judge": {"json": {"score": 0.3, "reason": "thin"}},
        },
        "agents": {"judge": {"json": {"score": 0.9, "reason": "fine"}}, "writer": {"text": "w"}},
    }
)


@pytest.mark.anyio
async def test_replies_follow_the_script_then_the_last_repeats() -> None:
    provider = MockProvider(FIXTURES)
    texts = [(await provider.request(request(step="analyse"))).text for _ in range(3)]
    assert [json.loads(t)["confidence"] for t in texts] == [0.5, 0.9, 0.9]


@pytest.mark.anyio
async def test_items_are_sequenced_independently() -> None:
    provider = MockProvider(FIXTURES)
    with pytest.raises(ProviderUnavailable) as failure:
        await provider.request(request(step="collect", index=1))
    assert failure.value.status == 503 and failure.value.retryable
    assert failure.value.provider == "mock"
    assert (await provider.request(request(step="collect", index=0))).text == "collected"
    assert (await provider.request(request(step="collect", index=2))).text == "collected"
    assert (await provider.request(request(step="collect", index=1))).text == "recovered"


@pytest.mark.anyio
async def test_scripted_fixtures_win_over_the_output_schema_default() -> None:
    schema = {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}
    reply = await MockProvider(FIXTURES).request(request(step="analyse", schema=schema))
    assert json.loads(reply.text)["summary"] == "weak"


@pytest.mark.anyio
async def test_judge_calls_are_routed_and_counted_apart_from_task_calls() -> None:
    provider = MockProvider(FIXTURES)
    own = await provider.request(request(step="analyse", purpose="judge", agent="judge"))
    assert json.loads(own.text) == {"score": 0.3, "reason": "thin"}
    # The judge's call did not advance the step's own script.
    task = await provider.request(request(step="analyse"))
    assert json.loads(task.text)["confidence"] == 0.5
    by_agent = await provider.request(request(step="collect", purpose="judge", agent="judge"))
    assert json.loads(by_agent.text) == {"score": 0.9, "reason": "fine"}
    unscripted = await provider.request(request(step="collect", purpose="judge", agent="critic"))
    assert json.loads(unscripted.text)["reason"] == "mock judge"


@pytest.mark.anyio
async def test_agent_fallback_and_the_default_for_unscripted_steps() -> None:
    provider = MockProvider(FIXTURES)
    assert (await provider.request(request(step="other", agent="writer"))).text == "w"
    assert (await provider.request(request("echo me", step="other"))).text == "echo me"


@pytest.mark.anyio
async def test_scripted_errors_keep_retry_after() -> None:
    with pytest.raises(RateLimited) as caught:
        await MockProvider(FIXTURES, name="local").request(request(step="limited", model="m"))
    assert caught.value.retry_after == 3.0
    assert (caught.value.provider, caught.value.model) == ("local", "m")


@pytest.mark.anyio
async def test_a_delay_sleeps_and_can_be_cancelled() -> None:
    provider = MockProvider(FIXTURES)
    started = time.perf_counter()
    reply = await provider.request(request(step="slow"))
    assert reply.text == "late"
    assert time.perf_counter() - started >= 0.1
    with anyio.move_on_after(0.01) as scope:
        await provider.request(request(step="slow"))
    assert scope.cancelled_caught


@pytest.mark.anyio
async def test_tool_call_replies_get_ids_per_call() -> None:
    provider = MockProvider(FIXTURES)
    first = await provider.request(request(step="tooly"))
    second = await provider.request(request(step="tooly"))
    assert first.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in first.tool_calls] == [
        ("call_1_1", "grep", {"q": "x"}),
        ("call_1_2", "ls", {}),
    ]
    assert [c.id for c in second.tool_calls] == ["call_2_1", "call_2_2"]


@pytest.mark.anyio
async def test_scripted_usage_overrides_the_estimate() -> None:
    reply = await MockProvider(FIXTURES).request(request(step="costly"))
    assert reply.usage == Usage(1000, 7)


@pytest.mark.anyio
async def test_calls_are_recorded_within_a_bound() -> None:
    provider = MockProvider(keep_calls=2)
    for n in range(5):
        await provider.request(request(f"p{n}", step=f"s{n}"))
    assert provider.call_count == 5
    assert [context.step_id for context, _ in provider.calls] == ["s3", "s4"]
    assert provider.calls[-1][1].messages[-1].content == "p4"
    silent = MockProvider(keep_calls=0)
    await silent.request(request())
    assert list(silent.calls) == [] and silent.call_count == 1


# --------------------------------------------------------------------------- function provider


@pytest.mark.anyio
async def test_a_function_decides_each_reply_sync_or_async() -> None:
    def shout(req: ModelRequest) -> ModelReply:
        return ModelReply(text=req.messages[-1].content.upper())

    async def later(req: ModelRequest) -> ModelReply:
        await anyio.sleep(0)
        return ModelReply(text=f"{req.context.step_id}!")

    sync_provider = FunctionProvider(shout)
    assert (await sync_provider.request(request("hi"))).text == "HI"
    async_provider = FunctionProvider(later, name="fn")
    assert (await async_provider.request(request(step="x"))).text == "x!"
    assert async_provider.name == "fn" and async_provider.protocol == "function"
    assert [ctx.step_id for ctx, _ in async_provider.calls] == ["x"]


@pytest.mark.anyio
async def test_a_function_can_fail_like_a_provider() -> None:
    def down(req: ModelRequest) -> ModelReply:
        raise ProviderUnavailable("down", provider="function", status=503)

    provider = FunctionProvider(down)
    with pytest.raises(ProviderUnavailable):
        await provider.request(request())
    assert len(provider.calls) == 1


# --------------------------------------------------------------------------- minimal instances

SCHEMAS: list[dict[str, Any]] = [
    {},
    {"type": "null"},
    {"type": "boolean"},
    {"type": "string"},
    {"type": "string", "minLength": 5, "maxLength": 5},
    {"type": "string", "format": "date"},
    {"type": "string", "format": "date-time"},
    {"type": "string", "format": "email"},
    {"type": "string", "format": "uri"},
    {"type": "string", "format": "email", "minLength": 30},
    {"type": "string", "format": "uri", "minLength": 30},
    {"type": "integer", "minimum": 3},
    {"type": "integer", "maximum": -7},
    {"type": "integer", "exclusiveMinimum": 0},
    {"type": "integer", "minimum": 10, "multipleOf": 4},
    {"type": "number", "minimum": 0.25, "maximum": 0.75},
    {"type": "number", "exclusiveMinimum": 0.5, "exclusiveMaximum": 0.6},
    {"type": "number", "exclusiveMaximum": 0},
    {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": True,
    },
    {"enum": ["b", "a"]},
    {"const": {"fixed": [1, 2]}},
    {"type": ["null", "string"], "minLength": 2},
    {"type": "array", "minItems": 3, "items": {"type": "integer", "minimum": 1}},
    {"type": "array", "minItems": 3, "uniqueItems": True, "items": {"type": "string"}},
    {"type": "array", "minItems": 2, "uniqueItems": True, "items": {"enum": ["x", "y", "z"]}},
    {"type": "array", "prefixItems": [{"type": "string"}, {"type": "boolean"}], "minItems": 2},
    {"type": "array", "contains": {"const": 42}},
    {
        "type": "object",
        "required": ["summary", "confidence", "tags", "meta"],
        "properties": {
            "summary": {"type": "string", "minLength": 1},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "meta": {
                "type": "object",
                "required": ["when"],
                "properties": {"when": {"type": "string", "format": "date-time"}},
                "additionalProperties": False,
            },
            "optional": {"type": "integer"},
        },
    },
    {"type": "object", "minProperties": 2, "properties": {"a": {}, "b": {"type": "integer"}}},
    {
        "$defs": {
            "risk": {
                "type": "object",
                "required": ["level"],
                "properties": {"level": {"enum": ["low", "high"]}},
            }
        },
        "type": "object",
        "required": ["risks"],
        "properties": {
            "risks": {"type": "array", "minItems": 2, "items": {"$ref": "#/$defs/risk"}}
        },
    },
    {
        "definitions": {"name": {"type": "string", "minLength": 3}},
        "properties": {"n": {"$ref": "#/definitions/name"}},
        "required": ["n"],
    },
    {"anyOf": [{"type": "integer", "minimum": 5}, {"type": "string"}]},
    {"oneOf": [{"type": "string", "maxLength": 0}, {"type": "integer"}]},
    {
        "allOf": [
            {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}},
            {"required": ["b"], "properties": {"b": {"type": "number", "minimum": 2}}},
            {"properties": {"a": {"minimum": 4.5}}},
        ]
    },
    {
        "type": "object",
        "required": ["x"],
        "properties": {"x": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
    },
    {"type": ["number", "null"], "allOf": [{"type": "integer"}], "minimum": 1.5},
    {  # pydantic's shape for a list of models with an optional field
        "$defs": {
            "Item": {
                "properties": {
                    "name": {"title": "Name", "type": "string"},
                    "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                },
                "required": ["name"],
                "title": "Item",
                "type": "object",
            }
        },
        "properties": {
            "items": {"items": {"$ref": "#/$defs/Item"}, "minItems": 1, "type": "array"}
        },
        "required": ["items"],
        "type": "object",
    },
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: json.dumps(s)[:60])
def test_minimal_instances_validate(schema: dict[str, Any]) -> None:
    value = minimal_instance(schema)
    validator = jsonschema.validators.validator_for(schema)
    validator(schema, format_checker=validator.FORMAT_CHECKER).validate(value)
    assert minimal_instance(schema) == value  # deterministic
    json.dumps(value)  # plain JSON


def test_minimal_means_minimal() -> None:
    assert minimal_instance({"type": "object", "properties": {"a": {}}}) == {}
    assert minimal_instance({"type": "array"}) == []
    assert minimal_instance({"type": "integer", "minimum": -5}) == 0
    assert minimal_instance({"type": "number", "minimum": 0.25, "maximum": 0.75}) == 0.25
    assert minimal_instance({"type": ["null", "integer"]}) == 0
    assert minimal_instance({"type": "string", "format": "email"}) == "user@example.com"
    both = {
        "allOf": [
            {"properties": {"a": {"type": "integer"}}},
            {"properties": {"a": {"minimum": 4.5}}},
        ],
        "required": ["a"],
    }
    assert minimal_instance(both) == {"a": 5}


@pytest.mark.parametrize(
    "schema",
    [
        {"enum": []},
        {"type": "integer", "minimum": 1, "maximum": 0},
        {"type": "string", "minLength": 3, "maxLength": 2},
        {"$ref": "https://example.com/schema.json"},
        {"$ref": "#/$defs/missing"},
        {"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
        {"allOf": [{"type": "string"}, {"type": "integer"}]},
        {"type": "object", "required": ["x"], "additionalProperties": False},
    ],
)
def test_schemas_without_a_value_raise(schema: dict[str, Any]) -> None:
    with pytest.raises(SchemaInstanceError):
        minimal_instance(schema)
