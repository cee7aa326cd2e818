"""The plan of a run, as data: what `agnoctl plan --format json` prints.

The JSON Schema of `Plan` is committed as ``schemas/plan.schema.json``; ``schema_version``
changes whenever a field changes meaning or is removed (adding a field does not change it).
Ranges are ``{min, max}``: ``min`` is the cheapest run in which every call succeeds at once,
``max`` the worst case the workflow's retries, loops, gates and tool loops allow (see
``docs/plan.md`` for every factor).
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal[1] = 1

_Trusted = TypeVar("_Trusted", bound=BaseModel)

StepKind = Literal["agent", "command", "group", "uses", "approval"]
LimitStatus = Literal["ok", "may_exceed", "exceeds", "unknown"]
PriceSource = Literal["workflow", "built-in", "free", "unknown"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IntRange(_Model):
    """A count from the cheapest run to the worst case."""

    min: int = Field(description="The cheapest run: every call succeeds at once.")
    max: int = Field(
        description="The worst case the workflow's retries, loops, gates and tool loops allow."
    )


class FloatRange(_Model):
    """An amount (USD, seconds) from the cheapest run to the worst case."""

    min: float = Field(description="The cheapest run: every call succeeds at once.")
    max: float = Field(
        description="The worst case the workflow's retries, loops, gates and tool loops allow."
    )


class ForEachPlan(_Model):
    """A step's fan-out: one task per item."""

    expression: str | None = Field(
        description="The `for_each` expression; None for a literal list."
    )
    items: int | None = Field(
        description=(
            "Number of items when known before the run (a literal list, or an "
            "expression over inputs and env only); None when the list comes from a "
            "step's output."
        )
    )
    assumed_max: int | None = Field(
        description="Items the worst case assumes when `items` is unknown (`--assume-items`)."
    )
    concurrency: int | None = Field(
        description=(
            "Items in flight at once: the least of the step's, agent's, provider's "
            "and run's max_concurrency; None when nothing bounds it."
        )
    )


class LoopPlan(_Model):
    """A group's loop."""

    max_iterations: int = Field(description="Most times the group's children run.")
    until: str | None = Field(description="Expression that ends the loop early.")
    on_exhausted: Literal["succeed", "fail"] = Field(
        description="What spending every iteration means."
    )


class StepPlan(_Model):
    """One step: what it runs, how often, and what that may cost."""

    path: str = Field(description="Full path (`group.child` for nested steps).")
    kind: StepKind = Field(
        description=(
            "agent, command, group, uses (a sub-workflow: its steps nest under it) or "
            "approval (no call)."
        )
    )
    parent: str | None = Field(
        description="Full path of the enclosing group; None at the top level."
    )
    level: int = Field(
        description=(
            "Position among its siblings: 0 needs nothing, n needs something at level n-1."
        )
    )
    needs: list[str] = Field(description="Full paths of the sibling steps this one waits for.")
    condition: str | None = Field(description="The step's `if` expression.")
    runs: Literal["always", "maybe", "never"] = Field(
        description=(
            "never: its `if` (or an enclosing group's) is false for these inputs; "
            "maybe: the `if` depends on step outputs (the minimum counts the step "
            "as skipped)."
        )
    )
    agent: str | None = Field(description="The agent of an agent step.")
    model: str | None = Field(description="`<provider>/<model>` of an agent step.")
    fallback_models: list[str] = Field(
        description="The agent's fallback models, in the order they are tried."
    )
    judges: list[str] = Field(description="Agents of the step's judge gates.")
    for_each: ForEachPlan | None = Field(description="The step's fan-out; None without `for_each`.")
    loop: LoopPlan | None = Field(description="A group's loop; None without `loop`.")
    levels: list[list[str]] | None = Field(
        description="A group's children in levels (steps of one level may run at once)."
    )
    tasks: IntRange = Field(
        description=(
            "Times the step's work runs in the whole run: items x enclosing loops and fan-outs."
        )
    )
    llm_calls: IntRange = Field(
        description=(
            "Model calls in the whole run, judge gates included (a group: everything inside it)."
        )
    )
    input_tokens: IntRange = Field(description="Estimated input tokens of those calls.")
    output_tokens: IntRange = Field(
        description="Estimated output tokens of those calls (max_tokens each)."
    )
    cost_usd: FloatRange | None = Field(
        description="None when a model the step calls has no known price."
    )
    duration_s: FloatRange = Field(
        description=(
            "Estimated wall-clock time of one run of the step (all its items, its own loop)."
        )
    )


class ModelUse(_Model):
    """One model the run may call."""

    model: str = Field(description="`<provider>/<model>`.")
    price_input: float | None = Field(description="USD per 1M input tokens; None when unknown.")
    price_output: float | None = Field(description="USD per 1M output tokens; None when unknown.")
    price_source: PriceSource = Field(
        description=(
            "workflow: the provider's `pricing`; built-in: agnoctl's table; free: "
            "a local provider (mock, ollama); unknown: no price, so its cost is "
            "not estimated."
        )
    )
    llm_calls: IntRange = Field(
        description="Calls to this model in the whole run (fallback and judge calls included)."
    )
    input_tokens: IntRange = Field(description="Estimated input tokens of those calls.")
    output_tokens: IntRange = Field(description="Estimated output tokens of those calls.")
    cost_usd: FloatRange | None = Field(description="None when the model has no known price.")


class ProviderPlan(_Model):
    """One provider the run may call."""

    name: str = Field(
        description=(
            "The provider's name: an entry of `providers`, or a built-in (openai, anthropic, ...)."
        )
    )
    type: str | None = Field(
        description="Protocol: openai, anthropic, ollama, mock; None for an undeclared provider."
    )
    max_concurrency: int | None = Field(
        description=(
            "Requests in flight at once: the provider's max_concurrency and the "
            "run's limits.max_concurrency, whichever is lower; None when neither "
            "is set."
        )
    )
    models: list[str] = Field(
        description="The `<provider>/<model>` references the run calls on this provider."
    )
    llm_calls: IntRange = Field(description="Calls to this provider in the whole run.")


class LimitCheck(_Model):
    """One entry of the workflow's `limits` against the run's estimate."""

    limit: Literal["max_llm_calls", "max_tokens", "max_cost_usd", "max_duration"] = Field(
        description="The name of the `limits` entry."
    )
    value: float = Field(description="The limit as written (max_duration in seconds).")
    estimate: FloatRange | None = Field(
        description="The run's estimate of the same quantity; None when it cannot be estimated."
    )
    status: LimitStatus = Field(
        description=(
            "ok: even the worst case stays within; may_exceed: the worst case goes "
            "over; exceeds: even the cheapest run goes over; unknown: not "
            "estimable (a price is missing)."
        )
    )


class Totals(_Model):
    """The whole run."""

    llm_calls: IntRange = Field(
        description=(
            "Model calls, judge and fallback calls included (what limits.max_llm_calls counts)."
        )
    )
    input_tokens: IntRange = Field(description="Estimated input tokens of every call.")
    output_tokens: IntRange = Field(description="Estimated output tokens of every call.")
    tokens: IntRange = Field(
        description="Input and output tokens together (what limits.max_tokens counts)."
    )
    cost_usd: FloatRange = Field(description="Cost of the calls to models with a known price.")
    cost_complete: bool = Field(
        description=(
            "False when some calls go to models without a price (listed in `unpriced_models`)."
        )
    )
    unpriced_models: list[str] = Field(
        description="Models the run may call whose price is unknown."
    )
    duration_s: FloatRange = Field(description="Estimated wall-clock time along the critical path.")


class Assumptions(_Model):
    """The figures the estimates rest on (see docs/plan.md)."""

    chars_per_token: int = Field(description="Characters of text per estimated token.")
    default_output_tokens: int = Field(
        description="Output tokens counted per call of an agent without max_tokens."
    )
    call_overhead_s: float = Field(description="Seconds of one model call before its output.")
    output_tokens_per_second: float = Field(description="Generation speed of every model.")
    command_s: float = Field(description="Seconds of one run of a command step.")
    assume_items: int = Field(
        description="Items, at most, of a for_each list known only at run time (--assume-items)."
    )


class Plan(_Model):
    """What a run of a workflow would do, and what it could cost, worked out without a call."""

    schema_version: Literal[1] = Field(
        default=SCHEMA_VERSION,
        description=(
            "Changes when a field changes meaning or goes away (new fields do not change it)."
        ),
    )
    workflow: str = Field(description="The workflow's name.")
    file: str = Field(description="The workflow file, as named on the command line.")
    inputs: dict[str, Any] = Field(
        description=(
            "Input values planned with; an input required but not given is absent (see warnings)."
        )
    )
    levels: list[list[str]] = Field(
        description="Top-level steps in levels: steps of one level may run at once."
    )
    steps: list[StepPlan] = Field(
        description="Every step, parents before children, each level in order."
    )
    critical_path: list[str] = Field(
        description=(
            "The chain of steps with the longest worst-case duration, group "
            "children after their group."
        )
    )
    providers: list[ProviderPlan] = Field(
        description="Every provider the run may call, with its concurrency."
    )
    models: list[ModelUse] = Field(description="Every model the run may call, with its price.")
    totals: Totals = Field(description="The whole run.")
    limits: list[LimitCheck] = Field(
        description="Each limit the workflow sets, against the estimate."
    )
    warnings: list[str] = Field(
        description=(
            "Worst cases over limits, inputs not given, templates that could not "
            "be rendered with placeholders."
        )
    )
    notes: list[str] = Field(
        description=(
            "What the estimates assume beyond the defaults: lists known only at "
            "run time, models without a price."
        )
    )
    assumptions: Assumptions = Field(description="The figures the estimates rest on.")


# A plan's records are made from values that already hold every field, each of its field's
# type, and a frozen record never changes its fields set, so every record of a plan shares one.
# Validating them again or pydantic's `model_construct` (which loops over the fields, and gives
# each record a set of its own) made `agnoctl plan` of 10,000 steps 6 to 13 % slower and its
# memory 19 % larger (docs/performance.md, "Consolidation: the planner"), past the 10 % a
# simplification may cost: records are set up here through BaseModel's own slots, the four
# attributes `model_construct` sets. tests/plan/test_plan_shortcuts.py checks every record
# against a validated one, so a pydantic release that changes the slots fails the suite, and
# pyproject keeps pydantic below 3.
_SET_DICT = BaseModel.__dict__["__dict__"].__set__
_SET_FIELDS_SET = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_SET_EXTRA = BaseModel.__dict__["__pydantic_extra__"].__set__
_SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__
_new = object.__new__


def trusted(cls: type[_Trusted], values: dict[str, Any], fields_set: set[str]) -> _Trusted:
    """A model from `values` that already hold every field, each of its field's type, what
    `model_construct(fields_set, **values)` makes. `fields_set` is ``set(values)``, which
    the records of one plan share."""
    made = _new(cls)
    _SET_DICT(made, values)
    _SET_FIELDS_SET(made, fields_set)
    _SET_EXTRA(made, None)
    _SET_PRIVATE(made, None)
    return made


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
    "trusted",
]
