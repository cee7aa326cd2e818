"""Resume: fingerprints of work, and what an earlier run finished.

Every execution gets a fingerprint when it is about to run: a hash of what defines it (its
spec, its agent, the agent's provider and tools, the judges of its gates) and of everything it
reads (the workflow's inputs and env, the enclosing group's fingerprint, the loop state, its
item, and the fingerprint, status and output of each need). Needs chain, so a change anywhere
upstream changes every fingerprint below it. Fields that only shape *how* a step runs
(timeout, retry, priority, concurrency, tags, cache, continue_on_error) are left out: raising
a timeout after a failure must not throw away the work that already succeeded.

``--resume`` re-runs the same run directory. Agent and command tasks (a step, or one item of
a for_each) whose journal entry says they succeeded with the same fingerprint are reused, not
run; groups, for_each steps and loops are recomputed from their reused and re-run parts, so a
resumed run redoes exactly what did not succeed or whose inputs changed.

A run is made of segments: the first ``agnoctl run``, then each ``--resume``, each starting
with its ``run_started`` or ``run_resumed`` event. What earlier segments used (model calls,
tokens, cost: their ``llm_call`` events) is read back with their finished work, so that
``limits`` hold for the whole run: a CI job that retries with ``--resume`` never spends its
budget twice.

The journal is read with a torn last line tolerated (a ``kill -9`` mid-write) and cut back to
its last whole line (``rundir.repair_journal``) before the resumed run appends to it.

A run whose journal recorded its end (``Resumption.ended``) may still lack report files: a kill
(or a full disk) came between report.json and the files made from it. The session makes them
again from report.json (``final_report``) instead of resuming; when report.json itself is not
the run's final report and the run passed, it is resumed, every task reused, to make it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from agnoctl import events
from agnoctl.cache import canonical_json
from agnoctl.engine.budget import Spent
from agnoctl.engine.rundir import (
    JOURNAL,
    LATEST,
    REPORT_FILE,
    find_run,
    latest_run_of,
    workflow_of,
)
from agnoctl.engine.state import ExecRecord, ItemRecord
from agnoctl.errors import UsageError
from agnoctl.events import Entry, read_events
from agnoctl.spec.dag import iter_steps
from agnoctl.spec.inputs import read_inputs_file, resolve_inputs
from agnoctl.spec.models import AgentSpec, JudgeGate, StepSpec, Workflow

# How a step runs, not what it computes: left out of its fingerprint.
_EXECUTION_ONLY = frozenset(
    {"timeout", "retry", "priority", "max_concurrency", "tags", "cache", "continue_on_error"}
)
_AGENT_EXECUTION_ONLY = frozenset({"max_concurrency", "cache", "description"})
_NOT_IN_DEFINITION = {*_EXECUTION_ONLY, "steps"}  # built once: a run dumps every step

JournalKey = tuple[str, int | None, int | None]  # (step path, item index, loop iteration)
"""A step's events give the index of the item it runs in (if any) where an item's give its
own: the `step_succeeded` of `g[1].each` and the `item_succeeded` of its item 1 have the same
key, so the journal keeps steps' and items' finished work apart (``PreviousRun``). Nor is a
key one task's: in nested loops it holds the innermost iteration alone, so every outer
iteration's task has it; their fingerprints tell them apart."""
_Done = tuple[str, int | None, int | None, str | None]
"""A ``JournalKey`` and the fingerprint the task finished with."""


def digest(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``value`` (sorted keys, compact).

    orjson writes it for a tenth of ``canonical_json``'s cost (a run takes a digest per step
    and per item), and the same text but for tiny floats (``1e-7``, not ``1e-07``) and NaN
    (null): a fingerprint need only be stable from one run to its resume. Integers beyond 64
    bits (and nesting deeper than 254 levels), which orjson refuses, go through
    ``canonical_json``.
    """
    try:
        # Without the option for keys that are not strings first: orjson takes a slower path
        # for every map under it. A value holding such a key fails here, and gets it.
        text = orjson.dumps(value, _tagged, _CANONICAL_STR_KEYS)  # (default, option)
    except orjson.JSONEncodeError:
        try:
            text = orjson.dumps(value, default=_tagged, option=_CANONICAL)
        except orjson.JSONEncodeError:
            text = canonical_json(value).encode()
    return hashlib.sha256(text).hexdigest()


_CANONICAL_STR_KEYS = (
    orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)
_CANONICAL = _CANONICAL_STR_KEYS | orjson.OPT_NON_STR_KEYS


def _tagged(value: object) -> dict[str, str]:
    # As canonical_json: a value JSON lacks (a date in YAML) is tagged with its type, so it
    # never digests like a string.
    return {"$" + type(value).__name__: str(value)}


# ---------------------------------------------------------------------------- fingerprints


class Fingerprints:
    """Fingerprints of one workflow's executions; step definitions are hashed once each.

    ``mock`` (every agent routed to the mock provider) is part of every fingerprint: a mock
    reply must never stand in for a real model's when a run is resumed without ``--mock``.
    """

    def __init__(self, workflow: Workflow, *, mock: bool = False) -> None:
        self._workflow = workflow
        self._mock = mock
        self._definitions: dict[int, tuple[StepSpec, str]] = {}
        self._agents: dict[str, str] = {}  # agent name -> digest: many steps share an agent
        # agent name -> {name: digest}, the agents part of a step without gates (most steps)
        self._own_agent: dict[str, dict[str, str]] = {}
        # Each step's part of the workflow's dump, until its definition is hashed: one dump
        # of the whole workflow costs a fraction of a dump per step.
        self._dumped_steps: dict[int, dict[str, Any]] = {}
        # What a step that leaves them out inherits, read once: a field of a pydantic model
        # costs several times a dict's item to read, and every step's definition reads these.
        defaults = workflow.defaults
        self._on_gate_failure = defaults.on_gate_failure or "fail"
        threshold = defaults.success_threshold
        self._success_threshold = 1.0 if threshold is None else threshold

    def run(self, inputs: Mapping[str, Any]) -> str:
        """The whole run: the workflow as written (keys left out), the files its `uses:`
        name, and the inputs it was given."""
        dumped = _as_written(self._workflow)
        self._keep_steps(self._workflow.steps, dumped["steps"])
        whole = {"workflow": dumped, "inputs": inputs, "mock": self._mock}
        used = _sub_workflows(self._workflow)
        if used:  # only then: the fingerprint of a run without them is the one it always was
            whole["uses"] = used
        return digest(whole)

    def _keep_steps(self, specs: Mapping[str, StepSpec], dumped: Mapping[str, Any]) -> None:
        for step_id, spec in specs.items():
            data = dumped[step_id]
            self._dumped_steps[id(spec)] = data
            if spec.steps is not None:
                self._keep_steps(spec.steps, data["steps"])

    def top(self, inputs: Mapping[str, Any]) -> str:
        """What every top-level step may read besides its needs: inputs and env."""
        return digest({"inputs": inputs, "env": self._workflow.env, "mock": self._mock})

    def step(
        self,
        spec: StepSpec,
        scope: str,
        loop: Any,
        needs: Mapping[str, tuple[str | None, str, Any]],
    ) -> str:
        """One step in its scope; ``needs`` maps each need to (fingerprint, status, output)."""
        # orjson writes the (fingerprint, status, output) tuples as the lists they were.
        return digest(
            {"definition": self.definition(spec), "scope": scope, "loop": loop, "needs": needs}
        )

    @staticmethod
    def item(step: str, index: int, item: Any) -> str:
        """One for_each item of a step whose fingerprint is ``step``."""
        return digest({"step": step, "index": index, "item": item})

    def definition(self, spec: StepSpec) -> str:
        cached = self._definitions.get(id(spec))
        if cached is None:
            cached = self._definitions[id(spec)] = (spec, digest(self._definition(spec)))
        return cached[1]

    def _definition(self, spec: StepSpec) -> dict[str, Any]:
        # A group's children have fingerprints of their own: editing one child must not
        # change its siblings' (they see the group's fingerprint as their scope).
        data = self._dumped_steps.pop(id(spec), None)
        if data is None:  # a step hashed before the run's fingerprint, or again
            data = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
        # The dump is this call's own (popped, or made just now): it becomes the definition's
        # `step` in place, not through a copy. None of the fields read below is removed.
        own = data
        for key in _NOT_IN_DEFINITION.intersection(data):  # a step sets few of them, if any
            del own[key]
        # The step's own fields, read from its dump (which leaves out what is None).
        own["needs"] = sorted(data["needs"])
        threshold = data.get("success_threshold")
        return {
            "step": own,
            # `defaults` may set these two, and they decide whether an output passes.
            "on_gate_failure": data.get("on_gate_failure") or self._on_gate_failure,
            "success_threshold": self._success_threshold if threshold is None else threshold,
            "agents": self._agent_digests(spec, data),
        }

    def _agent_digests(self, spec: StepSpec, data: Mapping[str, Any]) -> dict[str, str]:
        """The digest of each agent the step calls: its own and its judges'. ``data`` is the
        step's dump."""
        agent: str | None = data.get("agent")
        if not data.get("gates"):  # most steps: their own agent at most, one map for all its steps
            if not agent:
                return {}
            found = self._own_agent.get(agent)
            if found is None:
                found = self._own_agent[agent] = {agent: self._agent_digest(agent)}
            return found
        judges = [gate.agent for gate in spec.gates or () if isinstance(gate, JudgeGate)]
        # In any order: digest sorts the keys.
        return {name: self._agent_digest(name) for name in {*([agent] if agent else []), *judges}}

    def _agent_digest(self, name: str) -> str:
        found = self._agents.get(name)
        if found is None:
            found = self._agents[name] = digest(self._agent(name))
        return found

    def _agent(self, name: str) -> dict[str, Any]:
        agent = self._workflow.agents.get(name)
        if agent is None:
            return {}
        return {
            "agent": agent.model_dump(
                mode="json", exclude_none=True, exclude=set(_AGENT_EXECUTION_ONLY)
            ),
            "providers": self._providers(agent),
            "tools": {
                tool: self._workflow.tools[tool].model_dump(
                    mode="json", exclude_none=True, exclude={"headers"}
                )
                for tool in agent.tools
                if tool in self._workflow.tools
            },
        }

    def _providers(self, agent: AgentSpec) -> dict[str, Any]:
        """Protocol and base URL of each provider the agent may use (never the key)."""
        found: dict[str, Any] = {}
        for reference in [agent.model, *agent.fallback_models]:
            name = reference.partition("/")[0]
            spec = self._workflow.providers.get(name)
            found[name] = None if spec is None else {"type": spec.type, "base_url": spec.base_url}
        return found


def _as_written(workflow: Workflow) -> dict[str, Any]:
    return workflow.model_dump(
        mode="json",
        by_alias=True,
        exclude_none=True,
        # Credentials are not what a run does: a rotated key or token reuses its work.
        exclude={"providers": {"__all__": {"api_key"}}, "tools": {"__all__": {"headers"}}},
    )


def _sub_workflows(workflow: Workflow) -> dict[str, Any]:
    """Each file a `uses:` of `workflow` names, as written, with the files it uses: a run
    whose sub-workflow was edited is not the run that ended (its edited steps run again)."""
    found: dict[str, Any] = {}
    for node in iter_steps(workflow):
        uses = node.spec.uses
        if uses is not None and uses not in found:
            child = workflow.sub_workflow(uses)
            found[uses] = {"workflow": _as_written(child), "uses": _sub_workflows(child)}
    return found


class Reuse:
    """This run's fingerprints, and the finished work of an earlier run it may reuse.

    The scheduler asks it for a fingerprint of every step (``step``) and item (``item``) as
    they start, and, before an agent or command task runs, whether the journal already holds
    its output (``finished``). Without an earlier run nothing is reused, but the fingerprints
    still go into the journal, so that this run can be resumed.
    """

    def __init__(
        self,
        workflow: Workflow,
        inputs: Mapping[str, Any] | None = None,
        previous: PreviousRun | None = None,
        *,
        mock: bool = False,
    ) -> None:
        self.fingerprints = Fingerprints(workflow, mock=mock)
        self.top = self.fingerprints.top(inputs or {})
        self.previous = previous
        self.reused = 0
        self._root = self  # a sub-workflow's counts its reuses in the run's
        self._mock = mock

    def for_sub_workflow(self, workflow: Workflow) -> Reuse:
        """The same earlier run, with the fingerprints of a sub-workflow's steps."""
        sub = Reuse(workflow, previous=self.previous, mock=self._mock)
        sub._root = self._root
        return sub

    def sub_scope(self, caller: str | None, inputs: Mapping[str, Any]) -> str:
        """The scope of one invocation of this Reuse's sub-workflow: the calling step's (or
        item's) fingerprint, and what every step of the child may read besides its needs:
        the inputs it was given and its env. Each child step adds its own definition (its
        file's agents, tools and providers with it), so editing one step of the child
        re-runs that step and what depends on it, nothing else."""
        return digest({"caller": caller, "top": self.fingerprints.top(inputs)})

    def step(
        self,
        spec: StepSpec,
        scope: str,
        context: Mapping[str, Any],
        records: Mapping[str, ExecRecord],
    ) -> str:
        """The fingerprint of ``spec`` in a scope whose finished siblings are ``records``."""
        needs: dict[str, tuple[str | None, str, Any]] = {}
        for name in spec.needs:
            need = records.get(name)
            if need is None:
                needs[name] = (None, "pending", None)
            else:
                status = need.status
                output = need.output if status == "succeeded" else None
                needs[name] = (need.fingerprint, status, output)
        return self.fingerprints.step(spec, scope, context.get("loop"), needs)

    def item(self, step: ExecRecord, item: ItemRecord) -> str:
        return self.fingerprints.item(step.fingerprint or "", item.index, item.item)

    def finished(self, key: JournalKey, fingerprint: str | None, *, item: bool) -> Finished | None:
        """The earlier run's output for this task (a for_each item's when ``item``), if it
        succeeded with the same fingerprint."""
        if self.previous is None or fingerprint is None:
            return None
        entry = self.previous.reusable(key, fingerprint, item=item)
        if entry is not None:
            self._root.reused += 1
        return entry


# ---------------------------------------------------------------------------- the journal


@dataclass(frozen=True, slots=True)
class Finished:
    """One execution the journal says succeeded."""

    output: Any
    fingerprint: str | None


class PastCall(NamedTuple):
    """A model call of an earlier segment: answered (by the provider or the cache) or failed
    (it counts as a call, with the tokens of a malformed reply that told them)."""

    step: str  # the workflow step (`fan`, `group.child`), not the run path
    agent: str | None
    model: str  # `<provider>/<model>`
    tokens_in: int
    tokens_out: int
    cost: float
    cached: bool


@dataclass(slots=True)
class Segment:
    """One process's share of a run, from its start event to its last event.

    ``calls`` are the calls a provider answered (no cache hit), ``failed`` the others it was
    sent; ``tokens`` and ``cost`` are those of both (a failed call has none, but a malformed
    reply that told its usage), as the cost report and the limits count them.
    """

    started: str  # ISO-8601 time of its start event
    resumed: bool
    finished: str = ""  # ISO-8601 time of its last event
    status: str | None = None  # its run_finished verdict; None: the process was killed
    reason: str | None = None
    calls: int = 0
    failed: int = 0
    tokens: int = 0
    cost: float = 0.0
    reused: int = 0

    @property
    def sent(self) -> int:
        """Its calls a provider was sent, answered or failed: LLM calls, as every count
        of them counts (docs/cost-control.md)."""
        return self.calls + self.failed


@dataclass(slots=True)
class PreviousRun:
    """What an earlier run (all its segments, if it was resumed before) left in its journal."""

    run_id: str
    run_dir: Path
    status: str | None  # the last segment's verdict: passed, failed, interrupted; None: killed
    fingerprint: str | None  # the run's fingerprint when its last segment started
    inputs: dict[str, Any]
    finished: dict[_Done, Finished] = field(default_factory=dict)  # steps'
    items: dict[_Done, Finished] = field(default_factory=dict)  # for_each items'
    last_seq: int = 0
    segments: list[Segment] = field(default_factory=list)
    calls: list[PastCall] = field(default_factory=list)  # for the run's cost report
    unreadable: list[int] = field(default_factory=list)  # journal lines that held no event
    # The journal records the end of a run that passed, but report.json is not its report
    # (lost after the run): the resumed run makes it, reusing every task.
    report_lost: bool = False

    def spent(self) -> Spent:
        """What every segment so far used, as ``limits`` count it."""
        segments = self.segments
        return Spent(
            calls=sum(s.sent for s in segments),
            tokens=sum(s.tokens for s in segments),
            cost_usd=sum(s.cost for s in segments),
        )

    def note(self) -> str | None:
        """What reading the journal passed over, and why a passed run runs again, said as
        the resumed run starts."""
        notes = [self._unreadable_note(), self._lost_note()]
        return "; ".join(note for note in notes if note) or None

    def _unreadable_note(self) -> str | None:
        lines = self.unreadable
        journal = self.run_dir / JOURNAL
        if not lines:
            return None
        if len(lines) == 1:
            return (
                f"{journal}: line {lines[0]} holds no event (not UTF-8, not JSON, or not an "
                "object with an event's fields) or repeats an earlier line's event number; "
                "passed over"
            )
        shown = ", ".join(map(str, lines[:3])) + (", ..." if len(lines) > 3 else "")
        return f"{journal}: {len(lines)} lines hold no event (lines {shown}); passed over"

    def _lost_note(self) -> str | None:
        if not self.report_lost:
            return None
        return (
            f"run {self.run_id} passed, but its report.json was not written (the process was "
            "killed, or the disk was full): this resume makes its reports again from the "
            "journal, reusing every task"
        )

    def reusable(self, key: JournalKey, fingerprint: str, *, item: bool) -> Finished | None:
        """The finished entry for ``key`` (a for_each item's when ``item``) when it was made
        with the same fingerprint."""
        return (self.items if item else self.finished).get((*key, fingerprint))


def load_previous_run(run_dir: Path) -> PreviousRun:
    """Read ``run_dir``'s journal; a run with none (or an empty one) cannot be resumed."""
    journal = run_dir / JOURNAL
    if not journal.is_file() or journal.stat().st_size == 0:
        raise UsageError(f"{run_dir} has no events.jsonl to resume from (was it ever started?)")
    previous = PreviousRun(run_dir.name, run_dir, None, None, {})
    for event in read_events(journal, previous.unreadable):
        _record(previous, event)
    if previous.last_seq == 0:
        raise UsageError(f"{journal} holds no readable event to resume from")
    return previous


def _record(previous: PreviousRun, entry: Entry) -> None:
    event, stamp = entry.event, entry.ts
    previous.last_seq = max(previous.last_seq, entry.seq)
    if isinstance(event, events.SegmentStarted):
        previous.run_id = entry.run_id or previous.run_id
        previous.status = None
        previous.fingerprint = event.fingerprint
        previous.inputs = dict(event.inputs or {})
        previous.segments.append(Segment(stamp, resumed=isinstance(event, events.RunResumed)))
    segment = _segment(previous, stamp)
    segment.finished = stamp or segment.finished
    match event:
        case events.LlmCall():
            _count_call(previous, segment, event)
        case events.RunFinished():
            previous.status = segment.status = event.status
            segment.reason = event.reason
        case events.Succeeded() | events.Reused():
            done = (event.step, event.item, event.iteration, event.fingerprint)
            item = isinstance(event, events.ItemSucceeded | events.ItemReused)
            kept = previous.items if item else previous.finished
            kept[done] = Finished(event.output, event.fingerprint)
            if isinstance(event, events.Reused):
                segment.reused += 1


def _segment(previous: PreviousRun, stamp: str) -> Segment:
    """The segment an event belongs to (a journal cut before its start event gets one)."""
    if not previous.segments:
        previous.segments.append(Segment(stamp, resumed=False))
    return previous.segments[-1]


def _count_call(previous: PreviousRun, segment: Segment, call: events.LlmCall) -> None:
    # A failed call has no tokens nor cost, but a malformed reply that told its usage.
    tokens_in, tokens_out = call.tokens_in or 0, call.tokens_out or 0
    cost, cached = float(call.cost or 0.0), bool(call.cached)
    if call.error is not None:
        segment.failed += 1
    elif not cached:  # a cache hit reached no provider: the limits do not count it
        segment.calls += 1
    segment.tokens += tokens_in + tokens_out
    segment.cost += cost
    model = f"{call.provider}/{call.model}"
    previous.calls.append(
        PastCall(step_of(call.step), call.agent, model, tokens_in, tokens_out, cost, cached)
    )


def step_of(path: str) -> str:
    """The workflow step a run path belongs to: ``fan[2].child`` -> ``fan.child``."""
    return _ITEM_INDEX.sub("", path)


_ITEM_INDEX = re.compile(r"\[\d+\]")


@dataclass(frozen=True, slots=True)
class Resumption:
    """The run ``--resume`` named, and the inputs its resumed segment gets."""

    previous: PreviousRun
    inputs: dict[str, Any]
    unchanged: bool
    """Neither the workflow nor the inputs changed since the run's last segment started."""

    @property
    def ended(self) -> bool:
        """The journal records the end of the run's last segment (passed or failed, not
        killed), and nothing changed since: there is no new work, at most lost reports."""
        return self.unchanged and self.previous.status in _ENDED


_ENDED = frozenset({"passed", "failed"})


def prepare_resume(
    reference: str,
    runs_dir: Path,
    workflow: Workflow,
    pairs: Sequence[str] = (),
    inputs_file: Path | None = None,
    given: Mapping[str, Any] | None = None,
    *,
    mock: bool = False,
) -> Resumption | None:
    """The run to resume and the inputs of the resumed run; None when ``reference`` is
    ``latest`` and this workflow has no earlier run (the caller starts a new one).

    Inputs default to the earlier run's (as its journal recorded them; a masked secret reads
    as masked); ``--inputs-file``, given values and ``-i`` override them, in that order.
    """
    if reference == LATEST:
        found = latest_run_of(workflow.name, runs_dir)
        if found is None:
            return None
    else:
        found = find_run(reference, runs_dir)
        _check_workflow(found, workflow)
    previous = load_previous_run(found)
    earlier = {name: value for name, value in previous.inputs.items() if name in workflow.inputs}
    from_file = read_inputs_file(inputs_file) if inputs_file is not None else {}
    inputs = resolve_inputs(workflow.inputs, pairs, None, {**earlier, **from_file, **(given or {})})
    unchanged = previous.fingerprint == Fingerprints(workflow, mock=mock).run(inputs)
    return Resumption(previous, inputs, unchanged)


def _check_workflow(run_dir: Path, workflow: Workflow) -> None:
    """A run is resumed by the workflow that ran it (by name, as ``latest`` finds it): another
    workflow would reuse nothing and write its reports over that run's."""
    ran = workflow_of(run_dir)
    if ran is not None and ran != workflow.name:
        raise UsageError(
            f"{run_dir} is a run of workflow {ran!r}, not of {workflow.name!r}: resume it with "
            "the workflow that ran it, or leave out --resume to start a new run"
        )


def final_report(previous: PreviousRun) -> dict[str, Any] | None:
    """The run directory's report.json, as data, when it is the report of the journal's last
    segment (same run, same verdict, as many segments); None when it is missing, unreadable,
    a checkpoint or an earlier segment's. Read as JSON only: the report model, which takes a
    tenth of a second per 3,000 items, reads it when files are to be made from it."""
    try:
        data = orjson.loads((previous.run_dir / REPORT_FILE).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    final = (
        isinstance(data, dict)
        and data.get("run_id") == previous.run_id
        and data.get("status") == previous.status
        and isinstance(data.get("segments"), list)
        and len(data["segments"]) == len(previous.segments)
    )
    return data if final else None
