"""Every problem in loaded workflow data: model errors, then the rules the models cannot see.

The semantic rules (codes E3xx graph, E4xx references, W5xx warnings; docs/errors.md) run on
the Workflow when it validates. When it does not, they run on what can be salvaged: every
agent, tool, input and step that validates on its own, with the names of the rest still
known, so one run reports every problem without echoing the model errors.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from functools import lru_cache
from itertools import chain, islice
from typing import Any, Literal, NamedTuple

from pydantic import TypeAdapter, ValidationError

from agnoctl.spec import dag
from agnoctl.spec.attachments import is_templated
from agnoctl.spec.diagnostics import Diagnostic, Severity, did_you_mean
from agnoctl.spec.loader import PathKey, SourceMap
from agnoctl.spec.mcp_checks import check_mcp_tool
from agnoctl.spec.model_errors import data_path, model_diagnostics, path_text
from agnoctl.spec.models import (
    APPROVAL_OUTPUT_SCHEMA,
    ID_PATTERN,
    MAX_OUTPUT_STEM,
    AgentSpec,
    InputSpec,
    JudgeGate,
    ProviderSpec,
    StepSpec,
    ThresholdGate,
    ToolDef,
    Workflow,
    output_stem,
    price_names,
)
from agnoctl.spec.refs import (
    MAPPING_METHODS,
    Access,
    Key,
    Reads,
    TemplateSyntaxProblem,
    UnknownName,
    reads,
    uncalled_methods,
)
from agnoctl.spec.resource_checks import check_resources

BUILTIN_PROVIDERS = frozenset({"openai", "anthropic", "ollama", "mock"})
# How a provider entry reads a reply: settings a mock entry has no use for (W530).
_READING_FIELDS = frozenset({"stream", "stall_timeout", "max_response_bytes"})
STEP_ATTRIBUTES = frozenset({"output", "status", "results", "error"})
_GLOBAL_ROOTS = frozenset({"inputs", "env", "run", "workflow"})
_ALL_ROOTS = _GLOBAL_ROOTS | {"steps", "item", "index", "loop", "output", "args"}
_ID = re.compile(ID_PATTERN)
_SMALL_POOL = 200
_LISTED = 8  # names shown in a hint that lists choices
# Filters that Liquid and Django templates spell differently, and that spelling does not
# bring close enough to Jinja2's name for a did-you-mean.
_JINJA_NAMES = {
    "upcase": "upper",
    "downcase": "lower",
    "size": "length",
    "strip": "trim",
    "where": "selectattr",
}


def check_data(data: Any, source: SourceMap) -> tuple[Workflow | None, list[Diagnostic]]:
    """The Workflow (None when the models reject the data) and every problem found."""
    try:
        workflow = Workflow.model_validate(data)
    except ValidationError as exc:
        diagnostics = model_diagnostics(exc.errors(include_url=False), data, source)
        salvaged = _salvage(data)
        if salvaged is not None:
            diagnostics += _Checker(salvaged, source).run()
        return None, diagnostics
    return workflow, _Checker(_Spec(workflow), source).run()


# ---------------------------------------------------------------------------- salvage


class _Spec:
    """The workflow to check, and the names of parts that exist but did not validate.

    A plain class: a dataclass's generated methods are compiled at every start-up."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.broken_steps: set[str] = set()
        # Steps whose only errors were unknown fields: checked without them, but, like broken
        # ones, not trusted to tell what the workflow leaves unused (a misspelt `gate:` names
        # a judge agent).
        self.trimmed_steps: set[str] = set()
        self.broken_names: dict[str, set[str]] = {}

    def known(self, section: str, name: str) -> bool:
        """Whether `name` exists in `section` (valid or not)."""
        present: Mapping[str, Any] = getattr(self.workflow, section)
        return name in present or name in self.broken_names.get(section, set())

    def names(self, section: str) -> set[str]:
        """Every name in `section` (valid or not): what a did-you-mean may suggest."""
        return set(getattr(self.workflow, section)) | self.broken_names.get(section, set())


def _salvage(data: Any) -> _Spec | None:
    if not isinstance(data, dict):
        return None
    spec = _Spec(Workflow.model_construct(steps={}))
    parts: dict[str, Any] = {}
    for section, model in (
        ("agents", AgentSpec),
        ("inputs", InputSpec),
        ("providers", ProviderSpec),
    ):
        parts[section] = _valid_entries(data.get(section), spec, section, model.model_validate)
    parts["tools"] = _valid_entries(data.get("tools"), spec, "tools", _tool)
    for section in ("env", "outputs"):
        raw = data.get(section)
        parts[section] = (
            {k: v for k, v in raw.items() if isinstance(v, str)} if isinstance(raw, dict) else {}
        )
    raw_steps = data.get("steps")
    parts["steps"] = _salvage_steps(raw_steps, "", spec) if isinstance(raw_steps, dict) else {}
    spec.workflow = Workflow.model_construct(**parts)
    return spec


def _tool(raw: Any) -> Any:
    if isinstance(raw, dict) and "type" not in raw:
        raw = {"type": "command", **raw}
    return _tool_adapter().validate_python(raw)


@lru_cache(maxsize=1)
def _tool_adapter() -> TypeAdapter[Any]:
    """The validator of one `tools:` entry, built when an invalid workflow's tools are
    salvaged for its diagnostics: a valid workflow is validated whole by `Workflow`."""
    return TypeAdapter(ToolDef)


def _valid_entries(raw: Any, spec: _Spec, section: str, validate: Any) -> dict[str, Any]:
    valid: dict[str, Any] = {}
    if not isinstance(raw, dict):
        return valid
    for name, value in raw.items():
        try:
            valid[name] = validate(value)
        except ValidationError as exc:
            spec.broken_names.setdefault(section, set()).add(name)
            trimmed = _trimmed(value, exc, _SETTINGS.get(section, frozenset()))
            if trimmed is not None:
                with suppress(ValidationError):
                    valid[name] = validate(trimmed)
    return valid


# Per section, the fields no other check reads (nothing refers to them, they bring no names
# into a template's scope): one that does not validate can be left out and the rest checked.
_SETTINGS = {
    "steps": frozenset(
        {
            "cache",
            "continue_on_error",
            "cwd",
            "max_concurrency",
            "on_gate_failure",
            "priority",
            "resources",
            "retry",
            "success_threshold",
            "tags",
            "timeout",
        }
    ),
    "agents": frozenset(
        {
            "cache",
            "description",
            "max_attachment_bytes",
            "max_concurrency",
            "max_tokens",
            "max_tool_calls",
            "temperature",
        }
    ),
    "providers": frozenset(
        {
            "circuit_breaker",
            "max_concurrency",
            "max_response_bytes",
            "pricing",
            "rate_limit",
            "stall_timeout",
            "stream",
        }
    ),
    "tools": frozenset({"description", "max_output_chars", "timeout"}),
    "inputs": frozenset({"description"}),
}


# Fields that decide what a template may read or brings into its scope: the entry of a
# misspelling of one (`need:`, `for_eacn:`) is not checked without it.
_SCOPING = ("needs", "for_each", "loop", "steps", "output_schema", "tools", "parameters", "uses")


def _trimmed(value: Any, exc: ValidationError, settings: frozenset[str]) -> Any:
    """``value`` without what its errors are about, when each is an unknown field (a typo
    such as `temperatur:`) or one of ``settings`` (`timeout: forever`), else None. The rest is
    what the author wrote, and is checked: a messy file's misspelt field or bad timeout must
    not hide the unknown agent or provider beside it."""
    errors = exc.errors(include_url=False)
    if not isinstance(value, dict):
        return None
    trimmed = copy.deepcopy(value)
    for error in errors:
        path, _ = data_path(error["loc"], trimmed)
        if error["type"] == "extra_forbidden" and path and did_you_mean(str(path[-1]), _SCOPING):
            return None  # `need: [a]` left out would make its reads of steps.a errors too
        if error["type"] != "extra_forbidden":
            if not path or path[0] not in settings:
                return None
            path = path[:1]  # the whole setting
        parent: Any = trimmed
        for key in path[:-1]:
            parent = parent[key]
        if path and isinstance(parent, dict):
            parent.pop(path[-1], None)
    return trimmed


def _mark_trimmed(step: StepSpec, path: str, spec: _Spec) -> None:
    spec.trimmed_steps.add(path)
    for child_id, child in (step.steps or {}).items():
        _mark_trimmed(child, dag.join_path(path, child_id), spec)


def _salvage_steps(raw: dict[str, Any], prefix: str, spec: _Spec) -> dict[str, StepSpec]:
    steps: dict[str, StepSpec] = {}
    for step_id, value in raw.items():
        if not isinstance(step_id, str):
            continue  # the models report it; ids from a file are always strings
        path = dag.join_path(prefix, step_id)
        try:
            steps[step_id] = StepSpec.model_validate(value)
            continue
        except ValidationError as exc:
            trimmed = _trimmed(value, exc, _SETTINGS["steps"])
        if trimmed is not None:
            try:
                steps[step_id] = StepSpec.model_validate(trimmed)
                _mark_trimmed(steps[step_id], path, spec)
                continue
            except ValidationError:
                pass
        spec.broken_steps.add(path)
        # Keep what the graph needs: the step's needs and its children.
        fields = value if isinstance(value, dict) else {}
        needs = fields.get("needs")
        children = fields.get("steps")
        steps[step_id] = StepSpec.model_construct(
            needs=[n for n in needs if isinstance(n, str)] if isinstance(needs, list) else [],
            steps=_salvage_steps(children, path, spec) if isinstance(children, dict) else None,
        )
    return steps


# ---------------------------------------------------------------------------- checker


class _Scope(NamedTuple):
    """Where a template is read, and so which names it may use."""

    reader: str | None = None
    """The step path whose needs bound `steps.X` reads; None when any step may be read."""
    roots: frozenset[str] = _GLOBAL_ROOTS | {"steps"}
    loop_group: str | None = None
    """The innermost enclosing loop group, for `loop.previous.<child>`."""
    reads_own_children: bool = False
    """A loop's `until` may read the group's own children."""
    args: frozenset[str] | None = None
    """Argument names of a command tool (None: not known, any is accepted)."""
    output_schema: dict[str, Any] | None = None
    """The schema `output` follows in a gate expression (the step's, else its agent's)."""
    output_uses: str | None = None
    """The `uses:` of the step a gate expression checks: `output` is that file's outputs."""
    before_items: bool = False
    """A for_each step's own `if` or `for_each`: evaluated once, before there are items."""


class _Read(NamedTuple):
    """One name a template reads (``access``), where the template stands in the file, and
    the reads it guards (`x is defined`, `x | default(...)`): a guarded read of a field a
    schema lacks is a warning, not an error."""

    path: tuple[PathKey, ...]
    access: Access
    guarded: tuple[Access, ...] = ()


_STEP_CONTEXT_ROOTS = frozenset({"steps", "item", "index", "loop"})
"""Names whose meaning depends on the step a template renders for (an agent's, for each step
that uses the agent)."""

_SAID_ONCE = frozenset({"E406"})
"""Codes reported once per message, at their first place: the message names the whole fix."""


class _Checker:
    def __init__(self, spec: _Spec, source: SourceMap) -> None:
        self.spec = spec
        self.workflow = spec.workflow
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self._reported: dict[object, int] = {}  # what was said -> where in `diagnostics`
        self._closures: dict[str, dag.NeedsClosure] = {}
        self._nodes = list(_walk_steps(self.workflow.steps))
        self._suggestion_budget = 100

    def run(self) -> list[Diagnostic]:
        self._check_graph(self.workflow.steps, "")
        for node in self._nodes:
            if node.path not in self.spec.broken_steps:
                self._check_step(node)
        self._check_agents()
        self._check_tools()
        self._check_providers()
        self._check_pricing()
        self._check_inputs()
        for name, text in self.workflow.outputs.items():
            self._check_template(("outputs", name), text, False, _Scope())
        self._check_output_files()
        self._check_unused()
        return self.diagnostics

    def report(
        self,
        path: Sequence[PathKey],
        code: str,
        message: str,
        hint: str | None = None,
        *,
        severity: Severity = "error",
        at_key: bool = False,
        access: Access | None = None,
    ) -> None:
        """Add a diagnostic at `path` (its key with `at_key`), or at what `access` read."""
        if access is not None:
            where = self.source.text_position(path, access.line, access.text)
        else:
            where = self.source.key_position(path) if at_key else self.source.position(path)
        found = Diagnostic(self.source.file, *where, severity, code, message, hint)
        # One problem, said once (at its first place in the file): a template that reads the
        # same thing twice, or a step that reads a step it does not need in its prompt, its
        # `if` and its gates (one fix).
        key = (code, message) if code in _SAID_ONCE else found
        said = self._reported.get(key)
        if said is None:
            self._reported[key] = len(self.diagnostics)
            self.diagnostics.append(found)
        elif found.sort_key() < self.diagnostics[said].sort_key():
            self.diagnostics[said] = found

    # -------------------------------------------------------------------- graph

    def _check_graph(
        self, steps: Mapping[str, StepSpec], prefix: str, base: tuple[PathKey, ...] = ()
    ) -> None:
        """Ids, needs and cycles of one `steps` map (at data path `base`), then its groups'."""
        for step_id, spec in steps.items():
            if not _ID.match(step_id) or step_id in dag.RESERVED_IDS:  # _check_id's tests
                self._check_id(step_id, (*base, "steps", step_id))
            for index, need in enumerate(spec.needs):
                if need not in steps:
                    where = (*base, "steps", step_id, "needs", index)
                    self._unknown_need(steps, prefix, step_id, need, where)
            if spec.steps:
                self._check_graph(
                    spec.steps, dag.join_path(prefix, step_id), (*base, "steps", step_id)
                )
        if not self._closure(prefix).has_cycle:
            return
        for cycle in dag.find_cycles(dag.sibling_graph(steps, prefix)):
            first, second = (path.removeprefix(prefix).lstrip(".") for path in cycle[:2])
            self.report(
                (*base, "steps", second, "needs"),
                "E302",
                f"the needs form a cycle: {dag.format_cycle(cycle)}",
                f"remove `{first}` from the needs of `{cycle[1]}`, or another need of the cycle",
                at_key=True,
            )

    def _check_id(self, step_id: str, where: tuple[PathKey, ...]) -> None:
        if not _ID.match(step_id):
            self.report(
                where,
                "E304",
                f"step id {step_id!r} is not a valid name",
                "use a letter or _ then letters, digits or _ (templates read it as steps.<id>)",
                at_key=True,
            )
        elif step_id in dag.RESERVED_IDS:
            self.report(
                where,
                "E303",
                f"step id `{step_id}` is reserved: templates read it as an attribute "
                f"(steps.<id>.{step_id})",
                "rename the step",
                at_key=True,
            )

    def _unknown_need(
        self,
        steps: Mapping[str, StepSpec],
        prefix: str,
        step_id: str,
        need: str,
        path: tuple[PathKey, ...],
    ) -> None:
        head = need.partition(".")[0]
        if "." in need and head in steps:
            self.report(
                path,
                "E301",
                f"`needs` names sibling steps only, not `{need}`",
                f"need the group `{head}`; its children finish with it",
            )
            return
        siblings = [s for s in islice(steps, _LISTED + 1) if s != step_id]
        hint: str | None = f"sibling steps: {_some(siblings, len(steps) - 1)}" if siblings else None
        guess = self.suggest(need, steps)
        if guess and guess != step_id:
            hint = f"did you mean `{guess}`?"
        elif (outside := self._outside_hint(prefix, need)) is not None:
            hint = outside
        self.report(path, "E300", f"`needs` names an unknown step `{need}`", hint)

    def _outside_hint(self, prefix: str, need: str) -> str | None:
        """What to do about a child's need that is a sibling of its group (or of a group
        around it): need it from that group, unless the group already does."""
        group = prefix
        while group:
            parent = group.rpartition(".")[0]
            if need in dag.step_map(self.workflow, parent):
                spec = dag.find_step(self.workflow, group)
                if spec is not None and need in spec.needs:
                    return (
                        f"`{need}` is outside the group `{group}`, which needs it already: its "
                        f"children start after `{need}` and may read steps.{need}; remove it here"
                    )
                return f"`{need}` is outside the group `{group}`: add it to the group's own needs"
            group = parent
        return None

    def suggest(self, word: str, choices: Collection[str]) -> str | None:
        """The closest choice to `word`, if close. Comparing a typo with thousands of names is
        slow, so large pools are narrowed by length and get a limited number of suggestions."""
        if len(choices) > _SMALL_POOL:
            if self._suggestion_budget <= 0:
                return None
            self._suggestion_budget -= 1
            choices = [c for c in choices if abs(len(c) - len(word)) <= 2][:_SMALL_POOL]
        return did_you_mean(word, choices)

    def _closure(self, prefix: str) -> dag.NeedsClosure:
        closure = self._closures.get(prefix)
        if closure is None:
            closure = self._closures[prefix] = dag.NeedsClosure(dag.step_map(self.workflow, prefix))
        return closure

    def may_read(self, reader: str, target: str) -> bool:
        """Whether the step at `reader` may read `steps.<target>` (SPEC: transitive needs)."""
        if "." not in reader and "." not in target:  # top-level steps: the common case
            return reader != target and self._closure("").reaches(target, reader)
        r, t = reader.split("."), target.split(".")
        common = 0
        while common < min(len(r), len(t)) and r[common] == t[common]:
            common += 1
        if common in (len(r), len(t)):
            return False  # the step itself, an enclosing group or a child of its own
        return self._closure(".".join(r[:common])).reaches(t[common], r[common])

    # -------------------------------------------------------------------- steps

    def _check_step(self, node: _Node) -> None:
        spec, base = node.spec, node.data
        if spec.agent is not None and not self.spec.known("agents", spec.agent):
            guess = self.suggest(spec.agent, self.spec.names("agents"))
            self.report(
                (*base, "agent"),
                "E400",
                f"unknown agent `{spec.agent}`",
                f"did you mean `{guess}`?" if guess else "define it under `agents`",
            )
        outer = _Scope(node.path, node.roots, node.loop_group)
        # Most steps add no names of their own: their body reads what their `if` reads.
        inner = outer._replace(roots=node.roots | node.own_roots) if node.own_roots else outer
        own = outer._replace(before_items=True) if spec.for_each is not None else outer
        if spec.if_ is not None:
            self._check_template((*base, "if"), spec.if_, True, own)
        if isinstance(spec.for_each, str):
            found = self._check_template((*base, "for_each"), spec.for_each, True, own)
            if found is not None and found.literal:
                self._check_literal_for_each((*base, "for_each"), spec.for_each)
        elif spec.for_each is not None:
            self._check_unrendered((*base, "for_each"), spec.for_each, "for_each")
        if spec.prompt is not None:
            self._check_template((*base, "prompt"), spec.prompt, False, inner)
            self._check_anthropic_output(node)
        if spec.attachments:
            agent = self.workflow.agents.get(spec.agent or "")
            after_others = self._after_others(node)
            for index, entry in enumerate(spec.attachments):
                where = (*base, "attachments", index)
                self._check_attachment(where, entry, inner, agent, after_others)
        for index, arg in enumerate(spec.run or []):
            self._check_template((*base, "run", index), arg, False, inner)
        for name, value in (spec.env or {}).items():
            self._check_template((*base, "env", name), value, False, inner)
        if spec.cwd is not None:
            self._check_template((*base, "cwd"), spec.cwd, False, inner)
        for name, value in (spec.with_ or {}).items():
            if isinstance(value, str):  # a sub-workflow's input, rendered in this step's context
                self._check_template((*base, "with", name), value, False, inner)
            else:
                self._check_unrendered((*base, "with", name), value, f"with.{name}")
        if spec.approval is not None:
            self._check_approval(node, inner)
        if spec.loop is not None and spec.loop.until is not None:
            until = _Scope(
                reader=node.path,
                roots=inner.roots | {"loop"},
                loop_group=node.path,
                reads_own_children=True,
            )
            self._check_template((*base, "loop", "until"), spec.loop.until, True, until)
        if spec.gates:
            self._check_gates(node, inner)
        elif spec.on_gate_failure is not None:
            self._check_gateless(node)
        users = [spec.agent] if spec.agent is not None else []
        users += [gate.agent for gate in spec.gates or () if isinstance(gate, JudgeGate)]
        for name in dict.fromkeys(users):
            self._check_agent_context(name, inner)
        if spec.output_schema is not None:
            self._check_json_schema((*base, "output_schema"), spec.output_schema)
        for problem in check_resources(base, spec):
            self.report(
                problem.path, problem.code, problem.message, problem.hint, at_key=problem.at_key
            )

    def _check_unrendered(self, path: tuple[PathKey, ...], value: Any, field: str) -> None:
        """E423: a template inside a list or map of `with:` or a literal `for_each` list. Only
        a whole string value is rendered; one inside would be passed on as its text, `{{`
        and all, and the step would run on it without a word."""
        for where, text in _nested_strings(path, value):
            if "{{" not in text and "{%" not in text:
                continue
            hint = (
                "write the list as an expression, which is evaluated: for_each: \"[inputs.a, 'b']\""
                if field == "for_each"
                else f"write the whole `{field}` as one template, which keeps its type: "
                f"{field.removeprefix('with.')}: \"{{{{ [inputs.a, 'b'] }}}}\""
            )
            self.report(
                where,
                "E423",
                f"`{path_text(where)}`: a template inside a "
                f"{'literal for_each list' if field == 'for_each' else 'list or map'} is not "
                "rendered: the step would get its text, braces and all",
                hint,
            )

    def _check_agent_context(self, name: str, scope: _Scope) -> None:
        """An agent's instructions and templated attachments render in the context of each
        step that uses it (or judges with it): what they read of it that differs from step to
        step (`steps.X`, `item`, `index`, `loop`) must be there for this step, as its own
        templates' reads must. The rest was checked once, with the agent (_check_agents)."""
        agent = self.workflow.agents.get(name)
        if agent is None:
            return
        texts: list[tuple[tuple[PathKey, ...], str | None]]
        texts = [(("agents", name, "instructions"), agent.instructions)]
        texts += [
            (("agents", name, "attachments", index), entry)
            for index, entry in enumerate(agent.attachments or ())
            if is_templated(entry)
        ]
        for path, text in texts:
            if text is None:
                continue
            try:
                found = reads(text, False)
            except TemplateSyntaxProblem:
                continue  # said once, with the agent
            for access in found.accesses:
                if access.root in _STEP_CONTEXT_ROOTS:
                    self._check_access(_Read(path, access, found.guarded), scope)

    def _check_attachment(
        self,
        path: tuple[PathKey, ...],
        entry: str,
        scope: _Scope,
        agent: AgentSpec | None,
        after_others: bool,
    ) -> None:
        """A templated entry's reads, or what a static one names (attachment_checks) and
        whether the agent's model can take it."""
        if is_templated(entry):
            self._check_template(path, entry, False, scope)
            return
        # Only a workflow that names fixed files loads the file system checks (and glob).
        from agnoctl.spec.attachment_checks import check_static, check_taken

        root = agent.attachments_root if agent else None
        found = check_static(entry, root, after_others=after_others)
        if found is None and agent is not None:
            provider = agent.provider
            spec = self.workflow.providers.get(provider)
            found = check_taken(entry, agent.model, spec.type if spec else provider)
        if found is not None:
            self.report(path, found.code, found.message, found.hint, severity=found.severity)

    def _after_others(self, node: _Node) -> bool:
        """Whether other steps of the run may come before this one: it or a group around it
        has needs, or it is in a loop (an earlier iteration)."""
        if node.loop_group is not None:
            return True
        parts = node.path.split(".")
        for depth in range(1, len(parts) + 1):
            step = dag.find_step(self.workflow, ".".join(parts[:depth]))
            if step is not None and step.needs:
                return True
        return False

    def _check_approval(self, node: _Node, scope: _Scope) -> None:
        assert node.spec.approval is not None
        self._check_template(
            (*node.data, "approval", "message"), node.spec.approval.message, False, scope
        )
        if "." in node.path:
            # v1: a run stops `waiting` between its top-level steps; a decision inside a group
            # (or a loop's iteration) would leave the group neither finished nor failed.
            group = node.path.rsplit(".", 1)[0]
            self.report(
                (*node.data, "approval"),
                "E440",
                f"an approval step must be a top-level step, not inside the group `{group}`",
                "move it to the workflow's `steps`, and have the group (or its later "
                "children's group) need it",
                at_key=True,
            )

    def _check_gates(self, node: _Node, scope: _Scope) -> None:
        base = node.data
        schema = self._output_schema(node.spec)
        for index, gate in enumerate(node.spec.gates or []):
            path = (*base, "gates", index)
            if isinstance(gate, JudgeGate) and not self.spec.known("agents", gate.agent):
                guess = self.suggest(gate.agent, self.spec.names("agents"))
                self.report(
                    (*path, "agent"),
                    "E403",
                    f"unknown judge agent `{gate.agent}`",
                    f"did you mean `{guess}`?" if guess else "define it under `agents`",
                )
            elif isinstance(gate, ThresholdGate):
                self._check_threshold(path, gate, schema, node)
            elif gate.type == "schema" and schema is None and self._schema_known(node.spec):
                self.report(
                    (*path, "type"),
                    "E206",
                    f"`{path_text(path)}`: a `schema` gate checks the output against an "
                    "output_schema, and none applies to this step: it would fail every run",
                    "give the step (or its agent) an `output_schema`, or remove the gate",
                )
            elif gate.type == "expr":
                gate_scope = _Scope(
                    reader=scope.reader,
                    roots=scope.roots | {"output"},
                    loop_group=scope.loop_group,
                    output_schema=schema,
                    output_uses=node.spec.uses,
                )
                self._check_template((*path, "expr"), gate.expr, True, gate_scope)

    def _schema_known(self, spec: StepSpec) -> bool:
        """Whether the schema that applies to the step is known: not when its agent is
        unknown or broken (said elsewhere)."""
        return spec.agent is None or spec.agent in self.workflow.agents

    def _check_gateless(self, node: _Node) -> None:
        """`on_gate_failure` on a step with no gate to fail (no `gates`, and no output_schema
        implying a schema gate) would be silently ignored: fail closed."""
        spec = node.spec
        if not self._schema_known(spec) or self._output_schema(spec) is not None:
            return
        self.report(
            (*node.data, "on_gate_failure"),
            "E206",
            f"`{path_text(node.data)}`: `on_gate_failure` says what a failed gate does, and "
            "this step has no gate: no `gates`, and no `output_schema` (the step's or its "
            "agent's)",
            "add the gates it is meant for, or remove it (`defaults.on_gate_failure` sets it "
            "for every step that has gates)",
            at_key=True,
        )

    def _check_anthropic_output(self, node: _Node) -> None:
        """W532: on an anthropic model the output schema is the input_schema of a forced tool
        named `final_output` (providers/anthropic.py), which Anthropic refuses unless it is an
        object schema, and which an agent tool of that name collides with. The step would fail
        when it runs on that model; a warning, as W526, because a --mock rehearsal takes
        anything."""
        agent = self.workflow.agents.get(node.spec.agent or "")
        schema = self._output_schema(node.spec)
        if agent is None or schema is None or not self._on_anthropic(agent):
            return
        if schema.get("type") != "object":
            own = node.spec.output_schema is not None
            self.report(
                (*node.data, "output_schema")
                if own
                else ("agents", node.spec.agent or "", "output_schema"),
                "W532",
                "an anthropic model takes structured output only as an object schema "
                "(`type: object`): Anthropic refuses any other",
                "wrap it: `{type: object, required: [items], properties: {items: <this schema>}}`",
                severity="warning",
            )
        if _ANTHROPIC_OUTPUT_TOOL in agent.tools:
            self.report(
                (*node.data, "agent"),
                "W532",
                f"agent `{node.spec.agent}` has a tool named `{_ANTHROPIC_OUTPUT_TOOL}`, the name "
                "an anthropic model's structured output is asked for by",
                "rename the tool",
                severity="warning",
            )

    def _on_anthropic(self, agent: AgentSpec) -> bool:
        providers = self.workflow.providers
        for ref in (agent.model, *agent.fallback_models):
            name = ref.partition("/")[0]
            if (providers[name].type if name in providers else name) == "anthropic":
                return True
        return False

    def _output_schema(self, spec: StepSpec) -> dict[str, Any] | None:
        if spec.output_schema is not None:
            return spec.output_schema
        if spec.approval is not None:
            return APPROVAL_OUTPUT_SCHEMA
        agent = self.workflow.agents.get(spec.agent or "")
        return agent.output_schema if agent else None

    def _check_threshold(
        self,
        path: tuple[PathKey, ...],
        gate: ThresholdGate,
        schema: dict[str, Any] | None,
        node: _Node,
    ) -> None:
        if schema is None:
            # A valid agent without a schema replies text, and a command's stdout is text.
            if node.spec.agent in self.workflow.agents or node.spec.run is not None:
                self.report(
                    (*path, "field"),
                    "W502",
                    "a threshold gate reads structured output, but no output_schema "
                    "applies to this step",
                    "give the step or its agent an output_schema",
                    severity="warning",
                )
            return
        found = _schema_field(schema, gate.field.split("."))
        if isinstance(found, _Undeclared):
            message, proven, hint = found.message, found.state == "closed", self._guess(found)
        elif found is not None and (kinds := _types(found)) and not kinds & {"number", "integer"}:
            message = f"the output_schema types it as {'/'.join(sorted(kinds))}, not a number"
            proven, hint = True, None
        else:
            return
        self.report(
            (*path, "field"),
            "E413" if proven else "W503",
            f"threshold field `{gate.field}`: {message}",
            hint,
            severity="error" if proven else "warning",
        )

    def _guess(self, undeclared: _Undeclared) -> str | None:
        guess = self.suggest(undeclared.name, undeclared.choices)
        return f"did you mean `{guess}`?" if guess else None

    # -------------------------------------------------------------------- templates

    def _check_template(
        self, path: tuple[PathKey, ...], text: str, expression: bool, scope: _Scope
    ) -> Reads | None:
        """Check what a template reads; returns that, or None when it does not parse."""
        try:
            found = reads(text, expression)
        except TemplateSyntaxProblem as exc:
            lineno = exc.lineno or 1
            code = "E405" if expression else "E404"
            hint = (
                "an expression is written without braces, e.g. `steps.check.output.ok == true`"
                if expression
                else "check the {{ }} and {% %} pairs around this line"
            )
            self.report(
                path,
                code,
                f"{path_text(path)}: {exc.message}",
                hint,
                access=Access(exc.near or "", (), lineno),
            )
            return None
        for access in found.accesses:
            self._check_access(_Read(path, access, found.guarded), scope)
        for unknown in found.unknown:
            self._unknown_name(path, unknown)
        for change in found.changes:
            self.report(
                path,
                "E420",
                f"{path_text(path)}: templates may not modify values (`.{change.method}(...)`)",
                "build a new value instead (`a + [b]`, `dict(a, k=v)`, `{% set x = ... %}`)",
                access=Access(change.method, (), change.line),
            )
        if any(key in MAPPING_METHODS for access in found.accesses for key in access.keys):
            for method in uncalled_methods(text, expression):
                self.report(
                    path,
                    "E422",
                    f"{path_text(path)}: `.{method.method}` reads the map's method "
                    f"`{method.method}`, not a key named `{method.method}`",
                    f"read the key as `['{method.method}']`, or call the method: "
                    f"`.{method.method}()`",
                    access=Access(method.method, (), method.line),
                )
        for oversized in found.oversized:
            self.report(
                path,
                "E421",
                f"{path_text(path)}: {oversized.message}",
                "the run is sure to refuse it, failing the step: build a smaller value",
                access=Access(oversized.operator, (), oversized.line),
            )
        return found

    def _check_access(self, read: _Read, scope: _Scope) -> None:
        path, access = read.path, read.access
        if access.root not in scope.roots:
            self._bad_root(read, scope)
        elif access.root == "steps":
            self._check_step_read(read, scope)
        elif access.root in ("inputs", "env") and access.keys:
            self._check_name_read(read)
        elif access.root == "loop" and scope.loop_group is not None:
            self._check_loop_read(read, scope.loop_group)
        elif access.root == "output" and scope.output_schema is not None:
            self._check_fields(read, scope.output_schema, access.keys)
        elif access.root == "output" and scope.output_uses is not None:
            self._read_uses_output(read, scope.output_uses, access.keys)
        elif access.root == "args" and scope.args is not None and access.keys:
            key = access.keys[0]
            if isinstance(key, str) and key not in scope.args:
                guess = self.suggest(key, scope.args)
                self.report(
                    path,
                    "E416",
                    f"`args.{key}` is not a parameter of this tool",
                    f"did you mean `args.{guess}`?"
                    if guess
                    else "declare it under the tool's parameters.properties",
                    access=access,
                )

    def _bad_root(self, read: _Read, scope: _Scope) -> None:
        path, access = read.path, read.access
        name = access.root
        where = path_text(path)
        if name in ("item", "index") and scope.before_items:
            self.report(
                path,
                "E409",
                f"`{name}` is not defined in {where}: a for_each step's `if` and `for_each` "
                "are evaluated once, before there are items",
                "to leave items out, filter the list "
                "(`for_each: \"inputs.xs | select('gt', 1) | list\"`), or test each item in "
                "a child's `if` under a for_each group",
                access=access,
            )
        elif name in ("item", "index"):
            self.report(
                path,
                "E409",
                f"`{name}` is only defined in for_each steps ({where})",
                "add `for_each` to the step, or read the value another way",
                access=access,
            )
        elif name == "loop":
            self.report(
                path,
                "E410",
                f"`loop` is only defined inside a loop group ({where})",
                "move the step into a group with `loop:`",
                access=access,
            )
        elif name in _ALL_ROOTS:
            where_defined = {
                "output": "in gate expressions (`output`); elsewhere read steps.<id>.output",
                "args": "in a command tool's `run`",
                "inputs": "in step templates and outputs (a tool's `run` sees only `args`)",
                "env": "in step templates and outputs (a tool's `run` sees only `args`)",
                "steps": "in step templates and outputs",
            }.get(name, "in step templates")
            self.report(
                path,
                "E408",
                f"`{name}` is not defined in {where}",
                f"`{name}` is defined only {where_defined}",
                access=access,
            )
        else:
            guess = self.suggest(name, scope.roots)
            hint = (
                f"did you mean `{guess}`?"
                if guess
                else f"templates may read: {', '.join(sorted(scope.roots))}"
            )
            self.report(path, "E408", f"undefined name `{name}` in {where}", hint, access=access)

    def _check_name_read(self, read: _Read) -> None:
        path, access = read.path, read.access
        key = access.keys[0]
        if not isinstance(key, str) or key in MAPPING_METHODS:
            return
        section = access.root
        if self.spec.known(section, key):
            return
        declared = getattr(self.workflow, section)
        guess = self.suggest(key, declared)
        code, kind = ("E411", "input") if section == "inputs" else ("E412", "env entry")
        hint = f"did you mean `{section}.{guess}`?" if guess else f"declare it under `{section}:`"
        self.report(
            path, code, f"`{section}.{key}` reads an undeclared {kind}", hint, access=access
        )

    def _check_loop_read(self, read: _Read, group: str) -> None:
        path, access = read.path, read.access
        if len(access.keys) < 2 or access.keys[0] != "previous":
            return
        child = access.keys[1]
        children = dag.step_map(self.workflow, group)
        if not isinstance(child, str) or group in self.spec.broken_steps:
            return
        if child in children:
            # `loop.previous.<child>` is the child's output of the iteration before.
            after = ("output", *access.keys[2:])
            self._check_step_output(read, children[child], after)
            return
        guess = self.suggest(child, children)
        self.report(
            path,
            "E407",
            f"`loop.previous.{child}`: the loop group `{group}` has no step `{child}`",
            f"did you mean `{guess}`?" if guess else f"its steps: {_some(children)}",
            access=access,
        )

    def _check_step_read(self, read: _Read, scope: _Scope) -> None:
        path, access = read.path, read.access
        keys = access.keys
        # The commonest read, `steps.<need>.output` by a top-level step that needs <need>,
        # is allowed: what _resolve and _allowed find, without their walk (see
        # tests/spec/test_check_shortcuts.py).
        if len(keys) == 2 and keys[1] in STEP_ATTRIBUTES and keys[1] != "results":
            steps = self.workflow.steps
            reader, need = steps.get(scope.reader or ""), keys[0]
            if (
                reader is not None
                and need in reader.needs
                and need in steps
                and need != scope.reader
            ):
                return
        target, unknown = self._resolve(keys)
        if unknown is not None:
            self._unknown_step(path, unknown, access)
            return
        if target is None:
            return
        if scope.reader is not None and not self._allowed(scope, target):
            self.report(
                path,
                "E406",
                f"`steps.{target}` is read by step `{scope.reader}`, but is not among its needs",
                self._needs_hint(scope.reader, target),
                access=access,
            )
        elif "." in target and (fanned := self._fanned_out(scope.reader, target)) is not None:
            self._per_item_child(read, fanned, target)
        elif target not in self.spec.broken_steps:
            after = keys[target.count(".") + 1 :]
            if len(after) < 2 and after != ("results",):
                return
            spec = dag.find_step(self.workflow, target)
            if spec is None:
                return
            if after[0] == "results" and spec.for_each is None:
                self._no_results(read, target)
            elif len(after) > 1:
                self._check_step_output(read, spec, after)

    def _fanned_out(self, reader: str | None, target: str) -> str | None:
        """The for_each group around `target` that `reader` is outside of, if any: each item
        of such a group has its own children, so from outside there is no one `target`."""
        parts = target.split(".")
        for depth in range(1, len(parts)):
            group = ".".join(parts[:depth])
            spec = dag.find_step(self.workflow, group)
            inside = reader is not None and (reader == group or reader.startswith(group + "."))
            if spec is not None and spec.for_each is not None and not inside:
                return group
        return None

    def _per_item_child(self, read: _Read, group: str, target: str) -> None:
        rest = target.removeprefix(group + ".")
        self.report(
            read.path,
            "E407",
            f"`steps.{target}`: `{group}` is a for_each group, so each of its items has its "
            f"own `{rest}`",
            f"read one item's as steps.{group}.output[0].{rest}, or all of them from "
            f"steps.{group}.output",
            access=read.access,
        )

    def _no_results(self, read: _Read, target: str) -> None:
        """SPEC: `.results` is a for_each step's list of items; a step without for_each has
        none, and the read would give null at run time, whatever the step did."""
        self.report(
            read.path,
            "E407",
            f"`steps.{target}.results`: step `{target}` has no for_each, so no results",
            f"read steps.{target}.output (or .status, .error)",
            access=read.access,
        )

    def _check_step_output(self, read: _Read, spec: StepSpec, after: tuple[Key, ...]) -> None:
        """Check the output fields read in `after`, the keys that follow `steps.<step>`."""
        # A for_each step's `output` and `results` are lists: one item's output follows the schema.
        itemised = spec.for_each is not None
        indexed = itemised and len(after) > 2 and not isinstance(after[1], str)  # `output[0].`
        if after[0] == "output" and not itemised:
            fields = after[1:]
        elif indexed and after[0] == "output":
            fields = after[2:]
        elif indexed and after[0] == "results" and after[2] == "output":
            fields = after[3:]
        else:
            return
        if spec.uses is not None:
            self._read_uses_output(read, spec.uses, fields)
            return
        schema = self._output_schema(spec)
        if schema is not None:
            self._check_fields(read, schema, fields)

    def _read_uses_output(self, read: _Read, uses: str, keys: tuple[Key, ...]) -> None:
        """Keep a read of a `uses` step's output field (`keys`) for check_output_reads: the
        child's `outputs` are known once its file is read, after this file's checks."""
        names = _field_names(keys)
        if not names or read.access in read.guarded:
            return
        written = _written(read.access, len(read.access.keys) - len(keys) + 1)
        found = OutputRead(read.path, read.access, names[0], written)
        self.workflow._output_reads.setdefault(uses, []).append(found)

    def _check_fields(self, read: _Read, schema: dict[str, Any], keys: tuple[Key, ...]) -> None:
        """Report a field of a step's output that `schema` does not have, read at `keys`."""
        found = _schema_field(schema, _field_names(keys))
        if not isinstance(found, _Undeclared) or found.state == "admitted":
            return
        path, access = read.path, read.access
        # A closed schema makes the read certain to fail, unless the template guards it.
        proven = found.state == "closed" and access not in read.guarded
        self.report(
            path,
            "E418" if proven else "W504",
            f"`{_written(access, len(access.keys) - len(keys) + found.depth + 1)}`: "
            f"{found.message}",
            self._guess(found),
            severity="error" if proven else "warning",
            access=access,
        )

    def _unknown_name(self, path: tuple[PathKey, ...], unknown: UnknownName) -> None:
        from agnoctl.spec.templates import environment

        kind, name = unknown.kind, unknown.name
        known = environment().filters if kind == "filter" else environment().tests
        guess = _JINJA_NAMES.get(name) if kind == "filter" else None
        guess = guess or self.suggest(name, known)
        self.report(
            path,
            "E417",
            f"unknown {kind} `{name}` in {path_text(path)}",
            f"did you mean `{guess}`?" if guess else f"{kind}s: {_some(sorted(known), len(known))}",
            access=Access(name, (), unknown.line),
        )

    def _check_literal_for_each(self, path: tuple[PathKey, ...], source: str) -> None:
        """A literal gives at validation the value it gives at run time (it reads nothing):
        one that is not a list is sure to fail the step, as the scheduler refuses it."""
        from agnoctl.spec.templates import evaluate, not_a_list

        problem = not_a_list(evaluate(source, {}))  # a literal always evaluates
        if problem is not None:
            self.report(
                path,
                "E419",
                f"for_each must give a list, but `{source}` gives {problem}",
                "write a list (`[a, b]`) or an expression giving one (`inputs.items`)",
            )

    def _allowed(self, scope: _Scope, target: str) -> bool:
        reader = scope.reader or ""
        if scope.reads_own_children and target.startswith(reader + "."):
            return True
        if "." not in reader and "." not in target:  # may_read's common case, inlined
            return reader != target and self._closure("").reaches(target, reader)
        return self.may_read(reader, target)

    def _needs_hint(self, reader: str, target: str) -> str:
        r, t = reader.split("."), target.split(".")
        common = 0
        while common < min(len(r), len(t)) and r[common] == t[common]:
            common += 1
        if common in (len(r), len(t)):
            return "a step cannot read itself, its own group or its own children"
        step = ".".join(r[: common + 1])
        return f"add `{t[common]}` to the needs of `{step}`"

    def _resolve(self, keys: tuple[Any, ...]) -> tuple[str | None, str | None]:
        """(step path read, None) or (None, unknown path) for the keys after `steps`."""
        if len(keys) == 2 and keys[1] in STEP_ATTRIBUTES and keys[0] in self.workflow.steps:
            return keys[0], None  # `steps.<id>.output`: what _walk_keys finds, at once
        return self._walk_keys(keys)

    def _walk_keys(self, keys: tuple[Any, ...]) -> tuple[str | None, str | None]:
        steps: Mapping[str, StepSpec] = self.workflow.steps
        path = ""
        for key in keys:
            if not isinstance(key, str) or (path and key in STEP_ATTRIBUTES):
                break
            if path in self.spec.broken_steps:
                break  # its children are unknown: trust the read
            if key not in steps:
                return None, dag.join_path(path, key)
            path = dag.join_path(path, key)
            steps = steps[key].steps or {}
        return path or None, None

    def _unknown_step(self, path: tuple[PathKey, ...], unknown: str, access: Access) -> None:
        parent, _, name = unknown.rpartition(".")
        group = dag.find_step(self.workflow, parent) if parent else None
        if group is not None and group.steps is None:  # `steps.a.outptu`: a typo, not a child
            guess = did_you_mean(name, STEP_ATTRIBUTES)
            self.report(
                path,
                "E407",
                f"`steps.{unknown}`: step `{parent}` has no `{name}`",
                f"did you mean `steps.{parent}.{guess}`?"
                if guess
                else f"read steps.{parent}.output (or .status, .error)",
                access=access,
            )
            return
        children = [*dag.step_map(self.workflow, parent).keys()]
        guess = self.suggest(name, [*children, *STEP_ATTRIBUTES] if parent else children)
        if guess:
            hint = f"did you mean `steps.{dag.join_path(parent, guess)}`?"
        elif parent:
            hint = f"`{parent}` has no step `{name}`; read steps.{parent}.output (or .status)"
        else:
            hint = "steps are read as steps.<id>.output"
        self.report(path, "E407", f"`steps.{unknown}` names no step", hint, access=access)

    # -------------------------------------------------------------------- agents, tools

    def _check_agents(self) -> None:
        agent_roots = _GLOBAL_ROOTS | {"steps", "item", "index", "loop"}
        for name, agent in self.workflow.agents.items():
            base = ("agents", name)
            self._check_model_ref((*base, "model"), agent.model)
            for index, ref in enumerate(agent.fallback_models):
                self._check_model_ref((*base, "fallback_models", index), ref)
            for index, tool in enumerate(agent.tools):
                if not self.spec.known("tools", tool):
                    guess = self.suggest(tool, self.spec.names("tools"))
                    self.report(
                        (*base, "tools", index),
                        "E402",
                        f"unknown tool `{tool}`",
                        f"did you mean `{guess}`?" if guess else "define it under `tools`",
                    )
            if agent.instructions is not None:
                self._check_template(
                    (*base, "instructions"),
                    agent.instructions,
                    False,
                    _Scope(roots=frozenset(agent_roots)),
                )
            for index, entry in enumerate(agent.attachments or ()):
                where = (*base, "attachments", index)
                scope = _Scope(roots=frozenset(agent_roots))
                self._check_attachment(where, entry, scope, agent, False)
            if agent.output_schema is not None:
                self._check_json_schema((*base, "output_schema"), agent.output_schema)
            if (agent.temperature or 0) > 1 and self._on_anthropic(agent):
                self.report(
                    (*base, "temperature"),
                    "W532",
                    f"`{path_text((*base, 'temperature'))}` is {agent.temperature:g}, and an "
                    "anthropic model takes a temperature of at most 1: Anthropic refuses more",
                    "give at most 1, or keep anthropic models out of `model` and `fallback_models`",
                    severity="warning",
                )

    def _check_model_ref(self, path: tuple[PathKey, ...], ref: str) -> None:
        provider = ref.partition("/")[0]
        if provider in BUILTIN_PROVIDERS or self.spec.known("providers", provider):
            return
        choices = sorted(BUILTIN_PROVIDERS | self.spec.names("providers"))
        guess = self.suggest(provider, choices)
        self.report(
            path,
            "E401",
            f"unknown provider `{provider}` in model `{ref}`",
            f"did you mean `{guess}`?"
            if guess
            else f"use one of {_some(choices)}, or declare it under `providers`",
        )

    def _check_providers(self) -> None:
        """W530: how a reply is read (streamed or whole, its size and stall bounds) does
        nothing on a mock entry, which reads no reply: said, not silently dropped."""
        for name, provider in self.workflow.providers.items():
            if provider.type != "mock":
                continue
            for field in _READING_FIELDS.intersection(provider.model_fields_set):
                self.report(
                    ("providers", name, field),
                    "W530",
                    f"`{field}` does nothing on a mock provider: it sends no request and reads "
                    "no reply",
                    "remove it, or give the entry the type of the server it stands for",
                    severity="warning",
                    at_key=True,
                )

    def _check_pricing(self) -> None:
        """W531: a price for a model the run does not use (a typo, the provider written in
        the key) would leave the model at the built-in price, or none, silently. A file with
        sub-workflows is not judged: their agents may be the ones priced."""
        if any(node.spec.uses is not None for node in self._nodes):
            return
        used: dict[str, set[str]] = {}
        for agent in self.workflow.agents.values():
            for ref in (agent.model, *agent.fallback_models):
                provider, _, model = ref.partition("/")
                used.setdefault(provider, set()).update(price_names(model))
        for name, entry in self.workflow.providers.items():
            models = used.get(name, set())
            for model in entry.pricing:
                if model in models:
                    continue
                guess = self.suggest(model.rpartition("/")[2], models)
                self.report(
                    ("providers", name, "pricing", model),
                    "W531",
                    f"the price of `{model}` prices no model the run uses on provider `{name}` "
                    f"(a model `{name}/{model}`)",
                    f"did you mean `{guess}`?" if guess else "remove it, or fix the model name",
                    severity="warning",
                    at_key=True,
                )

    def _check_tools(self) -> None:
        for name, tool in self.workflow.tools.items():
            # An MCP entry's name is not sent: its server's tools are called by their own.
            if tool.type != "mcp" and not _TOOL_NAME.fullmatch(name):
                self.report(
                    ("tools", name),
                    "E205",
                    f"tool name {name[:70]!r} is not allowed: a model calls a tool by its name, "
                    "and OpenAI and Anthropic take letters, digits, _ and -, at most 64",
                    "rename it, e.g. `fetch.page` -> `fetch_page`",
                    at_key=True,
                )
            if tool.type == "mcp":
                for found in check_mcp_tool(name, tool):
                    self.report(
                        found.path, found.code, found.message, found.hint, at_key=found.at_key
                    )
                continue
            if tool.type != "command":
                continue
            base = ("tools", name)
            properties = tool.parameters.get("properties")
            args = frozenset(properties) if isinstance(properties, dict) else None
            scope = _Scope(roots=frozenset({"args"}), args=args)  # rendered with args only
            for index, arg in enumerate(tool.run):
                self._check_template((*base, "run", index), arg, False, scope)
            self._check_json_schema((*base, "parameters"), tool.parameters)
            if tool.parameters.get("type") != "object":
                self.report(
                    (*base, "parameters"),
                    "E415",
                    f"`{path_text((*base, 'parameters'))}` must be an object schema "
                    "(`type: object`): a model passes a tool's arguments as a JSON object, and "
                    "OpenAI and Anthropic refuse a tool with any other schema",
                    "write `parameters: {type: object, properties: {<name>: {type: string}}}`",
                )

    def _check_json_schema(self, path: tuple[PathKey, ...], schema: dict[str, Any]) -> None:
        problem = _schema_problem(json.dumps(schema, sort_keys=True, default=str))
        if problem is not None:
            message, where = problem
            self.report(
                (*path, *where),
                "E415",
                f"{path_text(path)} is not a valid JSON Schema: {message}",
                "see https://json-schema.org/understanding-json-schema",
            )

    def _check_inputs(self) -> None:
        for name, spec in self.workflow.inputs.items():
            if spec.default is None:
                continue
            value = spec.default
            if not spec.accepts(value):
                self.report(
                    ("inputs", name, "default"),
                    "E414",
                    f"the default of input `{name}` is not of its type {spec.type}",
                    f"give a default of type {spec.type}, or change `type`",
                )

    def _check_output_files(self) -> None:
        # Each output is one file of outputs/: two names that make one file (`a/b` and `a_b`,
        # or `Notes` and `notes` where the file system ignores case) would lose one silently,
        # and a name past what a file name may hold would fail the run at its end.
        first: dict[str, str] = {}
        for name in self.workflow.outputs:
            stem = output_stem(name)
            if len(stem) > MAX_OUTPUT_STEM:  # the run would fail at its end, and its resume
                self.report(
                    ("outputs", name),
                    "E210",
                    f"output `{name[:40]}...` is too long a name for its file in outputs/ "
                    f"({len(stem)} characters)",
                    f"shorten it to at most {MAX_OUTPUT_STEM} characters",
                    at_key=True,
                )
            other = first.setdefault(stem.casefold(), name)
            if other != name:
                self.report(
                    ("outputs", name),
                    "E209",
                    f"outputs `{other}` and `{name}` would be written to one file, "
                    f"outputs/{stem}.*",
                    "rename one: a file name keeps letters, digits, `_`, `.` and `-` (the rest "
                    "become `_`), and some file systems do not tell upper from lower case",
                    at_key=True,
                )

    def _check_unused(self) -> None:
        # A step or agent that did not validate may use anything: only judge complete parts.
        if not self.spec.broken_steps and not self.spec.trimmed_steps:
            nodes = self._nodes
            used = chain(
                (n.spec.agent for n in nodes),
                (g.agent for n in nodes for g in n.spec.gates or [] if isinstance(g, JudgeGate)),
            )
            self._warn_unused(
                "agents",
                used,
                "W500",
                "agent",
                "any step or judge gate",
                "name it in a step's `agent` or a judge gate",
            )
        if not self.spec.broken_names.get("agents"):
            tools = (t for agent in self.workflow.agents.values() for t in agent.tools)
            self._warn_unused(
                "tools", tools, "W501", "tool", "any agent", "list it in an agent's `tools`"
            )

    def _warn_unused(
        self, section: str, used: Iterable[str | None], code: str, kind: str, where: str, fix: str
    ) -> None:
        for name in _never_named(getattr(self.workflow, section), used):
            self.report(
                (section, name),
                code,
                f"{kind} `{name}` is not used by {where}",
                f"remove it, or {fix}",
                severity="warning",
                at_key=True,
            )


# ---------------------------------------------------------------------------- helpers


class _Node(NamedTuple):
    path: str
    data: tuple[PathKey, ...]
    """Where the step is in the file's data: ("steps", "review", "steps", "draft")."""
    spec: StepSpec
    roots: frozenset[str]
    """Names defined for the step's own `if` and `for_each`."""
    own_roots: frozenset[str]
    """Names the step's body adds (`item`, `index` with for_each)."""
    loop_group: str | None


_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ANTHROPIC_OUTPUT_TOOL = "final_output"  # providers.anthropic.OUTPUT_TOOL, a layer above
_NO_ROOTS: frozenset[str] = frozenset()
_FOR_EACH_ROOTS = frozenset({"item", "index"})


class OutputRead(NamedTuple):
    """A template's read of one output of a `uses` step (`steps.c.output.text`)."""

    path: tuple[PathKey, ...]
    access: Access
    name: str
    """The output read (`text`)."""
    written: str
    """The read up to that name, as the template writes it."""


def check_output_reads(
    workflow: Workflow, uses: str, outputs: Collection[str], label: str, source: SourceMap
) -> list[Diagnostic]:
    """E437: each read in `workflow` of an output that the file `uses` names (`label`) does
    not declare. The step's output is that file's `outputs` map, no more: such a read is sure
    to fail the run, unless the template guards it (`is defined`, `| default`)."""
    found: list[Diagnostic] = []
    for read in dict.fromkeys(workflow._output_reads.get(uses, ())):
        if read.name in outputs:
            continue
        guess = did_you_mean(read.name, outputs)
        hint = (
            f"did you mean `{guess}`?"
            if guess
            else f"its outputs: {_some(outputs)}"
            if outputs
            else f"{label} declares no `outputs`"
        )
        line, col = source.text_position(read.path, read.access.line, read.access.text)
        message = f"`{read.written}`: {label} has no output `{read.name}`"
        found.append(Diagnostic(source.file, line, col, "error", "E437", message, hint))
    return found


def _nested_strings(
    path: tuple[PathKey, ...], value: Any
) -> Iterator[tuple[tuple[PathKey, ...], str]]:
    """Every string inside a list or map value, with its data path."""
    pending: list[tuple[tuple[PathKey, ...], Any]] = [(path, value)]
    while pending:
        where, current = pending.pop()
        if isinstance(current, str):
            yield where, current
        elif isinstance(current, list):
            pending += [((*where, index), each) for index, each in enumerate(current)]
        elif isinstance(current, dict):
            pending += [((*where, key), each) for key, each in current.items()]


def _walk_steps(
    steps: Mapping[str, StepSpec],
    prefix: str = "",
    base: tuple[PathKey, ...] = (),
    roots: frozenset[str] = _GLOBAL_ROOTS | {"steps"},
    loop_group: str | None = None,
) -> Iterator[_Node]:
    for step_id, spec in steps.items():
        path, data = dag.join_path(prefix, step_id), (*base, "steps", step_id)
        own = _FOR_EACH_ROOTS if spec.for_each is not None else _NO_ROOTS
        yield _Node(path, data, spec, roots, own, loop_group)
        if spec.steps:
            inner_loop = path if spec.loop is not None else loop_group
            inner = roots | own | ({"loop"} if inner_loop else set())
            yield from _walk_steps(spec.steps, path, data, frozenset(inner), inner_loop)


@lru_cache(maxsize=256)
def _schema_problem(text: str) -> tuple[str, tuple[PathKey, ...]] | None:
    """Why a JSON Schema (as canonical JSON) is invalid, and where; cached because checking
    against the metaschema costs milliseconds and files repeat their schemas."""
    schema = json.loads(text)
    if _plainly_valid(schema):
        return None  # no need to import jsonschema (a tenth of `agnoctl validate`'s start-up)
    from jsonschema import SchemaError
    from jsonschema.validators import validator_for

    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        return exc.message, tuple(exc.absolute_path)
    return None


_SIMPLE_TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _is_types(value: Any) -> bool:
    if isinstance(value, str):
        return value in _SIMPLE_TYPES
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(kind, str) and kind in _SIMPLE_TYPES for kind in value)
        and len(set(value)) == len(value)
    )


def _is_names(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(isinstance(name, str) for name in value)
        and len(set(value)) == len(value)
    )


def _is_schema_map(value: Any) -> bool:
    return isinstance(value, dict) and all(_plainly_valid(child) for child in value.values())


# The common keywords, each with a test its value passes only when the draft 2020-12
# metaschema (the default without `$schema`) accepts it. Anything else (`$schema`, `$ref`,
# `pattern`, whose regex the metaschema checks, unknown keywords) goes to jsonschema.
_PLAIN_KEYWORDS: dict[str, Callable[[Any], bool]] = {
    "type": _is_types,
    "properties": _is_schema_map,
    "items": lambda value: _plainly_valid(value),
    "additionalProperties": lambda value: _plainly_valid(value),
    "required": _is_names,
    "enum": lambda value: isinstance(value, list),
    "const": lambda value: True,
    "default": lambda value: True,
    "examples": lambda value: isinstance(value, list),
    "title": lambda value: isinstance(value, str),
    "description": lambda value: isinstance(value, str),
    "format": lambda value: isinstance(value, str),
    "minimum": _is_number,
    "maximum": _is_number,
    "exclusiveMinimum": _is_number,
    "exclusiveMaximum": _is_number,
    "minLength": _is_count,
    "maxLength": _is_count,
    "minItems": _is_count,
    "maxItems": _is_count,
    "minProperties": _is_count,
    "maxProperties": _is_count,
    "uniqueItems": lambda value: isinstance(value, bool),
}


def _plainly_valid(schema: Any) -> bool:
    """Whether a schema is certainly valid: a boolean, or a mapping of common keywords with
    well-formed values. False means "ask jsonschema", not "invalid"."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict):
        return False
    for keyword, value in schema.items():
        test = _PLAIN_KEYWORDS.get(keyword)
        if test is None or not test(value):
            return False
    return True


def _never_named(declared: Collection[str], used: Iterable[str | None]) -> list[str]:
    """The declared names (in their order) that `used` never yields. Reading stops once every
    name has been seen: thousands of steps mostly name one of a few agents early on."""
    unseen: dict[str | None, None] = dict.fromkeys(declared)
    for name in used:
        if not unseen:
            break
        unseen.pop(name, None)
    return [name for name in declared if name in unseen]


def _some(names: Iterable[str], total: int | None = None) -> str:
    """A readable list of names: `a, b, c`, or the first few and how many more."""
    listed = list(islice(names, _LISTED))
    total = len(listed) if total is None else total
    more = f", ... ({total - _LISTED} more)" if total > _LISTED else ""
    return ", ".join(listed) + more


class _Undeclared(NamedTuple):
    """A field that a level of an output_schema does not list among its `properties`."""

    name: str
    depth: int
    """Where the name is among the dotted field's parts (0: the first)."""
    message: str
    state: Literal["closed", "unlisted", "admitted"]
    """closed: the level forbids other names (`additionalProperties: false`); admitted: it
    allows them (`additionalProperties: true` or a schema, `patternProperties`, or names from
    `allOf`/`anyOf`/`oneOf`/`$ref`...); unlisted: it says neither."""
    choices: list[str]


# Keywords through which an object schema may declare names besides its `properties`.
_OTHER_NAMES = frozenset(
    {
        "patternProperties",
        "allOf",
        "anyOf",
        "oneOf",
        "$ref",
        "$dynamicRef",
        "if",
        "dependentSchemas",
    }
)


def _schema_field(
    schema: dict[str, Any], parts: Sequence[str]
) -> dict[str, Any] | _Undeclared | None:
    """The schema of the dotted field `parts`; _Undeclared where a level's `properties` lack
    it; None where a level says nothing about its names (it has no `properties`)."""
    current = schema
    for depth, part in enumerate(parts):
        properties = current.get("properties")
        if not isinstance(properties, dict):
            return None
        if part not in properties:
            state = _openness(current)
            inside = f" in `{'.'.join(parts[:depth])}`" if depth else ""
            verb = "does not allow" if state == "closed" else "does not list"
            message = f"the output_schema {verb} `{part}`{inside}"
            return _Undeclared(part, depth, message, state, list(properties))
        current = properties[part] if isinstance(properties[part], dict) else {}
    return current


def _openness(level: dict[str, Any]) -> Literal["closed", "unlisted", "admitted"]:
    """Whether an object schema with `properties` admits other names (see _Undeclared)."""
    extra = level.get("additionalProperties")
    if extra is True or isinstance(extra, dict) or not _OTHER_NAMES.isdisjoint(level):
        return "admitted"
    return "closed" if extra is False else "unlisted"


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    return {k for k in (kind if isinstance(kind, list) else [kind]) if isinstance(k, str)}


def _written(access: Access, keys: int) -> str:
    """The access with its first `keys` keys, as a template writes it: `steps.x.output[0].a`."""
    text = access.root
    for key in access.keys[:keys]:
        text += f".{key}" if isinstance(key, str) else f"[{'...' if key is None else key}]"
    return text


def _field_names(keys: tuple[Key, ...]) -> list[str]:
    """The names a template reads as fields of a value: its constant keys up to a computed
    one, an index, or a name Jinja2 reads as a dict method (`items`, `get`)."""
    from agnoctl.spec.templates import DICT_ATTRIBUTES

    names: list[str] = []
    for key in keys:
        if not isinstance(key, str) or key in DICT_ATTRIBUTES:
            break
        names.append(key)
    return names


__all__ = [
    "BUILTIN_PROVIDERS",
    "STEP_ATTRIBUTES",
    "OutputRead",
    "check_data",
    "check_output_reads",
]
