"""Work out a run's plan from a validated workflow and its inputs, without a network call.

The walk goes through each `steps` map level by level (`agnoctl.spec.dag.SiblingNeeds`), so
a group's children are planned inside their group and the result is linear in the number of
steps. Every step yields a `Bill` (model calls and tokens per model,
as min/max spans) and a duration span, both for one run of its enclosing scope; records in
the plan multiply them by how often that scope runs. The factors are documented in
docs/plan.md and at each function below.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from agnoctl import estimate
from agnoctl.errors import SpecError, SpecInvalid
from agnoctl.plan.attachments import attachments_tokens
from agnoctl.plan.model import (
    Assumptions,
    FloatRange,
    ForEachPlan,
    IntRange,
    LimitCheck,
    LimitStatus,
    LoopPlan,
    ModelUse,
    Plan,
    ProviderPlan,
    StepKind,
    StepPlan,
    Totals,
    trusted,
)
from agnoctl.plan.placeholders import Placeholder, contains_placeholder
from agnoctl.plan.prices import Price, price_of, protocol_of
from agnoctl.plan.simple import KnownBlocks, rendered_length
from agnoctl.plan.units import limit_amount
from agnoctl.plan.usage import (
    NO_USAGE,
    ONE,
    ZERO,
    Bill,
    Span,
    Usage,
    add_bills,
    bill_usage,
    scale_bill,
)
from agnoctl.providers import pricing
from agnoctl.spec.dag import SiblingNeeds, join_path
from agnoctl.spec.diagnostics import Diagnostic
from agnoctl.spec.loader import PathKey, SourceMap, load_file
from agnoctl.spec.models import (
    AgentSpec,
    InputSpec,
    JudgeGate,
    LimitsSpec,
    ProviderSpec,
    RetrySpec,
    StepSpec,
    ToolDef,
    Workflow,
)
from agnoctl.spec.refs import accesses
from agnoctl.spec.templates import (
    TemplateError,
    compile_template,
    evaluate,
    is_template,
    one_expression,
    render,
    root_names,
)
from agnoctl.spec.uses import run_providers

DEFAULT_ASSUME_ITEMS = 10
"""Items the worst case assumes for a `for_each` list known only at run time."""

STATIC_ROOTS = frozenset({"inputs", "env", "workflow"})
"""Names an expression may read and still be evaluated before the run."""

RUNTIME_ROOTS = frozenset({"steps", "loop", "run", "item", "index"})
"""Names whose values are placeholders (or may be) while planning."""

Runs = Literal["always", "maybe", "never"]
_RUN_FACTOR: dict[Runs, Span] = {"always": ONE, "maybe": Span(0, 1), "never": ZERO}

_NO_ITEM = object()
_DEFAULT_RETRY = RetrySpec()


@dataclass(slots=True)
class _MapContext:
    """Where a `steps` map sits: its path, its template context and how often it runs."""

    prefix: str
    yaml_path: tuple[PathKey, ...]
    runs: Runs
    outer: Span
    """Runs of this map in the whole run (the product of enclosing items and iterations)."""
    item: Any = _NO_ITEM
    index: int = 0
    in_loop: bool = False


_StepTotals = tuple[IntRange, IntRange, IntRange, FloatRange | None]
"""A step's LLM calls, input and output tokens, and cost (None: a model has no price)."""

_RecordNumbers = tuple[IntRange, IntRange, IntRange, IntRange, FloatRange | None, FloatRange]
"""A record's tasks, LLM calls, input and output tokens, cost and duration."""


@dataclass(slots=True)
class _FanOut:
    values: list[Any] | None
    """The items when known before the run; None for a step without for_each or unknown."""
    items: Span
    plan: ForEachPlan | None


_NO_FAN_OUT = _FanOut(None, ONE, None)


@dataclass(frozen=True, slots=True)
class _Site:
    """One step as the planner meets it: its spec, where it stands, how often it runs, and
    its items."""

    spec: StepSpec
    path: str  # the step's dotted path in the run
    where: tuple[PathKey, ...]  # its place in the workflow file
    scope: _MapContext
    runs: Runs
    fan: _FanOut


_ONE_WAVE = Span(1.0, 1.0)
_ONE_TASK: tuple[tuple[int, Any], ...] = ((0, _NO_ITEM),)


@dataclass(slots=True)
class _Work:
    """What one run of a step (all its items) costs, before its `if` is applied."""

    bill: Bill
    duration: Span
    critical: list[str] = field(default_factory=list)
    levels: list[list[str]] | None = None


@dataclass(slots=True)
class _MapResult:
    bill: Bill
    duration: Span
    levels: list[list[str]]
    critical: list[str]


@dataclass(slots=True)
class _Problem:
    """A template or expression that fails before any call; becomes a Diagnostic."""

    where: tuple[PathKey, ...]
    code: str
    message: str
    line: int
    hint: str | None


@dataclass(slots=True)
class _AgentFacts:
    agent: AgentSpec
    out: int
    """Output tokens counted per call."""
    loop_calls: int
    """Most calls of one attempt: max_tool_calls + 1 with tools, else 1."""
    result_tokens: int
    """Largest tool result, in tokens (the tools' max_output_chars)."""
    tools_tokens: int
    """Tool definitions sent with every call."""
    instructions_tokens: int | None
    """Tokens of the instructions when they are plain text (None: a template, per task)."""

    @classmethod
    def of(cls, agent: AgentSpec, workflow: Workflow) -> _AgentFacts:
        tools = {name: workflow.tools[name] for name in agent.tools if name in workflow.tools}
        instructions = agent.instructions
        return cls(
            agent=agent,
            out=estimate.output_tokens(agent.max_tokens),
            loop_calls=(agent.max_tool_calls if tools else 0) + 1,
            result_tokens=max(
                (estimate.chars_tokens(tool.max_output_chars) for tool in tools.values()),
                default=0,
            ),
            tools_tokens=estimate.tools_tokens(
                {name: _tool_definition(tool) for name, tool in tools.items()}
            ),
            instructions_tokens=(estimate.messages_tokens([instructions]) if instructions else 0)
            if not (instructions and is_template(instructions))
            else None,
        )

    def seconds(self, retry: RetrySpec) -> Span:
        """One task: one call at best; at worst every attempt of every model in the chain
        runs its whole tool loop, with the retry delays between attempts."""
        return _task_seconds(self.out, self.loop_calls, len(self.agent.fallback_models), retry)


@dataclass(slots=True)
class _TaskShape:
    """What the tasks of every step of one agent, retry policy and output schema share."""

    facts: _AgentFacts
    retry: RetrySpec
    seconds: Span
    """One task's duration (see `_AgentFacts.seconds`)."""
    tokens: int
    """Input tokens of a task's first call besides its prompt (and its instructions when
    they are a template): message overhead, tools, plain instructions, output schema."""


def build_plan(
    workflow: Workflow,
    inputs: Mapping[str, Any],
    *,
    workflow_path: Path,
    assume_items: int = DEFAULT_ASSUME_ITEMS,
    source: SourceMap | None = None,
) -> Plan:
    """The plan of a run of `workflow` with `inputs`.

    Inputs the workflow declares but `inputs` lacks take their default; a required one without
    a value is planned as a placeholder and named in the warnings. Raises SpecInvalid when a
    template or a static expression cannot be evaluated; `source` (the loader's SourceMap)
    places those diagnostics, else the file is read again to find their lines.
    """
    planner = _Planner(workflow, inputs, workflow_path, assume_items)
    plan = planner.plan()
    if planner.problems or planner.sub_diagnostics:
        found = _diagnostics(planner.problems, workflow_path, source) + planner.sub_diagnostics
        raise SpecInvalid(sorted(found, key=Diagnostic.sort_key))
    return plan


class _Planner:
    """Plans the steps of one workflow file. A sub-workflow's steps are planned by a planner
    of their own file (its agents, defaults and inputs) that the caller's makes
    (`_uses_work`): it adds its records, warnings and notes to the run's, and plans on the
    run's limits and providers (a run has one of each, E435, E436)."""

    def __init__(
        self,
        workflow: Workflow,
        inputs: Mapping[str, Any],
        workflow_path: Path,
        assume_items: int,
        caller: _Planner | None = None,
    ) -> None:
        self.workflow = workflow
        self.path = workflow_path
        self.assume_items = assume_items
        self.problems: list[_Problem] = []
        run = caller or self
        self.limits: LimitsSpec = workflow.limits if caller is None else caller.limits
        self.providers: Mapping[str, ProviderSpec] = (
            run_providers(workflow) if caller is None else caller.providers
        )
        self.warnings: list[str] = [] if caller is None else run.warnings
        self.notes: list[str] = [] if caller is None else run.notes
        self.sub_diagnostics: list[Diagnostic] = [] if caller is None else run.sub_diagnostics
        """Problems found inside sub-workflows, at their own files."""
        self._records: list[StepPlan | None] = [] if caller is None else run._records
        self._label = "" if caller is None else f"{workflow_path}: "
        """Where a warning or note of this file's is (the run's file: nothing to say)."""
        self._seen: set[tuple[tuple[PathKey, ...], str]] = set()
        self.inputs, self.missing_inputs = self._inputs(workflow.inputs, inputs)
        # A `with:` value known only at run time is a placeholder, as a missing input is.
        self.missing_inputs |= {k for k, v in self.inputs.items() if contains_placeholder(v)}
        self._base = {
            "inputs": self.inputs,
            "env": dict(workflow.env),
            "steps": Placeholder("steps"),
            "run": {"id": Placeholder("run.id")},
            "workflow": {"name": workflow.name, "dir": str(workflow_path.parent)},
        }
        # Item and loop contexts add names to `_base` and change none of its values.
        self._known = KnownBlocks(frozenset(self._base))
        self._prices: dict[str, Price | None] = {}
        self._agents: dict[str, _AgentFacts | None] = {}
        self._shapes: dict[tuple[str | None, RetrySpec | None, str | None], _TaskShape | None] = {}
        self._task_bills: dict[tuple[str | None, int, int], Bill] = {}
        self._step_totals: dict[tuple[Any, ...], _StepTotals] = {}
        self._for_each_plans: dict[tuple[Any, ...], ForEachPlan] = {}
        self._static: dict[str, tuple[Any, str | None]] = {}
        self._record_fields = set(StepPlan.model_fields)

    # ------------------------------------------------------------------ the whole plan

    def plan(self) -> Plan:
        top = self._plan_map(
            self.workflow.steps,
            _MapContext(prefix="", yaml_path=("steps",), runs="always", outer=ONE),
        )
        self._check_outputs()
        usage = bill_usage(top.bill)
        models = self._models(top.bill)
        cost, unpriced = self._total_cost(top.bill)
        tokens = usage.input_tokens + usage.output_tokens
        totals = Totals(
            llm_calls=_ints(usage.calls),
            input_tokens=_ints(usage.input_tokens),
            output_tokens=_ints(usage.output_tokens),
            tokens=_ints(tokens),
            cost_usd=_floats(cost),
            cost_complete=not unpriced,
            unpriced_models=unpriced,
            duration_s=_floats(top.duration),
        )
        if unpriced:
            self.notes.append(
                "no price for " + ", ".join(unpriced) + ": their calls are not in the cost "
                "estimate; add `pricing` to their provider entry"
            )
        limits = self._limit_checks(totals, self._reservation_headroom(top.bill))
        return Plan(
            workflow=self.workflow.name,
            file=str(self.path),
            inputs={k: v for k, v in self.inputs.items() if k not in self.missing_inputs},
            levels=top.levels,
            steps=[record for record in self._records if record is not None],
            critical_path=top.critical,
            providers=self._providers(top.bill),
            models=models,
            totals=totals,
            limits=limits,
            warnings=self.warnings,
            notes=self.notes,
            assumptions=Assumptions(
                chars_per_token=estimate.CHARS_PER_TOKEN,
                default_output_tokens=estimate.DEFAULT_OUTPUT_TOKENS,
                call_overhead_s=estimate.CALL_OVERHEAD_SECONDS,
                output_tokens_per_second=estimate.OUTPUT_TOKENS_PER_SECOND,
                command_s=estimate.COMMAND_SECONDS,
                assume_items=self.assume_items,
            ),
        )

    def _inputs(
        self, declared: Mapping[str, InputSpec], given: Mapping[str, Any]
    ) -> tuple[dict[str, Any], set[str]]:
        values = dict(given)
        missing: set[str] = set()
        for name, spec in declared.items():
            if name in values:
                continue
            if spec.required:
                values[name] = Placeholder(f"inputs.{name}")
                missing.add(name)
                self.warnings.append(
                    f"input {name!r} is required and was not given: planned as a placeholder "
                    f"(pass -i {name}=...)"
                )
            else:
                values[name] = spec.default
        return values, missing

    # ------------------------------------------------------------------ steps maps

    def _plan_map(self, steps: Mapping[str, StepSpec], scope: _MapContext) -> _MapResult:
        """Plan every step of a map in level order, in one walk that also follows the
        longest path (by duration) and collects the bills."""
        prefix = scope.prefix
        graph = SiblingNeeds(steps)
        levels = graph.levels()
        longest = _LongestPath()
        bills: list[Bill] = []
        for level_no, level in enumerate(levels):
            for step_id in level:
                needs = graph.needs[step_id]
                bill, duration, inner = self._plan_step(
                    join_path(prefix, step_id),
                    step_id,
                    steps[step_id],
                    scope,
                    level_no,
                    [join_path(prefix, need) for need in needs],
                )
                bills.append(bill)
                longest.add(step_id, needs, duration, inner)
        duration, chain = longest.end()
        critical = [
            step for step_id, inner in chain for step in (join_path(prefix, step_id), *inner)
        ]
        paths = [[join_path(prefix, step_id) for step_id in level] for level in levels]
        return _MapResult(add_bills(bills), duration, paths, critical)

    def _plan_step(
        self,
        path: str,
        step_id: str,
        spec: StepSpec,
        scope: _MapContext,
        level: int,
        needs: list[str],
    ) -> tuple[Bill, Span, list[str]]:
        """The step at `path` (`step_id` in its scope's `steps` map): its bill and duration
        for one run of its scope, and a group's own critical path."""
        where = (*scope.yaml_path, step_id)
        runs = scope.runs if spec.if_ is None else self._runs(spec, where, scope)
        fan = _NO_FAN_OUT if spec.for_each is None else self._fan_out(spec, where, scope)
        site = _Site(spec, path, where, scope, runs, fan)
        slot = len(self._records)
        self._records.append(None)  # parents are listed before their children
        kind = spec.kind
        if kind == "group":
            work = self._group_work(site)
        elif kind == "uses":
            work = self._uses_work(site)
        elif kind == "agent":
            work = self._agent_work(site)
        else:
            work = self._command_work(site)
        factor = _RUN_FACTOR[runs]
        bill = scale_bill(work.bill, factor)
        duration = work.duration if factor is ONE else work.duration * factor
        self._records[slot] = self._record(site, kind, level, needs, work, bill, duration)
        return bill, duration, work.critical

    def _record(
        self,
        site: _Site,
        kind: StepKind,
        level: int,
        needs: list[str],
        work: _Work,
        bill: Bill,
        duration: Span,
    ) -> StepPlan:
        spec, scope, runs, fan = site.spec, site.scope, site.runs, site.fan
        numbers = self._numbers(bill, scope.outer, runs, fan.items, duration)
        tasks, calls, input_tokens, output_tokens, cost, seconds = numbers
        agent = self.workflow.agents.get(spec.agent) if spec.agent else None
        loop = spec.loop
        values = {
            "path": site.path,
            "kind": kind,
            "parent": scope.prefix or None,
            "level": level,
            "needs": needs,
            "condition": spec.if_,
            "runs": runs,
            "agent": spec.agent,
            "model": agent.model if agent else None,
            "fallback_models": list(agent.fallback_models) if agent else [],
            "judges": [gate.agent for gate in _judge_gates(spec)] if spec.gates else [],
            "for_each": fan.plan,
            "loop": LoopPlan(
                max_iterations=loop.max_iterations,
                until=loop.until,
                on_exhausted=loop.on_exhausted,
            )
            if loop
            else None,
            "levels": work.levels,
            "tasks": tasks,
            "llm_calls": calls,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cost_usd": cost,
            "duration_s": seconds,
        }
        # Every value is already of its field's type (tests/plan/test_plan_shortcuts.py checks
        # records against validated ones).
        return trusted(StepPlan, values, self._record_fields)

    def _numbers(
        self, bill: Bill, outer: Span, runs: Runs, items: Span, duration: Span
    ) -> _RecordNumbers:
        """A record's ranges: tasks, and the calls, tokens and cost in the whole run (its
        bill times its scope's runs), and its duration."""
        calls, input_tokens, output_tokens, cost = self._distinct_totals(bill, outer)
        tasks = _ints(_tasks(outer, _RUN_FACTOR[runs], items))
        return tasks, calls, input_tokens, output_tokens, cost, _floats(duration)

    def _distinct_totals(self, bill: Bill, outer: Span) -> _StepTotals:
        key = (outer.lo, outer.hi, *_bill_key(bill))
        found = self._step_totals.get(key)
        if found is None:
            total = scale_bill(bill, outer)
            usage = bill_usage(total)
            found = self._step_totals[key] = (
                _ints(usage.calls),
                _ints(usage.input_tokens),
                _ints(usage.output_tokens),
                self._step_cost(total),
            )
        return found

    # ------------------------------------------------------------------ if and for_each

    def _runs(self, spec: StepSpec, where: tuple[PathKey, ...], scope: _MapContext) -> Runs:
        """never/maybe/always: the step's `if` when it can be evaluated now, and its scope's."""
        if scope.runs == "never" or spec.if_ is None:
            return scope.runs
        value = self._static_value(spec.if_, (*where, "if"), scope)
        if value is _NO_ITEM:
            return "maybe"
        if not value:
            return "never"
        return scope.runs

    def _fan_out(self, spec: StepSpec, where: tuple[PathKey, ...], scope: _MapContext) -> _FanOut:
        """Items of a for_each: a literal list, a static expression's value, or unknown
        (min 1 item, max `assume_items`)."""
        if spec.for_each is None:
            return _NO_FAN_OUT
        concurrency = self._item_concurrency(spec)
        expression = spec.for_each if isinstance(spec.for_each, str) else None
        if expression is None:
            values: Any = spec.for_each
        else:
            values = self._static_value(expression, (*where, "for_each"), scope)
            if values is not _NO_ITEM and not isinstance(values, list | tuple | range):
                self._problem(
                    (*where, "for_each"),
                    "E502",
                    f"for_each gives {type(values).__name__}, not a list",
                    hint="the expression must give a list (one task per item)",
                )
                values = _NO_ITEM
        if values is _NO_ITEM:
            self.notes.append(
                f"{self._label}{_dotted(where[1::2])}: the for_each list is known only at run "
                f"time; the minimum assumes 1 item, the maximum {self.assume_items} "
                "(--assume-items)"
            )
            plan = self._for_each_plan(expression, None, self.assume_items, concurrency)
            return _FanOut(None, Span(1, self.assume_items), plan)
        items = list(values)
        plan = self._for_each_plan(expression, len(items), None, concurrency)
        return _FanOut(items, Span(len(items), len(items)), plan)

    def _for_each_plan(
        self, expression: str | None, items: int | None, assumed_max: int | None, bound: int | None
    ) -> ForEachPlan:
        # Fan-outs repeat a few of these (and records share a template per distinct one):
        # one model per distinct set of values.
        key = (expression, items, assumed_max, bound)
        found = self._for_each_plans.get(key)
        if found is None:
            found = self._for_each_plans[key] = ForEachPlan(
                expression=expression, items=items, assumed_max=assumed_max, concurrency=bound
            )
        return found

    def _static_value(self, expression: str, where: tuple[PathKey, ...], scope: _MapContext) -> Any:
        """The expression's value when it reads only inputs, env and workflow (all known),
        else `_NO_ITEM`."""
        # Such a value is the same wherever the expression appears: evaluate each text once.
        if expression not in self._static:
            self._static[expression] = self._evaluate_static(expression, scope)
        value, error = self._static[expression]
        if error is not None:
            self._problem(where, "E503", f"the expression cannot be evaluated: {error}")
        return value

    def _evaluate_static(self, expression: str, scope: _MapContext) -> tuple[Any, str | None]:
        try:
            reads = accesses(expression, expression=True)
        except TemplateError:
            return _NO_ITEM, None  # a syntax error: validation reports it
        for access in reads:
            if access.root not in STATIC_ROOTS or self._reads_missing_input(
                access.root, access.keys
            ):
                return _NO_ITEM, None
        try:
            value = evaluate(expression, self._context(scope))
        except TemplateError as exc:
            return _NO_ITEM, exc.message
        return (_NO_ITEM if contains_placeholder(value) else value), None

    def _reads_missing_input(self, root: str, keys: tuple[Any, ...]) -> bool:
        if root != "inputs" or not self.missing_inputs:
            return False
        return not keys or keys[0] not in self.inputs or keys[0] in self.missing_inputs

    def _item_concurrency(self, spec: StepSpec) -> int | None:
        bounds = [
            spec.max_concurrency or self.workflow.defaults.max_concurrency,
            self.limits.max_concurrency,
        ]
        agent = self.workflow.agents.get(spec.agent) if spec.agent else None
        if agent is not None:
            bounds += [agent.max_concurrency, self._provider_concurrency(agent.provider)]
        return min((b for b in bounds if b is not None), default=None)

    def _provider_concurrency(self, provider: str) -> int | None:
        entry = self.providers.get(provider)
        bounds = [entry.max_concurrency if entry else None, self.limits.max_concurrency]
        return min((b for b in bounds if b is not None), default=None)

    # ------------------------------------------------------------------ step kinds

    def _agent_work(self, site: _Site) -> _Work:
        """An agent task per item: see `_agent_task` for the calls of one task."""
        spec, where, scope, fan = site.spec, site.where, site.scope, site.fan
        shape = self._task_shape(spec)
        if shape is None:
            return _Work({}, ZERO)  # validation reports the unknown agent
        retry, task_time = shape.retry, shape.seconds
        if fan.plan is None:  # one task, in its scope's context
            context = self._item_context(scope, _NO_ITEM, 0)
            bill = self._agent_task(spec, shape, where, context)
        else:
            bills = [
                self._agent_task(spec, shape, where, self._item_context(scope, item, index))
                for index, item in self._items(fan)
            ]
            bill = bills[0] if len(bills) == 1 else add_bills(bills)
            if fan.values is None:
                bill = scale_bill(bill, fan.items)
        if spec.gates:
            judges, judge_time = self._judges(spec, retry, shape.facts.out)
            if judges:
                bill = add_bills([bill, scale_bill(judges, fan.items)])
            task_time = task_time + judge_time
        if fan.plan is None:  # one round (the seconds are floats: times 1.0 changes nothing)
            return _Work(bill, task_time)
        return _Work(bill, _waves(fan.items, fan.plan) * task_time)

    def _agent_task(
        self,
        spec: StepSpec,
        shape: _TaskShape,
        where: tuple[PathKey, ...],
        context: Mapping[str, Any],
    ) -> Bill:
        """One task's model calls.

        min: one call. max, for the model and each fallback model alike: max_attempts
        attempts of up to max_tool_calls + 1 calls each (one more than the tool calls: the
        last reply); every call of a tool loop re-sends the conversation, which grows by a
        reply and a tool result (up to the tools' max_output_chars) per tool call.
        """
        facts = shape.facts
        prompt = self._rendered_length((*where, "prompt"), spec.prompt or "", context)
        base = estimate.chars_tokens(prompt) + shape.tokens
        if facts.agent.attachments or spec.attachments:
            entries = (*(facts.agent.attachments or ()), *(spec.attachments or ()))
            base += attachments_tokens(entries)
        if facts.instructions_tokens is None and facts.agent.instructions:
            where_agent = ("agents", spec.agent or "", "instructions")
            length = self._rendered_length(where_agent, facts.agent.instructions, context)
            base += estimate.chars_tokens(length) + estimate.MESSAGE_OVERHEAD_TOKENS
        # Bills are never changed once made: tasks of the same agent, attempts and size share
        # one.
        key = (spec.agent, shape.retry.max_attempts, base)
        bill = self._task_bills.get(key)
        if bill is None:
            bill = self._task_bills[key] = _task_bill(facts, shape.retry.max_attempts, base)
        return bill

    def _task_shape(self, spec: StepSpec) -> _TaskShape | None:
        """What the tasks of an agent step share with every step of the same agent, retry
        policy and output schema (None for an unknown agent), worked out once for them all."""
        schema = spec.output_schema
        key = (spec.agent, spec.retry, None if schema is None else json.dumps(schema))
        if key not in self._shapes:
            self._shapes[key] = self._new_task_shape(spec)
        return self._shapes[key]

    def _new_task_shape(self, spec: StepSpec) -> _TaskShape | None:
        facts = self._agent_facts(spec.agent or "")
        if facts is None:
            return None
        retry = self._retry(spec)
        tokens = estimate.MESSAGE_OVERHEAD_TOKENS + facts.tools_tokens
        if facts.instructions_tokens is not None:
            tokens += facts.instructions_tokens
        schema = spec.output_schema or facts.agent.output_schema
        if schema:
            tokens += estimate.json_tokens(schema)
        return _TaskShape(facts, retry, facts.seconds(retry), tokens)

    def _agent_facts(self, name: str) -> _AgentFacts | None:
        """What every task of an agent shares, worked out once per agent."""
        if name not in self._agents:
            agent = self.workflow.agents.get(name)
            self._agents[name] = None if agent is None else _AgentFacts.of(agent, self.workflow)
        return self._agents[name]

    def _command_work(self, site: _Site) -> _Work:
        """A process per item: no model calls but its judge gates; COMMAND_SECONDS a run."""
        spec, where, scope, fan = site.spec, site.where, site.scope, site.fan
        for index, item in self._items(fan):
            context = self._item_context(scope, item, index)
            for position, argument in enumerate(spec.run or []):
                self._rendered_length((*where, "run", position), argument, context)
            for name, value in (spec.env or {}).items():
                self._rendered_length((*where, "env", name), value, context)
        retry = self._retry(spec)
        judges, judge_time = self._judges(spec, retry, estimate.DEFAULT_OUTPUT_TOKENS)
        attempts = retry.max_attempts
        own = Span(
            estimate.COMMAND_SECONDS, attempts * estimate.COMMAND_SECONDS + _retry_delays(retry)
        )
        return _Work(
            scale_bill(judges, fan.items), _waves(fan.items, fan.plan) * (own + judge_time)
        )

    def _group_work(self, site: _Site) -> _Work:
        """Children per item and per loop iteration (min 1, max max_iterations); a group is
        not re-run, whatever its `on_gate_failure`: its gates are checked once."""
        spec, scope, fan = site.spec, site.scope, site.fan
        retry = self._retry(spec)
        iterations = Span(1, spec.loop.max_iterations) if spec.loop else ONE
        index, item = self._first_item(site)
        child_scope = _MapContext(
            prefix=site.path,
            yaml_path=(*site.where, "steps"),
            runs=site.runs,
            outer=scope.outer * _RUN_FACTOR[site.runs] * fan.items * iterations,
            item=item,
            index=index,
            in_loop=scope.in_loop or spec.loop is not None,
        )
        children = self._plan_map(spec.steps or {}, child_scope)
        judges, judge_time = self._judges(spec, retry, estimate.DEFAULT_OUTPUT_TOKENS)
        per_item = add_bills([scale_bill(children.bill, iterations), judges])
        task_time = children.duration * iterations + judge_time
        return _Work(
            scale_bill(per_item, fan.items),
            _waves(fan.items, fan.plan) * task_time,
            children.critical,
            children.levels,
        )

    def _uses_work(self, site: _Site) -> _Work:
        """A sub-workflow's steps per item, as a group's children (their records nest under
        this step), planned by a planner of the child's file with the inputs `with:` gives
        the first item (the others' are alike); then this step's own judge gates."""
        spec, scope, fan = site.spec, site.scope, site.fan
        assert spec.uses is not None
        child = self.workflow.sub_workflow(spec.uses)
        index, item = self._first_item(site)
        context = self._item_context(scope, item, index)
        given = {
            name: self._with_value(name, value, (*site.where, "with", name), context)
            for name, value in (spec.with_ or {}).items()
        }
        # The label validation gives the child's file: relative to the calling file's.
        label = Path(os.path.normpath(self.path.parent / spec.uses))
        planner = _Planner(child, given, label, self.assume_items, caller=self)
        child_scope = _MapContext(
            prefix=site.path,
            yaml_path=("steps",),
            runs=site.runs,
            outer=scope.outer * _RUN_FACTOR[site.runs] * fan.items,
        )  # the child's templates see its own inputs, not the caller's item or loop
        children = planner._plan_map(child.steps, child_scope)
        planner._check_outputs()
        self.sub_diagnostics += _diagnostics(planner.problems, label, None)
        judges, judge_time = self._judges(spec, self._retry(spec), estimate.DEFAULT_OUTPUT_TOKENS)
        return _Work(
            scale_bill(add_bills([children.bill, judges]), fan.items),
            _waves(fan.items, fan.plan) * (children.duration + judge_time),
            children.critical,
            children.levels,
        )

    def _first_item(self, site: _Site) -> tuple[int, Any]:
        """The index and item a group's or sub-workflow's children are planned with: the
        step's first item (a placeholder when unknown), or its scope's without for_each."""
        if site.fan.plan is None:
            return site.scope.index, site.scope.item
        return next(iter(self._items(site.fan)), (0, Placeholder("item")))

    def _with_value(
        self, name: str, source: Any, where: tuple[PathKey, ...], context: Mapping[str, Any]
    ) -> Any:
        """A `with:` value as the run gives it: one expression keeps its value (a placeholder
        when it reads what only the run knows), another template is text (rendered with
        placeholders, as a prompt is, for its length)."""
        if not isinstance(source, str) or not is_template(source):
            return source
        expression = one_expression(source)
        try:
            value = evaluate(expression, context) if expression else render(source, context)
        except TemplateError as exc:
            self._render_failed(where, source, exc)
            return Placeholder(f"inputs.{name}")
        return Placeholder(f"inputs.{name}") if contains_placeholder(value) else value

    def _judges(self, spec: StepSpec, retry: RetrySpec, judged_tokens: int) -> tuple[Bill, Span]:
        """Calls of the step's judge gates for one task, and their time.

        min: one call per judge gate (every gate passes). max: the gates are checked after each
        attempt when `on_gate_failure: retry` (else once), and each judge call may itself take
        max_attempts attempts on the judge's model and on each of its fallback models.
        """
        if not spec.gates:
            return {}, ZERO
        bill: Bill = {}
        seconds = ZERO
        runs = retry.max_attempts if self._retries_gates(spec) else 1
        for gate in _judge_gates(spec):
            judge = self.workflow.agents.get(gate.agent)
            if judge is None:
                continue  # validation reports the unknown agent
            texts = [gate.rubric] + ([judge.instructions] if judge.instructions else [])
            base = estimate.messages_tokens(texts) + judged_tokens + estimate.JUDGE_FRAME_TOKENS
            out = estimate.output_tokens(judge.max_tokens)
            calls = runs * retry.max_attempts
            first = Usage(Span(1, calls), Span(base, calls * base), Span(out, calls * out))
            bill[judge.model] = bill.get(judge.model, NO_USAGE) + first
            for model in judge.fallback_models:
                fallback = Usage(Span(0, calls), Span(0, calls * base), Span(0, calls * out))
                bill[model] = bill.get(model, NO_USAGE) + fallback
            chain = 1 + len(judge.fallback_models)
            call = estimate.call_seconds(out)
            seconds = seconds + Span(
                call, runs * chain * (retry.max_attempts * call + _retry_delays(retry))
            )
        return bill, seconds

    def _retries_gates(self, spec: StepSpec) -> bool:
        # Only an agent or command step runs again; a group or sub-workflow under a default
        # `retry` checks its gates once (the engine's `_group_gates`).
        policy = spec.on_gate_failure or self.workflow.defaults.on_gate_failure or "fail"
        return bool(spec.gates) and policy == "retry" and spec.kind in ("agent", "command")

    def _retry(self, spec: StepSpec) -> RetrySpec:
        return spec.retry or self.workflow.defaults.retry or _DEFAULT_RETRY

    def _items(self, fan: _FanOut) -> Sequence[tuple[int, Any]]:
        """(index, item) pairs to render with: every known item, else one placeholder."""
        if fan.plan is None:
            return _ONE_TASK
        if fan.values is None:
            return [(0, Placeholder("item"))]
        return list(enumerate(fan.values))

    # ------------------------------------------------------------------ templates

    def _context(self, scope: _MapContext) -> Mapping[str, Any]:
        return self._item_context(scope, _NO_ITEM, 0)

    def _item_context(self, scope: _MapContext, item: Any, index: int) -> Mapping[str, Any]:
        if item is _NO_ITEM:
            item, index = scope.item, scope.index
        if item is _NO_ITEM and not scope.in_loop:
            return self._base  # rendering only reads the context
        context = dict(self._base)
        if item is not _NO_ITEM:
            context["item"] = item
            context["index"] = index
        if scope.in_loop:
            context["loop"] = {"iteration": 1, "previous": Placeholder("loop.previous")}
        return context

    def _rendered_length(
        self, where: tuple[PathKey, ...], source: str, context: Mapping[str, Any]
    ) -> int:
        """The rendered text's length (what token estimates need); on failure the template's
        own (its length still estimates)."""
        try:
            length = rendered_length(source, context, self._known)
            return len(render(source, context)) if length is None else length
        except TemplateError as exc:
            self._render_failed(where, source, exc)
            return len(source)

    def _render_failed(self, where: tuple[PathKey, ...], source: str, exc: TemplateError) -> None:
        # An undefined name or a sandbox refusal fails the same way at run time. Other errors
        # (a filter given a placeholder it cannot handle) are certain only when no
        # placeholder took part, i.e. the template reads no run-time value.
        certain = exc.message.startswith(("undefined value", "refused by the template sandbox"))
        if not certain:
            dynamic = set(RUNTIME_ROOTS) | ({"inputs"} if self.missing_inputs else set())
            try:
                certain = not root_names(source, expression=False) & dynamic
            except TemplateError:
                certain = True
        if certain:
            self._problem(
                where,
                "E501",
                f"the template cannot be rendered: {exc.message}",
                line=_template_line(exc, source),
            )
            return
        key = (where, exc.message)
        if key not in self._seen:
            self._seen.add(key)
            self.warnings.append(
                f"{self._label}{_dotted(where)}: could not be rendered with placeholders "
                f"({exc.message}); its tokens are estimated from the template text"
            )

    def _check_outputs(self) -> None:
        context = self._context(
            _MapContext(prefix="", yaml_path=("outputs",), runs="always", outer=ONE)
        )
        for name, template in self.workflow.outputs.items():
            self._rendered_length(("outputs", name), template, context)

    def _problem(
        self,
        where: tuple[PathKey, ...],
        code: str,
        message: str,
        *,
        line: int = 1,
        hint: str | None = None,
    ) -> None:
        key = (where, message)
        if key not in self._seen:
            self._seen.add(key)
            self.problems.append(_Problem(where, code, message, line, hint))

    # ------------------------------------------------------------------ money, limits

    def _price(self, model: str) -> Price | None:
        if model not in self._prices:
            self._prices[model] = price_of(self.providers, model)
        return self._prices[model]

    def _step_cost(self, bill: Bill) -> FloatRange | None:
        costs = []
        for model, usage in bill.items():
            price = self._price(model)
            if price is None:
                return None
            costs.append(price.cost(usage))
        return _floats(sum(costs[1:], costs[0]) if costs else ZERO)

    def _total_cost(self, bill: Bill) -> tuple[Span, list[str]]:
        total = ZERO
        unpriced = []
        for model, usage in sorted(bill.items()):
            price = self._price(model)
            if price is None:
                unpriced.append(model)
            else:
                total = total + price.cost(usage)
        return total, unpriced

    def _models(self, bill: Bill) -> list[ModelUse]:
        uses = []
        for model, usage in sorted(bill.items()):
            price = self._price(model)
            uses.append(
                ModelUse(
                    model=model,
                    price_input=price.input if price else None,
                    price_output=price.output if price else None,
                    price_source=price.source if price else "unknown",
                    llm_calls=_ints(usage.calls),
                    input_tokens=_ints(usage.input_tokens),
                    output_tokens=_ints(usage.output_tokens),
                    cost_usd=_floats(price.cost(usage)) if price else None,
                )
            )
        return uses

    def _providers(self, bill: Bill) -> list[ProviderPlan]:
        by_provider: dict[str, list[str]] = {}
        for model in sorted(bill):
            by_provider.setdefault(model.partition("/")[0], []).append(model)
        return [
            ProviderPlan(
                name=name,
                type=protocol_of(self.providers, name),
                max_concurrency=self._provider_concurrency(name),
                models=models,
                llm_calls=_ints(sum((bill[m].calls for m in models), ZERO)),
            )
            for name, models in by_provider.items()
        ]

    def _reservation_headroom(self, bill: Bill) -> tuple[int, float]:
        """What a call reserves before it is sent beyond what the plan counts for it: the
        output tokens of an agent without max_tokens (the budget's worst case against the
        plan's typical reply), and their cost at the dearest model such a call may go to.
        Every call must fit its whole reservation, the run's last one included."""
        unbounded = {
            model
            for agent in self.workflow.agents.values()
            if agent.max_tokens is None
            for model in (agent.model, *agent.fallback_models)
        }
        called = [model for model, use in bill.items() if model in unbounded and use.calls.hi]
        if not called:
            return 0, 0.0
        extra = estimate.RESERVED_OUTPUT_TOKENS - estimate.DEFAULT_OUTPUT_TOKENS
        prices = [price for price in map(self._price, called) if price is not None]
        return extra, max((pricing.charge(price, 0, extra) for price in prices), default=0.0)

    def _limit_checks(self, totals: Totals, headroom: tuple[int, float]) -> list[LimitCheck]:
        limits = self.workflow.limits
        tokens, usd = headroom
        wanted: list[tuple[Any, float | None, FloatRange | None, float]] = [
            ("max_llm_calls", limits.max_llm_calls, _as_floats(totals.llm_calls), 0),
            ("max_tokens", limits.max_tokens, _as_floats(totals.tokens), tokens),
            ("max_cost_usd", limits.max_cost_usd, totals.cost_usd, usd),
            ("max_duration", limits.max_duration, totals.duration_s, 0),
        ]
        checks = []
        for name, value, estimated, reserved in wanted:
            if value is None:
                continue
            needed = _plus(estimated, reserved)
            status = _limit_status(value, needed)
            if name == "max_cost_usd" and not totals.cost_complete and status != "exceeds":
                status = "unknown"
            checks.append(LimitCheck(limit=name, value=value, estimate=estimated, status=status))
            if status == "unknown":
                self.warnings.append(_unpriced_warning(value, totals.unpriced_models))
            if estimated is None or needed is None or status not in ("may_exceed", "exceeds"):
                continue
            if _limit_status(value, estimated) == status:
                self.warnings.append(_limit_warning(name, value, estimated, status))
            else:  # the reservation alone goes over: say why the figure is above the estimate
                self.warnings.append(
                    _limit_warning(name, value, needed, status)
                    + f" (a call reserves {estimate.RESERVED_OUTPUT_TOKENS:,} output tokens "
                    "before it is sent when its agent sets no max_tokens)"
                )
        return checks


# ---------------------------------------------------------------------------- helpers


@dataclass(slots=True)
class _LongestPath:
    """The longest path by duration through a map whose steps are added in level order:
    the latest finish of each step, low and high, and the need it waits for longest."""

    finish_lo: dict[str, float] = field(default_factory=dict)
    finish_hi: dict[str, float] = field(default_factory=dict)
    previous: dict[str, tuple[str | None, list[str]]] = field(default_factory=dict)
    """Step -> the need on its worst-case path, and the step's own critical path (a
    group's children)."""

    def add(self, step: str, needs: list[str], duration: Span, inner: list[str]) -> None:
        finish_lo, finish_hi = self.finish_lo, self.finish_hi
        # The latest finish of the needs, low and high; of needs that finish together, the
        # first listed is on the path.
        latest: float | None = None
        slowest: str | None = None
        for need in needs:
            if latest is None or finish_lo[need] > latest:
                latest = finish_lo[need]
            if slowest is None or finish_hi[need] > finish_hi[slowest]:
                slowest = need
        finish_lo[step] = duration.lo + (0.0 if latest is None else latest)
        finish_hi[step] = duration.hi + (0.0 if slowest is None else finish_hi[slowest])
        self.previous[step] = (slowest, inner)

    def end(self) -> tuple[Span, list[tuple[str, list[str]]]]:
        """The span of the whole map, and the worst-case path: each step with its own
        critical path."""
        if not self.finish_hi:
            return ZERO, []
        end: str | None = max(self.finish_hi, key=self.finish_hi.__getitem__)
        chain: list[tuple[str, list[str]]] = []
        while end is not None:
            slowest, inner = self.previous[end]
            chain.append((end, inner))
            end = slowest
        chain.reverse()
        return Span(max(self.finish_lo.values()), max(self.finish_hi.values())), chain


def _tasks(outer: Span, runs: Span, items: Span) -> Span:
    """Runs of a step's work: its scope's runs x its own (if) x its items."""
    if outer is ONE and runs is ONE and items is ONE:  # most steps: once per run
        return ONE
    return outer * runs * items


def _bill_key(bill: Bill) -> tuple[Any, ...]:
    """A bill's models and numbers, in its order (a cost adds up in that order)."""
    key: list[Any] = []
    for model, usage in bill.items():
        calls, sent, produced = usage.calls, usage.input_tokens, usage.output_tokens
        key += (model, calls.lo, calls.hi, sent.lo, sent.hi, produced.lo, produced.hi)
    return tuple(key)


def _task_bill(facts: _AgentFacts, attempts: int, base: int) -> Bill:
    """See `_Planner._agent_task`: the calls of one task whose first call sends `base`
    tokens."""
    agent = facts.agent
    out, loop_calls = facts.out, facts.loop_calls
    tool_calls = loop_calls - 1
    loop_input = loop_calls * base + tool_calls * loop_calls // 2 * (facts.result_tokens + out)
    calls, sent, produced = (
        attempts * loop_calls,
        attempts * loop_input,
        attempts * loop_calls * out,
    )
    bill: Bill = {agent.model: Usage(Span(1, calls), Span(base, sent), Span(out, produced))}
    for model in agent.fallback_models:
        fallback = Usage(Span(0, calls), Span(0, sent), Span(0, produced))
        bill[model] = bill.get(model, NO_USAGE) + fallback
    return bill


@lru_cache(maxsize=256)
def _task_seconds(out: int, loop_calls: int, fallbacks: int, retry: RetrySpec) -> Span:
    call = estimate.call_seconds(out)
    worst = retry.max_attempts * loop_calls * call + _retry_delays(retry)
    return Span(call, (1 + fallbacks) * worst)


def _retry_delays(retry: RetrySpec) -> float:
    """The longest total wait between attempts: min(max_delay, initial * multiplier^n) for
    each retry n (full jitter waits at most this)."""
    return sum(
        min(retry.max_delay, retry.initial_delay * retry.multiplier**n)
        for n in range(retry.max_attempts - 1)
    )


def _waves(items: Span, fan: ForEachPlan | None) -> Span:
    """Rounds of items one after another when concurrency is bounded (1 when it is not)."""
    if fan is None and items.lo > 0:
        return _ONE_WAVE  # a step without for_each: one round, at once
    concurrency = fan.concurrency if fan else None

    def rounds(count: float) -> float:
        if count <= 0:
            return 0.0
        return float(math.ceil(count / concurrency)) if concurrency else 1.0

    return Span(rounds(items.lo), rounds(items.hi))


def _judge_gates(spec: StepSpec) -> list[JudgeGate]:
    return [gate for gate in spec.gates or [] if isinstance(gate, JudgeGate)]


def _tool_definition(tool: ToolDef) -> dict[str, Any]:
    """What a request tells the model about a tool: its description and arguments schema."""
    if tool.type == "http_get":
        parameters: dict[str, Any] = {"type": "object", "properties": {"url": {"type": "string"}}}
    elif tool.type == "read_file":
        parameters = {"type": "object", "properties": {"path": {"type": "string"}}}
    elif tool.type == "mcp":
        # The server's tools are known only once it runs; plan starts nothing: an MCP entry
        # counts as one small definition, so its estimate is a lower bound.
        return {"description": "", "parameters": {"type": "object", "properties": {}}}
    else:
        parameters = tool.parameters
    return {"description": tool.description or "", "parameters": parameters}


def _plus(estimated: FloatRange | None, amount: float) -> FloatRange | None:
    if estimated is None or not amount:
        return estimated
    return FloatRange(min=estimated.min + amount, max=estimated.max + amount)


def _limit_status(value: float, estimated: FloatRange | None) -> LimitStatus:
    if estimated is None:
        return "unknown"
    if estimated.min > value:
        return "exceeds"
    if estimated.max > value:
        return "may_exceed"
    return "ok"


def _limit_warning(name: str, value: float, estimated: FloatRange, status: LimitStatus) -> str:
    which = "even the cheapest run" if status == "exceeds" else "the worst case"
    amount = estimated.min if status == "exceeds" else estimated.max
    return (
        f"limits.{name} is {limit_amount(name, value)} but {which} needs "
        f"{limit_amount(name, amount)}"
    )


def _unpriced_warning(value: float, unpriced: list[str]) -> str:
    # A run prices a call to a model without a price at 0, so the limit cannot stop those calls.
    many = len(unpriced) > 1
    return (
        f"limits.max_cost_usd is {limit_amount('max_cost_usd', value)} but "
        f"{', '.join(unpriced)} {'have' if many else 'has'} no price: "
        f"{'their' if many else 'its'} calls count as free against it; add `pricing` to "
        f"{'their' if many else 'its'} provider entry"
    )


# Thousands of steps repeat a few dozen ranges, and a plan is never changed once made: its
# records share one range object per distinct span.
_INT_RANGES: dict[tuple[float, float], IntRange] = {}
_FLOAT_RANGES: dict[tuple[float, float], FloatRange] = {}
_RANGES_KEPT = 4096


def _ints(span: Span) -> IntRange:
    key = (span.lo, span.hi)
    found = _INT_RANGES.get(key)
    if found is None:
        found = IntRange(min=round(span.lo), max=round(span.hi))
        if len(_INT_RANGES) < _RANGES_KEPT:
            _INT_RANGES[key] = found
    return found


def _floats(span: Span) -> FloatRange:
    key = (span.lo, span.hi)
    found = _FLOAT_RANGES.get(key)
    if found is None:
        found = FloatRange(min=round(span.lo, 6), max=round(span.hi, 6))
        if len(_FLOAT_RANGES) < _RANGES_KEPT:
            _FLOAT_RANGES[key] = found
    return found


def _as_floats(span: IntRange) -> FloatRange:
    return FloatRange(min=span.min, max=span.max)


def _template_line(exc: TemplateError, source: str) -> int:
    """The template line of a render error: its own, else the one Jinja2's debug info gives
    for the compiled template's frame in the traceback of the error it raised."""
    if exc.lineno:
        return exc.lineno
    python_line = None
    trace = exc.__context__.__traceback__ if exc.__context__ else None
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            python_line = trace.tb_lineno
        trace = trace.tb_next
    if python_line is None:
        return 1
    return compile_template(source).get_corresponding_lineno(python_line)


def _dotted(where: Sequence[PathKey]) -> str:
    return ".".join(str(part) for part in where)


def _diagnostics(
    problems: list[_Problem], workflow_path: Path, source: SourceMap | None
) -> list[Diagnostic]:
    if source is None:
        try:
            source = load_file(workflow_path).source
        except SpecError:  # positions are a courtesy: the file may have changed or gone
            source = SourceMap.empty(str(workflow_path))
    diagnostics = []
    for problem in problems:
        line, col = source.text_position(problem.where, problem.line)
        diagnostics.append(
            Diagnostic(
                file=source.file,
                line=line,
                col=col,
                severity="error",
                code=problem.code,
                message=f"{_dotted(problem.where)}: {problem.message}",
                hint=problem.hint,
            )
        )
    return sorted(diagnostics, key=Diagnostic.sort_key)


__all__ = ["DEFAULT_ASSUME_ITEMS", "build_plan"]
