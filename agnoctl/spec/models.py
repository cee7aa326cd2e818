"""The workflow language (SPEC v1) as pydantic models.

Every field's ``description`` goes into ``schemas/workflow.schema.json`` and the reference docs.
They are ``Field(description=...)`` rather than attribute docstrings because pydantic reads
docstrings by parsing this file's source at import, which cost ~14 % of `agnoctl validate`'s
start-up. Models are strict: an unknown field is an error (fail closed), never ignored.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import SplitResult, urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from agnoctl.spec.templates import Interpolated, literal_source

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
# A year: no timeout, delay or run bound is longer; past it a number is a mistake (or 1e300).
MAX_DURATION = 365 * 24 * 3600.0
# USD per 1M tokens: ten times the dearest model's price, so a typo (or .inf) is caught.
MAX_PRICE = 10_000.0


def parse_duration(value: object) -> float:
    """``250ms``, ``30s``, ``5m``, ``1h`` or a number of seconds, as seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like 30s, 5m, 250ms")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError(
            f"{value!r} is not a duration: use a number of seconds or 250ms, 30s, 5m, 1h"
        )
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a duration: it must be a finite number of seconds")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds > MAX_DURATION:
        raise ValueError(f"a duration of {value!r} is longer than a year: use 30s, 5m, 1h, ...")
    return seconds


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda v: v, return_type=float),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": MAX_DURATION},
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h)?\s*$"},
            ],
            "description": "A duration: 250ms, 30s, 5m, 1h, or a number of seconds.",
        }
    ),
]
# Every number of the spec is strict: YAML's `true` is no 1 (pydantic's lax mode reads it so),
# a quoted "2" is a string (quoting is how a file keeps a value text), and an integer is
# written as one (3, not 3.0). A value that would be read as something else is an error.
Integer = Annotated[int, Field(strict=True)]
Finite = Annotated[float, Field(allow_inf_nan=False, strict=True)]
"""A number that is not NaN nor infinite (YAML's ``.nan`` and ``.inf``)."""
Share = Annotated[Finite, Field(ge=0.0, le=1.0)]
JsonSchemaDict = dict[str, Any]


def _template(value: object) -> object:
    return (
        literal_source(value.parts, expression=False) if isinstance(value, Interpolated) else value
    )


def _expression(value: object) -> object:
    return (
        literal_source(value.parts, expression=True) if isinstance(value, Interpolated) else value
    )


# Fields rendered as templates or evaluated as expressions: a `${VAR}` value in them is data,
# a literal in the source, never template code (see agnoctl.spec.templates.literal_source).
Template = Annotated[str, BeforeValidator(_template)]
Expression = Annotated[str, BeforeValidator(_expression)]


class Strict(BaseModel):
    """Base of every spec model: unknown fields are errors."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        frozen=True,
    )


# --------------------------------------------------------------------------- inputs


class InputSpec(Strict):
    type: Literal["string", "number", "integer", "boolean", "array", "object"] = Field(
        default="string",
        description=(
            "The input's type; `-i key=value` is converted to it (JSON for arrays and objects)."
        ),
    )
    default: Any = Field(
        default=None,
        description="Value used when the run gives none. An input without a default is required.",
    )
    description: str | None = Field(
        default=None, description="What the input is for; shown by `agnoctl plan`."
    )

    @property
    def required(self) -> bool:
        return "default" not in self.model_fields_set

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is of the declared type (a bool is not a number here)."""
        if isinstance(value, bool):
            return self.type == "boolean"
        return isinstance(value, _INPUT_PYTHON_TYPES[self.type])


_INPUT_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


# --------------------------------------------------------------------------- providers


class RateLimitSpec(Strict):
    requests_per_minute: Annotated[Integer, Field(gt=0)] | None = Field(
        default=None, description="Requests per minute sent to this provider (token bucket)."
    )
    tokens_per_minute: Annotated[Integer, Field(gt=0)] | None = Field(
        default=None,
        description="Tokens per minute (input estimate + max_tokens reserved per call).",
    )

    @model_validator(mode="after")
    def _some_limit(self) -> RateLimitSpec:
        if self.requests_per_minute is None and self.tokens_per_minute is None:
            raise ValueError(
                "sets no limit: give requests_per_minute, tokens_per_minute or both, or remove it"
            )
        return self


class CircuitBreakerSpec(Strict):
    failure_threshold: Annotated[Integer, Field(ge=1)] = Field(
        default=5, description="Consecutive failures that open the breaker."
    )
    recovery_timeout: Duration = Field(
        default=30.0,
        description="How long the breaker stays open before half-open probes are let through.",
    )
    half_open_max_calls: Annotated[Integer, Field(ge=1)] = Field(
        default=1, description="Probe calls allowed through while half-open."
    )


_DATED = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$")


def price_names(model: str) -> tuple[str, str]:
    """The names a model's price is found under: its own, then without a date or `-latest`
    (`gpt-4o-mini-2024-07-18` is priced as `gpt-4o-mini`)."""
    return model, _DATED.sub("", model)


class ModelPrice(Strict):
    input: Annotated[Finite, Field(ge=0, le=MAX_PRICE)] = Field(
        description="USD per 1M input tokens."
    )
    output: Annotated[Finite, Field(ge=0, le=MAX_PRICE)] = Field(
        description="USD per 1M output tokens."
    )
    cached_input: Annotated[Finite, Field(ge=0, le=MAX_PRICE)] | None = Field(
        default=None,
        description=(
            "USD per 1M input tokens read from the provider's prompt cache (OpenAI's "
            "`cached_tokens`, Anthropic's `cache_read_input_tokens`). Unset: the input price."
        ),
    )
    cache_write: Annotated[Finite, Field(ge=0, le=MAX_PRICE)] | None = Field(
        default=None,
        description=(
            "USD per 1M input tokens written to the provider's prompt cache (Anthropic's "
            "`cache_creation_input_tokens`). Unset: the input price."
        ),
    )


# What a protocol adds to its base_url (SPEC "Providers"): a base_url ending in it was
# copied from an endpoint, and the request would go to that path twice over.
_ENDPOINTS = {"openai": "/chat/completions", "anthropic": "/v1/messages", "ollama": "/api/chat"}


class ProviderSpec(Strict):
    type: Literal["openai", "anthropic", "ollama", "mock"] = Field(
        description=(
            "Wire protocol: openai (Chat Completions and compatible servers), "
            "anthropic, ollama, mock."
        )
    )
    base_url: str | None = Field(
        default=None,
        description=(
            "openai: up to /v1 (requests go to {base_url}/chat/completions); "
            "anthropic: the host ({base_url}/v1/messages); ollama: the host "
            "({base_url}/api/chat)."
        ),
    )
    api_key: str | None = Field(
        default=None,
        description=(
            "API key; use ${VAR} to read it from the environment. Never written to any output."
        ),
    )
    max_concurrency: Annotated[Integer, Field(ge=1)] | None = Field(
        default=None,
        description=(
            "Requests in flight to this provider at once: the ceiling of its adaptive window "
            "(a 429 halves the window, successes grow it back). Unset: no cap until the "
            "first 429, then the run's `limits.max_concurrency` (else 100) is the ceiling."
        ),
    )
    rate_limit: RateLimitSpec | None = Field(
        default=None, description="Requests and tokens per minute."
    )
    circuit_breaker: CircuitBreakerSpec | None = Field(
        default=None,
        description=(
            "Fail fast while the provider is down. Unset, every provider still has one: 5 "
            "consecutive failures open it for 30s, then 1 probe. Only outages count (5xx, "
            "408, timeouts, connection errors, malformed replies), never a 429 or another 4xx."
        ),
    )
    pricing: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description="USD per 1M tokens by model name; overrides the built-in price table.",
    )
    max_response_bytes: Annotated[Integer, Field(ge=1024)] | None = Field(
        default=None,
        description=(
            "Largest reply body read, in bytes (unset: 32 MiB). A larger reply fails the "
            "attempt, read no further than the cap, and is not retried."
        ),
    )
    stall_timeout: Annotated[Duration, Field(gt=0)] | None = Field(
        default=None,
        description=(
            "Once a reply's headers have come, the longest its body (a stream's events and "
            "keep-alives included) may bring less than 1 KiB (unset: 60s). A stalled or "
            "trickling reply fails the attempt as a timeout, which is retried; the step's "
            "`timeout` bounds the whole attempt."
        ),
    )
    # None, not True, when unset: a file that does not set it dumps as it did before the
    # field existed, so a run's fingerprint (the file as written) stays what journals hold.
    stream: bool | None = Field(
        default=None,
        description=(
            "Read replies as streams (unset: true; server-sent events for openai and "
            "anthropic, JSON lines for ollama), which gives time to first token and live "
            "text. false asks for whole replies, for servers that cannot stream; the result "
            "is the same."
        ),
    )

    @field_validator("base_url")
    @classmethod
    def _no_credentials(cls, value: str | None) -> str | None:
        # A password in a URL ends up in every message that quotes the URL, and the key goes
        # in its own header, which a user:password@ part would contradict.
        if value is not None and "@" in urlsplit(value).netloc:
            raise ValueError(
                "a base_url may not hold a user name or password (user:password@host): "
                "give the key as `api_key: ${VAR}`"
            )
        return value

    @model_validator(mode="after")
    def _callable_base_url(self) -> ProviderSpec:
        # Said before the run: at run time each step using the entry would fail on it, after
        # the steps before it had run (and spent).
        if self.base_url and self.type != "mock":
            problem = base_url_problem(self.type, self.base_url)
            if problem is not None:
                raise ValueError(f"`base_url` {problem}")
        return self


def base_url_problem(protocol: str, base_url: str) -> str | None:
    """Why no request can go to ``base_url`` of a ``protocol`` server (the text after the
    value's name: "'http://h/v1#x' may not end in a fragment ..."), or None."""
    # A bare host, as OLLAMA_HOST may be, is read as http:// with defaults for an empty
    # host and a missing port (providers.registry), and held to the same checks.
    bare = protocol == "ollama" and "://" not in base_url
    parts = urlsplit(f"http://{base_url.strip()}" if bare else base_url.strip())
    # As quoted: a query may hold a key (?key=...).
    shown = urlunsplit(parts._replace(query="***" if parts.query else ""))
    shown = shown.removeprefix("http://") if bare else shown
    if (
        parts.scheme not in ("http", "https")
        or not (parts.hostname or bare)
        or not _has_valid_port(parts)
    ):
        return (
            f"{shown!r} is not an http(s) URL with a host "
            "(http://127.0.0.1:8000/v1, https://api.example.com/v1)"
        )
    if parts.fragment or base_url.rstrip().endswith("#"):
        return f"{shown!r} may not end in a fragment (#...): no request sends one"
    endpoint = _ENDPOINTS[protocol]
    if parts.path.rstrip("/").endswith(endpoint):
        return (
            f"{shown!r} is the endpoint itself: requests go to "
            f"{{base_url}}{endpoint}, so write {shown.replace(endpoint, '', 1)!r}"
        )
    return None


def _has_valid_port(parts: SplitResult) -> bool:
    try:
        parts.port  # noqa: B018 - reading it is the check: ValueError for a port that is no number
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- retry, gates


class RetrySpec(Strict):
    max_attempts: Annotated[Integer, Field(ge=1)] = Field(
        default=3, description="Attempts in all, the first included (1 = no retry)."
    )
    initial_delay: Duration = Field(
        default=1.0, description="Delay before the first retry, before jitter."
    )
    max_delay: Duration = Field(default=20.0, description="Upper bound of any delay.")
    multiplier: Annotated[Finite, Field(ge=1.0)] = Field(
        default=2.0,
        description=(
            "Growth of the delay per retry: min(max_delay, initial_delay * multiplier^n)."
        ),
    )
    jitter: Literal["full", "none"] = Field(
        default="full",
        description=(
            "full: a uniform random delay between 0 and the computed one; none: exactly it."
        ),
    )


class SchemaGate(Strict):
    type: Literal["schema"] = Field(
        description=(
            "The output must validate against the step's output_schema (implied "
            "whenever one applies)."
        )
    )


class ThresholdGate(Strict):
    type: Literal["threshold"] = Field(
        description="A numeric field of the structured output must lie within [min, max]."
    )
    field: str = Field(
        description=(
            "Dotted path to a numeric field of the structured output, e.g. `scores.quality`."
        )
    )
    min: Finite | None = Field(default=None, description="Lowest passing value.")
    max: Finite | None = Field(default=None, description="Highest passing value.")

    @model_validator(mode="after")
    def _bounded(self) -> ThresholdGate:
        _check_bounds("threshold", self.min, self.max)
        return self


class ContainsGate(Strict):
    type: Literal["contains", "not_contains"] = Field(
        description=(
            "contains: every value must appear in the text output; not_contains: none may."
        )
    )
    value: str | list[str] = Field(
        description=(
            "Text (or texts) that must all appear (contains) or none appear (not_contains)."
        )
    )

    @field_validator("value")
    @classmethod
    def _decides(cls, value: str | list[str]) -> str | list[str]:
        # Empty text is in every output and no texts are checked at all: such a gate would
        # pass (contains) or fail (not_contains) whatever the output says.
        if value == [] or "" in ([value] if isinstance(value, str) else value):
            raise ValueError(
                "give the text(s) to look for: an empty text appears in every output, and an "
                "empty list checks nothing"
            )
        return value


class RegexGate(Strict):
    type: Literal["regex"] = Field(
        description="The pattern must match somewhere in the text output."
    )
    pattern: str = Field(
        description=(
            "Python regular expression searched in the text output; a match that takes "
            "longer than a second (a pattern that backtracks, like `(a+)+$`) fails the gate."
        )
    )

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        import regex  # the gates' engine; imported only by workflows with a regex gate

        try:
            regex.compile(value)
        except regex.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class LengthGate(Strict):
    type: Literal["length"] = Field(
        description="The text output's length in characters must lie within [min, max]."
    )
    min: Annotated[Integer, Field(ge=0)] | None = Field(
        default=None, description="Fewest characters."
    )
    max: Annotated[Integer, Field(ge=0)] | None = Field(
        default=None, description="Most characters."
    )

    @model_validator(mode="after")
    def _bounded(self) -> LengthGate:
        _check_bounds("length", self.min, self.max)
        return self


def _check_bounds(kind: str, low: float | None, high: float | None) -> None:
    """A gate's bounds must let some value pass: swapped bounds fail every output, each retry
    under `on_gate_failure: retry` paid for in vain."""
    if low is None and high is None:
        raise ValueError(f"a {kind} gate needs min, max or both")
    if low is not None and high is not None and low > high:
        raise ValueError(
            f"a {kind} gate with min {low:g} above max {high:g} fails every output: "
            "swap them, or drop one"
        )


class ExprGate(Strict):
    type: Literal["expr"] = Field(description="An expression over `output` must be true.")
    expr: Expression = Field(
        description=(
            "Jinja2 expression over `output` that must be true, e.g. `output.risks | length >= 3`."
        )
    )


class JudgeGate(Strict):
    type: Literal["judge"] = Field(
        description="An LLM judge agent scores the output against a rubric."
    )
    agent: str = Field(
        description=(
            "The agent that scores the output; it replies {score, reason} with score in [0, 1]."
        )
    )
    rubric: str = Field(description="What the judge scores the output against (not empty).")
    min: Share = Field(default=0.7, description="Lowest passing score.")

    @field_validator("rubric")
    @classmethod
    def _has_rubric(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the judge needs a rubric: what makes an output good")
        return value


Gate = Annotated[
    SchemaGate | ThresholdGate | ContainsGate | RegexGate | LengthGate | ExprGate | JudgeGate,
    Field(discriminator="type"),
]


class LoopSpec(Strict):
    max_iterations: Annotated[Integer, Field(ge=1, le=1000)] = Field(
        description="Most times the group's children run."
    )
    until: Expression | None = Field(
        default=None,
        description="Expression checked after each iteration; the loop stops when it is true.",
    )
    on_exhausted: Literal["succeed", "fail"] = Field(
        default="succeed",
        description=(
            "What spending every iteration means: succeed with the last outputs, or fail."
        ),
    )

    @model_validator(mode="after")
    def _can_end(self) -> LoopSpec:
        # Without `until` every iteration is spent, so `fail` would fail every run (after
        # paying for all of them): a setting that decides nothing.
        if self.until is None and self.on_exhausted == "fail":
            raise ValueError(
                "`on_exhausted: fail` without `until` fails every run, after all its "
                "iterations: add the `until` that ends the loop, or drop `on_exhausted`"
            )
        return self


# --------------------------------------------------------------------------- steps

OnGateFailure = Literal["fail", "warn", "retry"]
Tags = dict[str, str] | list[str]


_NOT_FOR_USES = {
    "retry": "a sub-workflow is not re-run; give its steps `retry` in its own file",
    "cache": "caching is per model call; set `cache` on the sub-workflow's steps or agents",
    "output_schema": "its output is its `outputs` map; check it with gates",
    "priority": "it takes no concurrency slot; give its steps `priority` in its own file",
}
"""Fields a `uses` step may not set (those of other kinds are refused by _check_kind_fields)."""

_JUDGE_ONLY_FOR_GROUPS = {
    "retry": "a group is not re-run",
    "cache": "caching is per model call",
    "tags": "costs are attributed per model call",
}
"""Fields a group reads only for its own judge gates' model calls: without one, ignored."""


def _uses_path(value: object) -> object:
    if isinstance(value, str) and ("://" in value or not value.strip()):
        raise ValueError(
            f"`uses` names a workflow file by a path relative to this file, not {value!r}"
        )
    return value


UsesPath = Annotated[str, BeforeValidator(_uses_path)]


class ApprovalSpec(Strict):
    """A person's decision: asked on a terminal, else the run stops `waiting`."""

    message: Template = Field(
        description=(
            "What the approver reads, a Jinja2 template (e.g. `Publish this draft?\n"
            "{{ steps.draft.output }}`); control characters in it are shown, never obeyed."
        )
    )
    timeout: Annotated[Duration, Field(gt=0)] | None = Field(
        default=None,
        description=(
            "How long a person on a terminal has to answer; unset: no bound. Without a "
            "terminal the run does not wait: it stops `waiting` (exit 75)."
        ),
    )
    on_timeout: Literal["reject", "fail"] = Field(
        default="reject",
        description=(
            "What an unanswered prompt means once `timeout` has passed: a rejection "
            "(approved: false), or a failed step."
        ),
    )


APPROVAL_OUTPUT_SCHEMA: JsonSchemaDict = {
    "type": "object",
    "required": ["approved", "by", "at", "reason"],
    "additionalProperties": False,
    "properties": {
        "approved": {"type": "boolean"},
        "by": {"type": "string"},
        "at": {"type": "string"},
        "reason": {"type": ["string", "null"]},
    },
}
"""An approval step's output, as templates read it (`steps.ok.output.approved`)."""

_NOT_FOR_APPROVAL = {
    "for_each": "one decision is asked once; put the items in its `message`",
    "retry": "a decision is not retried",
    "timeout": "give the approval's own `approval.timeout`",
    "cache": "a decision is never cached",
    "output_schema": "its output is {approved, by, at, reason}",
    "gates": "branch on `steps.<id>.output.approved` in a later step's `if`",
    "on_gate_failure": "it has no gates",
    "success_threshold": "it has no items nor children",
    "priority": "it takes no concurrency slot",
    "tags": "it costs nothing to attribute",
}
"""Fields an `approval` step may not set: each would be silently ignored."""
WithValue = Annotated[Any, BeforeValidator(_template)]
"""A `with:` value: a string is a template (a `${VAR}` in it a literal), anything else a literal."""


class ResourcesSpec(Strict):
    """What one task of a step (a command's program, an agent's model call) reserves on a
    Ray node (`--executor ray`)."""

    cpus: Annotated[Finite, Field(ge=0)] | None = Field(
        default=None, description="CPUs the task reserves (Ray's `num_cpus`; Ray's default 1)."
    )
    gpus: Annotated[Finite, Field(ge=0)] | None = Field(
        default=None, description="GPUs the task reserves (Ray's `num_gpus`)."
    )
    memory: Integer | str | None = Field(
        default=None,
        description=(
            "Memory the task reserves (Ray's `memory`): bytes, or a size such as `512MiB`, "
            "`2GiB`, `1.5GB`."
        ),
    )
    custom: dict[str, Annotated[Finite, Field(ge=0)]] | None = Field(
        default=None,
        description=(
            "Custom Ray resources by name and amount (`{ssd: 1}`): the task runs only on a "
            "node that declares them (`ray start --resources`)."
        ),
    )


class StepDefaults(Strict):
    """Step fields that `defaults` may set for every step; a step's own value wins."""

    timeout: Annotated[Duration, Field(gt=0)] | None = Field(
        default=None,
        description="Time bound of one attempt; a group's or a uses step's bounds all of it.",
    )
    retry: RetrySpec | None = Field(
        default=None, description="Retry policy for transient failures."
    )
    cache: bool | None = Field(default=None, description="Cache model replies (default true).")
    continue_on_error: bool | None = Field(
        default=None,
        description=(
            "A failure does not stop dependents (their input is null) nor count against the run."
        ),
    )
    priority: Integer | None = Field(
        default=None,
        description=(
            "Higher runs first when concurrency is short: it orders agent and command tasks "
            "(a group or `uses` step takes no slot, so setting it on one is E206)."
        ),
    )
    tags: Tags | None = Field(
        default=None,
        description=(
            "Free labels (a list, or a map such as {department: research}) for cost attribution."
        ),
    )
    on_gate_failure: OnGateFailure | None = Field(
        default=None,
        description=(
            "fail (default) fails the step; warn records and passes; retry runs it again "
            "(an agent or command step: a group or sub-workflow is not re-run)."
        ),
    )
    max_concurrency: Annotated[Integer, Field(ge=1)] | None = Field(
        default=None, description="for_each items in flight at once."
    )
    success_threshold: Share | None = Field(
        default=None,
        description="Share of for_each items or group children that must succeed (default 1.0).",
    )


class StepSpec(StepDefaults):
    """One step, of exactly one kind: `agent` + `prompt`, `run`, `steps`, `uses`, `approval`."""

    # Built on first use: a recursive model whose own validator exists when Workflow's is
    # built gets reused whole inside it, and its `after` validator then runs twice per step
    # (pydantic/pydantic#13581).
    model_config = ConfigDict(defer_build=True)

    needs: list[str] = Field(
        default_factory=list,
        description=(
            "Sibling steps (ids of the same `steps` map) that must finish first; "
            "needing a group waits for all its children."
        ),
    )
    if_: Expression | None = Field(
        default=None,
        alias="if",
        description="Expression; when false the step is skipped (reason: condition).",
    )
    for_each: Expression | list[Any] | None = Field(
        default=None,
        description=(
            "An expression giving a list, or a literal list: one task per item (`item`, `index`). "
            "A literal list's items are not rendered: a template in one is an error."
        ),
    )
    agent: str | None = Field(default=None, description="Agent step: the agent that does the work.")
    prompt: Template | None = Field(
        default=None, description="Agent step: the task, a Jinja2 template."
    )
    run: list[Template] | None = Field(
        default=None,
        description=(
            "Command step: argv (no shell); each element is a template rendered into one argument."
        ),
    )
    cwd: Template | None = Field(
        default=None,
        description="Command step: working directory (relative to where agnoctl runs).",
    )
    env: dict[str, Template] | None = Field(
        default=None,
        description="Command step: extra environment variables (values are templates).",
    )
    steps: dict[str, StepSpec] | None = Field(
        default=None,
        description=(
            "Group: nested steps that run as one unit; output is a map of child id to output."
        ),
    )
    loop: LoopSpec | None = Field(
        default=None,
        description=(
            "Group: run the children again until `until` is true or iterations are spent."
        ),
    )
    uses: UsesPath | None = Field(
        default=None,
        description=(
            "Sub-workflow: another workflow file (a path relative to this file) run as this "
            "step; its steps run nested under this step, its `outputs` are the output."
        ),
    )
    approval: ApprovalSpec | None = Field(
        default=None,
        description=(
            "Approval: a person approves or rejects; the output is {approved, by, at, "
            "reason}, read by later steps' `if`. A rejection is not a failure."
        ),
    )
    with_: dict[str, WithValue] | None = Field(
        default=None,
        alias="with",
        description=(
            "Sub-workflow: the values of its `inputs`; strings are templates rendered in "
            "this step's context (`{{ item }}` under for_each); one `{{ expr }}` keeps its type. "
            "A template inside a list or map is an error: write the whole value as one."
        ),
    )
    output_schema: JsonSchemaDict | None = Field(
        default=None,
        description="JSON Schema the output must validate against (overrides the agent's).",
    )
    attachments: list[Template] | None = Field(
        default=None,
        description=(
            "Agent step: files and images sent with the prompt, after the agent's: paths "
            "(relative to where agnoctl runs), globs or http(s) URLs; each a template "
            "(`{{ item }}` under for_each). png, jpeg, gif, webp, pdf. See docs/attachments.md."
        ),
    )
    gates: list[Gate] | None = Field(
        default=None, description="Quality gates checked on the output after the step succeeds."
    )
    resources: ResourcesSpec | None = Field(
        default=None,
        description=(
            "Under `--executor ray`, what each task of the step reserves on a Ray node: a "
            "command step's program, or an agent step's model calls, which then run on the "
            "cluster (`{}`: Ray's defaults; a model served only there). The local executor "
            "runs the step as it is. See docs/ray.md."
        ),
    )

    @property
    def kind(self) -> Literal["agent", "command", "group", "uses", "approval"]:
        if self.steps is not None:
            return "group"
        if self.uses is not None:
            return "uses"
        if self.approval is not None:
            return "approval"
        if self.run is not None:
            return "command"
        return "agent"

    @model_validator(mode="after")
    def _one_kind(self) -> StepSpec:
        fields = (
            ("agent", self.agent),
            ("run", self.run),
            ("steps", self.steps),
            ("uses", self.uses),
            ("approval", self.approval),
        )
        kinds = [name for name, value in fields if value is not None]
        if len(kinds) != 1:
            found = " and ".join(kinds) if kinds else "none"
            raise ValueError(
                "a step needs exactly one kind: `agent` + `prompt`, `run`, `steps`, `uses` "
                f"or `approval` (found {found})"
            )
        self._check_kind_fields(kinds[0])
        return self

    def _check_kind_fields(self, kind: str) -> None:
        if kind == "agent" and self.prompt is None:
            raise ValueError("an agent step needs a `prompt`")
        if kind != "agent" and self.prompt is not None:
            raise ValueError("`prompt` belongs to agent steps (add `agent`)")
        if kind != "agent" and self.attachments is not None:
            raise ValueError("`attachments` belong to agent steps (add `agent` and `prompt`)")
        if kind != "run" and (self.cwd is not None or self.env is not None):
            raise ValueError("`cwd` and `env` belong to command steps (`run`)")
        if kind != "steps" and self.loop is not None:
            raise ValueError("`loop` belongs to groups (`steps`)")
        if kind == "run" and not self.run:
            raise ValueError("`run` needs at least the program to run")
        if kind == "steps" and not self.steps:
            raise ValueError("a group needs at least one step")
        if self.max_concurrency is not None and self.for_each is None:
            raise ValueError("`max_concurrency` limits for_each items: add `for_each`")
        if kind in ("agent", "run") and self.success_threshold is not None and not self.for_each:
            raise ValueError(
                "`success_threshold` is the share of for_each items that must succeed (a "
                "group's: of its children): this step has neither; add `for_each`, or set the "
                "run's share at the top level"
            )
        if kind in ("steps", "uses") and self.on_gate_failure == "retry":
            raise ValueError(
                "`on_gate_failure: retry` runs an agent or command step again with the findings "
                "in its prompt; a group or sub-workflow is not re-run, so its failed gates would "
                "fail it as `fail` does: write `fail` or `warn`, gate the child that writes the "
                "output, or make the group a review loop (`loop: {until: ...}`)"
            )
        if kind == "steps":
            self._check_group_fields()
        elif kind == "run":
            self._check_command_fields()
        if kind == "uses":
            self._check_uses_fields()
        elif kind == "approval":
            self._check_approval_fields()
        if kind != "uses" and self.with_ is not None:
            raise ValueError("`with` gives a sub-workflow its inputs: add `uses`")

    def _check_group_fields(self) -> None:
        # Fail closed: a group makes no model call of its own but its judge gates', so these
        # would be silently ignored. (Its `timeout` bounds the whole group, as a `uses` step's
        # bounds the invocation.)
        if "priority" in self.model_fields_set:
            raise ValueError(
                "`priority` orders the agent and command tasks waiting for a concurrency slot, "
                "and a group takes no concurrency slot (its children keep their own priority): "
                "set it on the group's children (or in `defaults`)"
            )
        if any(isinstance(gate, JudgeGate) for gate in self.gates or ()):
            return
        for name, why in _JUDGE_ONLY_FOR_GROUPS.items():
            if name in self.model_fields_set:
                raise ValueError(
                    f"`{name}` on a group applies only to the model calls of its judge gates "
                    f"({why}), and this group has none: set it on the group's children (or in "
                    "`defaults`)"
                )

    def _check_command_fields(self) -> None:
        # Fail closed: a program makes no model call, so these reach only its judge gates'.
        if any(isinstance(gate, JudgeGate) for gate in self.gates or ()):
            return
        if "cache" in self.model_fields_set:
            raise ValueError(
                "`cache` is for model replies, and a command step makes no model call (it has "
                "no judge gate): remove it; its program runs every time"
            )
        if "tags" in self.model_fields_set:
            raise ValueError(
                "`tags` attribute the cost of model calls, and a command step makes none (it "
                "has no judge gate): remove it"
            )

    def _check_uses_fields(self) -> None:
        # Fail closed: a field that would mean nothing for a sub-workflow is an error.
        for name in _NOT_FOR_USES:
            if name in self.model_fields_set:
                why = _NOT_FOR_USES[name]
                raise ValueError(f"`{name}` does not apply to a `uses` step: {why}")
        if self.success_threshold is not None and self.for_each is None:
            raise ValueError(
                "`success_threshold` of a `uses` step counts its for_each items: the "
                "sub-workflow's own `success_threshold` decides whether one invocation passed"
            )

    def _check_approval_fields(self) -> None:
        # Fail closed: a field an approval would silently ignore is an error.
        for name in _NOT_FOR_APPROVAL:
            if name in self.model_fields_set:
                why = _NOT_FOR_APPROVAL[name]
                raise ValueError(f"`{name}` does not apply to an `approval` step: {why}")

    @field_validator("steps")
    @classmethod
    def _child_ids(cls, value: dict[str, StepSpec] | None) -> dict[str, StepSpec] | None:
        for key in value or {}:
            _check_id(key)
        return value


_ID = re.compile(ID_PATTERN)


def _check_id(key: str) -> None:
    if not _ID.match(key):
        raise ValueError(
            f"step id {key!r} must be a letter or _ then letters, digits or _ "
            "(templates read it as steps.<id>)"
        )


# --------------------------------------------------------------------------- agents, tools


class AgentSpec(Strict):
    model: str = Field(
        description=(
            "`<provider>/<model>`, split at the first `/` (e.g. openai/gpt-4o-mini, mock/echo)."
        )
    )
    fallback_models: list[str] = Field(
        default_factory=list,
        description="Models tried in order when the model keeps failing or its breaker is open.",
    )
    instructions: Template | None = Field(
        default=None, description="System prompt, a Jinja2 template."
    )
    description: str | None = Field(
        default=None, description="What the agent is for (documentation)."
    )
    temperature: Annotated[Finite, Field(ge=0, le=2)] | None = Field(
        default=None, description="Sampling temperature."
    )
    max_tokens: Annotated[Integer, Field(ge=1)] | None = Field(
        default=None, description="Most output tokens per call; also what budgets reserve per call."
    )
    max_concurrency: Annotated[Integer, Field(ge=1)] | None = Field(
        default=None, description="This agent's tasks in flight at once."
    )
    tools: list[str] = Field(
        default_factory=list, description="Names from `tools` the agent may call."
    )
    max_tool_calls: Annotated[Integer, Field(ge=0)] = Field(
        default=10, description="Most tool calls in one task's tool-calling loop."
    )
    output_schema: JsonSchemaDict | None = Field(
        default=None, description="JSON Schema the reply must parse and validate against."
    )
    cache: bool | None = Field(
        default=None, description="Cache this agent's replies (default true)."
    )
    attachments: list[Template] | None = Field(
        default=None,
        description=(
            "Files and images sent with every prompt of this agent (before a step's own, and "
            "with its judge calls): paths, globs or http(s) URLs, each a template. See "
            "docs/attachments.md."
        ),
    )
    attachments_root: str | None = Field(
        default=None,
        description=(
            "The folder every attached file must be in, links resolved (relative to where "
            "agnoctl runs); default: that directory itself. A path leading out is refused."
        ),
    )
    max_attachment_bytes: Annotated[Integer, Field(ge=1)] | None = Field(
        default=None,
        description="Largest file this agent attaches, in bytes (unset: 20 MiB, 20971520).",
    )

    @model_validator(mode="after")
    def _tool_calls_need_tools(self) -> AgentSpec:
        if "max_tool_calls" in self.model_fields_set and not self.tools:
            raise ValueError(
                "`max_tool_calls` bounds the tool-calling loop of an agent with `tools`, and "
                "this agent has none: add its `tools`, or remove it"
            )
        return self

    @field_validator("model", "fallback_models")
    @classmethod
    def _provider_model(cls, value: str | list[str]) -> str | list[str]:
        for ref in [value] if isinstance(value, str) else value:
            provider, _, model = ref.partition("/")
            if not provider or not model:
                raise ValueError(
                    f"model {ref!r} must be `<provider>/<model>`, e.g. openai/gpt-4o-mini"
                )
        return value

    @property
    def provider(self) -> str:
        return self.model.partition("/")[0]

    @property
    def model_name(self) -> str:
        return self.model.partition("/")[2]


class CommandToolSpec(Strict):
    type: Literal["command"] = Field(
        default="command",
        description=(
            "A program run with the model's JSON arguments rendered into argv (no shell)."
        ),
    )
    description: str | None = Field(
        default=None, description="What the tool does, shown to the model."
    )
    parameters: JsonSchemaDict = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON Schema of the arguments object; arguments are validated against it.",
    )
    run: list[Template] = Field(
        description="argv; `{{ args.<name> }}` renders into single arguments."
    )
    timeout: Annotated[Duration, Field(gt=0)] = Field(
        default=30.0, description="Time bound of one call."
    )
    cwd: str | None = Field(
        default=None, description="Working directory (relative to where agnoctl runs)."
    )
    max_output_chars: Annotated[Integer, Field(ge=1)] = Field(
        default=20_000, description="Longer results are cut, and say so."
    )
    # None, not False, while unset: a tool dumped for a resume fingerprint must not change
    # because this field was added.
    allow_option_args: bool | None = Field(
        default=None,
        description=(
            "Let the model's arguments start with `-` (the program then reads them as "
            "options). Off (the default): such a call is refused; put `--` before them in "
            "`run` anyway."
        ),
    )

    @field_validator("run")
    @classmethod
    def _some_program(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("`run` needs at least the program to run")
        return value


def _host_name(entry: str) -> str:
    """An `allow_hosts` entry is compared with a URL's host as it is: anything else in it
    (a scheme, a path, a port, a wildcard) would make an entry no call can match."""
    host = entry.strip()
    if not host:
        problem = "it is empty"
    elif "/" in host:
        problem = "write the host name alone (en.wikipedia.org), not a URL or path"
    elif "*" in host:
        problem = "wildcards are not read: list each host (www.example.com, docs.example.com)"
    elif host.startswith("["):
        problem = "write an IPv6 address without brackets (::1)"
    elif host.count(":") == 1:
        problem = "write the host without `:port` (any port of an allowed host may be fetched)"
    else:
        return entry
    raise ValueError(f"{entry!r} matches no host: {problem}")


class HttpGetToolSpec(Strict):
    type: Literal["http_get"] = Field(
        description='GET a URL (the model passes {"url": ...}) from an allowed host.'
    )
    description: str | None = Field(
        default=None, description="What the tool does, shown to the model."
    )
    allow_hosts: list[Annotated[str, AfterValidator(_host_name)]] = Field(
        description=(
            "Host names that may be fetched (exact names, any port); redirects are re-checked "
            "against them."
        )
    )
    timeout: Annotated[Duration, Field(gt=0)] = Field(
        default=30.0, description="Time bound of one call."
    )
    max_output_chars: Annotated[Integer, Field(ge=1)] = Field(
        default=20_000, description="Longer results are cut, and say so."
    )

    @field_validator("allow_hosts")
    @classmethod
    def _some_host(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("lists no host, so every call would be refused: name the hosts")
        return value


class ReadFileToolSpec(Strict):
    type: Literal["read_file"] = Field(
        description='Read a file (the model passes {"path": ...}) below `root`.'
    )
    description: str | None = Field(
        default=None, description="What the tool does, shown to the model."
    )
    root: str = Field(
        description="Folder the paths are relative to; paths may not leave it (.. or symlinks)."
    )
    max_output_chars: Annotated[Integer, Field(ge=1)] = Field(
        default=20_000, description="Longer results are cut, and say so."
    )


class McpToolSpec(Strict):
    """A Model Context Protocol server whose tools agents may call (docs/mcp.md)."""

    type: Literal["mcp"] = Field(
        description=(
            "The tools of an MCP server: started over stdio (`command`) or reached over "
            "streamable HTTP (`url`). An agent that lists the entry sees every tool `allow` admits."
        )
    )
    command: list[str] | None = Field(
        default=None,
        min_length=1,
        description=(
            "argv of a stdio server (no shell), e.g. [uvx, mcp-server-git==2025.1.14]; "
            "exactly one of `command` and `url`."
        ),
    )
    url: str | None = Field(
        default=None,
        description="http(s) URL of a streamable HTTP server; exactly one of `command` and `url`.",
    )
    env: dict[str, str] | None = Field(
        default=None,
        description=(
            "stdio: variables the server gets (values may be `${VAR}`); beyond these it "
            "inherits only HOME, LOGNAME, PATH, SHELL, TERM and USER."
        ),
    )
    cwd: str | None = Field(
        default=None,
        description="stdio: the server's working directory (relative to where agnoctl runs).",
    )
    headers: dict[str, str] | None = Field(
        default=None,
        description=(
            "url: HTTP headers sent with every request (values may be `${VAR}`); every value "
            "is masked as a secret."
        ),
    )
    allow: list[str] | None = Field(
        default=None,
        description="Tool names or fnmatch globs agents may see and call (default: every tool).",
    )
    timeout: Annotated[Duration, Field(gt=0)] = Field(
        default=30.0, description="Time bound of one tool call."
    )
    startup_timeout: Annotated[Duration, Field(gt=0)] = Field(
        default=60.0,
        description="Time bound of starting the server, its handshake and its tool list.",
    )
    max_output_chars: Annotated[Integer, Field(ge=1)] = Field(
        default=20_000, description="Longer results are cut, and say so."
    )


ToolDef = Annotated[
    CommandToolSpec | HttpGetToolSpec | ReadFileToolSpec | McpToolSpec,
    Field(discriminator="type"),
]


class LimitsSpec(Strict):
    max_cost_usd: Annotated[Finite, Field(ge=0)] | None = Field(
        default=None, description="Stop when the run's cost would exceed this many USD."
    )
    max_tokens: Annotated[Integer, Field(ge=1)] | None = Field(
        default=None, description="Stop when the run's tokens (input + output) would exceed this."
    )
    max_llm_calls: Annotated[Integer, Field(ge=1)] | None = Field(
        default=None, description="Stop when the run would make more model calls than this."
    )
    max_duration: Annotated[Duration, Field(gt=0)] | None = Field(
        default=None,
        description=(
            "Wall-clock bound of each segment of the run: a `--resume` starts a new segment "
            "with its own clock (calls, tokens and cost count across segments)."
        ),
    )
    max_concurrency: Annotated[Integer, Field(ge=1)] | None = Field(
        default=None, description="Tasks in flight at once across the run."
    )


WebhookUrl = Annotated[str, Field(pattern=r"^https?://[^\s]+$")]


class NotifySpec(Strict):
    """Webhooks told about a run: a JSON POST of the run's summary to each URL, once per event."""

    on_failure: list[WebhookUrl] = Field(
        default_factory=list, description="URLs told when the run fails or is interrupted."
    )
    on_success: list[WebhookUrl] = Field(
        default_factory=list, description="URLs told when the run passes."
    )
    on_budget_warning: list[WebhookUrl] = Field(
        default_factory=list,
        description=(
            "URLs told once per limit whose use crossed its warning share (a budget_warning event)."
        ),
    )
    on_approval: list[WebhookUrl] = Field(
        default_factory=list,
        description=(
            "URLs told when the run stops `waiting` for an approval: who must decide what, and "
            "the command that does (a Slack-compatible `text` field)."
        ),
    )


# --------------------------------------------------------------------------- workflow


def _no_bool(value: object) -> object:
    """``version: true`` is not version 1, though Python's True equals 1; nor is 1.0."""
    if isinstance(value, bool | float):
        raise PydanticCustomError("literal_error", "Input should be 1", {"expected": "1"})
    return value


class Workflow(Strict):
    """An agnoctl workflow file, language version 1."""

    version: Annotated[Literal[1], BeforeValidator(_no_bool)] = Field(
        description="Language version; must be 1."
    )
    name: Annotated[str, Field(pattern=NAME_PATTERN)] = Field(
        description="Workflow name: lowercase letters, digits, _ and -."
    )
    description: str | None = Field(default=None, description="What the workflow does.")
    inputs: dict[str, InputSpec] = Field(
        default_factory=dict, description="Typed run parameters (`-i key=value`, `--inputs-file`)."
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Plain strings visible to templates as env.NAME."
    )
    providers: dict[str, ProviderSpec] = Field(
        default_factory=dict,
        description="Model servers; openai, anthropic, ollama and mock need no entry.",
    )
    defaults: StepDefaults = Field(
        default_factory=StepDefaults,
        description="Values for every step's fields; a step's own value wins.",
    )
    agents: dict[str, AgentSpec] = Field(
        default_factory=dict,
        description="Named agents: model, instructions, tools, structured output.",
    )
    tools: dict[str, ToolDef] = Field(
        default_factory=dict, description="What agents may call, by name."
    )
    steps: dict[str, StepSpec] = Field(
        description="The steps, by id; order in the file is irrelevant."
    )
    outputs: dict[str, Template] = Field(
        default_factory=dict,
        description="Named results (templates), written to the report and to outputs/.",
    )
    limits: LimitsSpec = Field(
        default_factory=LimitsSpec, description="Budgets and bounds of the whole run."
    )
    success_threshold: Share = Field(
        default=1.0, description="Share of steps that must succeed for the run to pass."
    )
    notify: NotifySpec | None = Field(
        default=None, description="Webhooks to tell when the run fails, passes, or nears a limit."
    )

    # Set by agnoctl.spec.uses when the file is validated: where it was read from, and the
    # workflow each of its `uses:` names (one instance per file, however often it is used).
    _file: Path | None = PrivateAttr(default=None)
    _used: dict[str, Workflow] = PrivateAttr(default_factory=dict)
    # Set by agnoctl.spec.checks: the fields this file reads of each `uses:` step's output,
    # by the `uses:` path, checked against the child's `outputs` once it is read (E437).
    _output_reads: dict[str, list[Any]] = PrivateAttr(default_factory=dict)

    @property
    def file(self) -> Path | None:
        """The file the workflow was read from (absolute), when it was read from one."""
        return self._file

    def sub_workflow(self, uses: str) -> Workflow:
        """The workflow a `uses:` of this file names (validated with this file)."""
        return self._used[uses]

    @field_validator("tools", mode="before")
    @classmethod
    def _default_tool_type(cls, value: Any) -> Any:
        # A tool without `type` is a command tool; the discriminator needs it spelled out.
        if isinstance(value, dict):
            return {
                k: ({"type": "command", **v} if isinstance(v, dict) and "type" not in v else v)
                for k, v in value.items()
            }
        return value

    @field_validator("steps")
    @classmethod
    def _step_ids(cls, value: dict[str, StepSpec]) -> dict[str, StepSpec]:
        if not value:
            raise ValueError("a workflow needs at least one step")
        for key in value:
            _check_id(key)
        return value


_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9_.-]")
MAX_OUTPUT_STEM = 236
"""The longest file name common file systems take (255), less the ``.json`` an output adds and
the 14 characters its temporary file adds while it is written (``.<name>.<8 random>.tmp``)."""


def output_stem(name: str) -> str:
    """The file name, without its extension, of the workflow output ``name`` in a run's
    outputs/: what a file name may not safely hold (a ``/``, a space, a control character) made
    ``_``, leading dots dropped (no hidden file, no ``..``)."""
    return _UNSAFE_IN_FILE_NAME.sub("_", name).lstrip(".") or "output"


StepSpec.model_rebuild()
