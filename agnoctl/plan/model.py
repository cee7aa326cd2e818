"""The plan of a run, as data: what `agnoctl plan --format json` prints.

The JSON Schema of `Plan` is committed as ``schemas/plan.schema.json``; ``schema_version``
changes whenever a field changes meaning or is removed (adding a field does not change it).
Ranges are ``{min, max}``: ``min`` is the cheapest run in which every call succeeds at once,
``max`` the worst case the workflow's retries, loops, gates and tool loops allow (see
``docs/plan.md`` for every factor).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

SCHEMA_VERSION: Literal[1] = 1

StepKind = Literal["agent", "command", "group"]
LimitStatus = Literal["ok", "may_exceed", "exceeds", "unknown"]
PriceSource = Literal["workflow", "built-in", "free", "unknown"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class IntRange(_Model):
    min: int
    max: int


class FloatRange(_Model):
    min: float
    max: float


class ForEachPlan(_Model):
    expression: str | None
    """The `for_each` expression; None for a literal list."""
    items: int | None
    """Number of items when known before the run (a literal list, or an expression over
    inputs and env only); None when the list comes from a step's output."""
    assumed_max: int | None
    """Items the worst case assumes when `items` is unknown (`--assume-items`)."""
    concurrency: int | None
    """Items in flight at once: the least of the step's, agent's, provider's and run's
    max_concurrency; None when nothing bounds it."""


class LoopPlan(_Model):
    max_iterations: int
    """Most times the group's children run."""
    until: str | None
    """Expression that ends the loop early."""
    on_exhausted: Literal["succeed", "fail"]


class StepPlan(_Model):
    path: str
    """Full path (`group.child` for nested steps)."""
    kind: StepKind
    parent: str | None
    """Full path of the enclosing group; None at the top level."""
    level: int
    """Position among its siblings: 0 needs nothing, n needs something at level n-1."""
    needs: list[str]
    """Full paths of the sibling steps this one waits for."""
    condition: str | None
    """The step's `if` expression."""
    runs: Literal["always", "maybe", "never"]
    """never: its `if` (or an enclosing group's) is false for these inputs; maybe: the `if`
    depends on step outputs (the minimum counts the step as skipped)."""
    agent: str | None
    model: str | None
    """`<provider>/<model>` of an agent step."""
    fallback_models: list[str]
    judges: list[str]
    """Agents of the step's judge gates."""
    for_each: ForEachPlan | None
    loop: LoopPlan | None
    levels: list[list[str]] | None
    """A group's children in levels (steps of one level may run at once)."""
    tasks: IntRange
    """Times the step's work runs in the whole run: items x enclosing loops and fan-outs."""
    llm_calls: IntRange
    """Model calls in the whole run, judge gates included (a group: everything inside it)."""
    input_tokens: IntRange
    output_tokens: IntRange
    cost_usd: FloatRange | None
    """None when a model the step calls has no known price."""
    duration_s: FloatRange
    """Estimated wall-clock time of one run of the step (all its items, its own loop)."""


class ModelUse(_Model):
    model: str
    """`<provider>/<model>`."""
    price_input: float | None
    """USD per 1M input tokens; None when unknown."""
    price_output: float | None
    """USD per 1M output tokens; None when unknown."""
    price_source: PriceSource
    """workflow: the provider's `pricing`; built-in: agnoctl's table; free: a local provider
    (mock, ollama); unknown: no price, so its cost is not estimated."""
    llm_calls: IntRange
    input_tokens: IntRange
    output_tokens: IntRange
    cost_usd: FloatRange | None


class ProviderPlan(_Model):
    name: str
    type: str | None
    """Protocol: openai, anthropic, ollama, mock; None for an undeclared provider."""
    max_concurrency: int | None
    """Requests in flight at once: the provider's max_concurrency and the run's
    limits.max_concurrency, whichever is lower; None when neither is set."""
    models: list[str]
    llm_calls: IntRange


class LimitCheck(_Model):
    limit: Literal["max_llm_calls", "max_tokens", "max_cost_usd", "max_duration"]
    value: float
    """The limit as written (max_duration in seconds)."""
    estimate: FloatRange | None
    """The run's estimate of the same quantity; None when it cannot be estimated."""
    status: LimitStatus
    """ok: even the worst case stays within; may_exceed: the worst case goes over;
    exceeds: even the cheapest run goes over; unknown: not estimable (a price is missing)."""


class Totals(_Model):
    llm_calls: IntRange
    input_tokens: IntRange
    output_tokens: IntRange
    tokens: IntRange
    """Input and output tokens together (what limits.max_tokens counts)."""
    cost_usd: FloatRange
    """Cost of the calls to models with a known price."""
    cost_complete: bool
    """False when some calls go to models without a price (listed in `unpriced_models`)."""
    unpriced_models: list[str]
    duration_s: FloatRange
    """Estimated wall-clock time along the critical path."""


class Assumptions(_Model):
    """The figures the estimates rest on (see docs/plan.md)."""

    chars_per_token: int
    default_output_tokens: int
    call_overhead_s: float
    output_tokens_per_second: float
    command_s: float
    assume_items: int


class Plan(_Model):
    """What a run of a workflow would do, and what it could cost, worked out without a call."""

    schema_version: Literal[1] = SCHEMA_VERSION
    workflow: str
    """The workflow's name."""
    file: str
    inputs: dict[str, Any]
    """Input values planned with; an input required but not given is absent (see warnings)."""
    levels: list[list[str]]
    """Top-level steps in levels: steps of one level may run at once."""
    steps: list[StepPlan]
    """Every step, parents before children, each level in order."""
    critical_path: list[str]
    """The chain of steps with the longest worst-case duration, group children after their
    group."""
    providers: list[ProviderPlan]
    models: list[ModelUse]
    totals: Totals
    limits: list[LimitCheck]
    warnings: list[str]
    """Worst cases over limits, inputs not given, templates that could not be rendered with
    placeholders."""
    notes: list[str]
    """What the estimates assume beyond the defaults: lists known only at run time, models
    without a price."""
    assumptions: Assumptions


__all__ = [
    "SCHEMA_VERSION",
    "Assumptions",
    "FloatRange",
    "ForEachPlan",
    "IntRange",
    "LimitCheck",
    "LimitStatus",
    "LoopPlan",
    "ModelUse",
    "Plan",
    "PriceSource",
    "ProviderPlan",
    "StepKind",
    "StepPlan",
    "Totals",
]
