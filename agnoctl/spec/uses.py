"""Sub-workflows: the files that `uses:` steps name, loaded with the file that names them.

A `uses: ./child.yaml` step runs another workflow file as one step (SPEC addition, issue #21).
Validating a file validates every file it uses, recursively, each once (`Library`), with the
same loader, models and checks: a problem inside a child is reported at the child's own
`file:line:col`. What only the pair can show is reported at the `uses:` line (E430-E436,
W510, docs/errors.md): a file that cannot be read, a cycle of files, `with:` values that do
not fit the child's `inputs`, a provider that two files define differently (a run has one
instance per provider name: one limiter, breaker and window for every file), a child's own
`limits` (the calling run's limits cover every call; a second budget per invocation would
be a second meaning), and `notify` (a child's webhooks are not called: the run's are).

Each validated child is attached to the workflow that names it (`Workflow.sub_workflow`),
so the engine finds it without reading a file again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agnoctl.spec.checks import check_output_reads
from agnoctl.spec.dag import iter_steps
from agnoctl.spec.diagnostics import Diagnostic, Severity, did_you_mean
from agnoctl.spec.loader import PathKey, SourceMap
from agnoctl.spec.models import ProviderSpec, StepSpec, Workflow

if TYPE_CHECKING:
    from agnoctl.spec.diagnostics import ValidationResult

TEMPLATE_MARKS = ("{{", "{%")


@dataclass(slots=True)
class Library:
    """Every file of one validation: each validated once, however often it is used."""

    validate: Callable[[str], ValidationResult]
    """Validates one file (its label) on its own, without its children."""
    results: dict[Path, ValidationResult] = field(default_factory=dict)
    providers: dict[str, tuple[ProviderSpec, str]] = field(default_factory=dict)
    """Each provider name of the run: its one definition, and the file that gave it first."""


def link(result: ValidationResult, library: Library) -> list[Diagnostic]:
    """Validate the files `result`'s workflow uses (recursively) and attach them to it;
    every problem found, the children's at their own files. `result` is the root file."""
    if result.workflow is None:
        return []
    root = Path(result.path).resolve()
    library.results[root] = result
    for name, spec in result.workflow.providers.items():
        library.providers.setdefault(name, (spec, result.path))
    return _Linker(library).file(result, (root,))


@dataclass(slots=True)
class _Linker:
    library: Library
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def file(self, result: ValidationResult, chain: tuple[Path, ...]) -> list[Diagnostic]:
        workflow, source = result.workflow, result.source
        assert workflow is not None and source is not None
        workflow._file = chain[-1]
        for data, step in _uses_steps(workflow):
            assert step.uses is not None
            child = self._child(result, data, step.uses, chain)
            if child is not None:
                workflow._used[step.uses] = child
                self._check_pair(workflow, source, data, step, child)
        return self.diagnostics

    def _child(
        self,
        caller: ValidationResult,
        data: tuple[PathKey, ...],
        uses: str,
        chain: tuple[Path, ...],
    ) -> Workflow | None:
        assert caller.source is not None
        if "\0" in uses:  # no file's path holds one, and the file system refuses to look
            self._report(
                caller.source,
                (*data, "uses"),
                "E430",
                f"`uses` names {uses!r}, which holds a NUL character: no file's path can",
                "give the path of a workflow file, relative to this file",
            )
            return None
        label = os.path.normpath(os.path.join(os.path.dirname(caller.path), uses))
        resolved = Path(label).resolve()
        if resolved in chain:
            labels = [self.library.results[p].path for p in (*chain, resolved)]
            names = " → ".join(labels[chain.index(resolved) :])
            self._report(
                caller.source,
                (*data, "uses"),
                "E431",
                f"`uses` makes a cycle of workflow files: {names}",
                "a workflow cannot use itself, directly or through the files it uses",
            )
            return None
        found = self.library.results.get(resolved)
        if found is None:
            if not resolved.is_file():
                self._report(
                    caller.source,
                    (*data, "uses"),
                    "E430",
                    f"`uses` names {uses!r}, but {label} is not a file",
                    "give the path of a workflow file, relative to this file",
                )
                return None
            found = self.library.results[resolved] = self.library.validate(label)
            self.diagnostics += found.diagnostics
            if found.workflow is not None:
                self.file(found, (*chain, resolved))
        return found.workflow

    def _check_pair(
        self,
        caller: Workflow,
        source: SourceMap,
        data: tuple[PathKey, ...],
        step: StepSpec,
        child: Workflow,
    ) -> None:
        """What only the caller and the child together can show."""
        label = self.library.results[child.file].path if child.file else str(step.uses)
        self._check_with(source, data, step.with_ or {}, child, label)
        if step.uses is not None:
            self.diagnostics += check_output_reads(caller, step.uses, child.outputs, label, source)
        at = (*data, "uses")
        if "limits" in child.model_fields_set and child.limits.model_fields_set:
            self._report(
                source,
                at,
                "E435",
                f"{label} sets `limits`, which a sub-workflow may not: the calling run's "
                "limits cover every call of every sub-workflow",
                "move the limits to the workflow that is run",
            )
        asks = next((n.path for n in iter_steps(child) if n.spec.approval is not None), None)
        if asks is not None:
            # v1: a run stops `waiting` between its own top-level steps only.
            self._report(
                source,
                at,
                "E441",
                f"{label} has an approval step (`{asks}`), which a sub-workflow may not have",
                "put the approval in the calling workflow, before or after this step",
            )
        if child.notify is not None:
            self._report(
                source,
                at,
                "W510",
                f"{label}'s `notify` webhooks are not called when it runs as a sub-workflow "
                "(the calling run's are)",
                "remove `notify` from it, or run it on its own",
                severity="warning",
            )
        for name, spec in child.providers.items():
            first, where = self.library.providers.setdefault(name, (spec, label))
            if first != spec:
                self._report(
                    source,
                    at,
                    "E436",
                    f"{label} defines provider `{name}` differently from {where}"
                    ": a run has one provider of each name, with one rate limit and breaker",
                    "give both files the same definition, or one of them another name",
                )

    def _check_with(
        self,
        source: SourceMap,
        data: tuple[PathKey, ...],
        given: Mapping[str, Any],
        child: Workflow,
        label: str,
    ) -> None:
        declared = child.inputs
        for name, value in given.items():
            spec = declared.get(name)
            if spec is None:
                guess = did_you_mean(name, declared)
                self._report(
                    source,
                    (*data, "with", name),
                    "E432",
                    f"`with.{name}`: {label} has no input `{name}`",
                    f"did you mean `{guess}`?"
                    if guess
                    else f"its inputs: {', '.join(declared) or 'none'}",
                    at_key=True,
                )
            elif not is_template(value) and not spec.accepts(value):
                self._report(
                    source,
                    (*data, "with", name),
                    "E434",
                    f"`with.{name}`: input `{name}` of {label} is of type {spec.type}, "
                    f"not {type(value).__name__}",
                    f"give a value of type {spec.type}",
                )
        missing = [name for name, spec in declared.items() if spec.required and name not in given]
        if missing:
            self._report(
                source,
                (*data, "uses"),
                "E433",
                f"{label} needs input(s) without a default: {', '.join(missing)}",
                "give them under `with:`",
            )

    def _report(
        self,
        source: SourceMap,
        path: tuple[PathKey, ...],
        code: str,
        message: str,
        hint: str | None,
        *,
        severity: Severity = "error",
        at_key: bool = False,
    ) -> None:
        line, col = source.key_position(path) if at_key else source.position(path)
        self.diagnostics.append(Diagnostic(source.file, line, col, severity, code, message, hint))


def is_template(value: object) -> bool:
    """Whether a `with:` value is rendered (a string with `{{` or `{%`), not a literal."""
    return isinstance(value, str) and any(mark in value for mark in TEMPLATE_MARKS)


def every_workflow(workflow: Workflow) -> Iterator[Workflow]:
    """The workflow and every one it uses, recursively, each once."""
    seen: set[int] = set()
    pending = [workflow]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(current._used.values())


def run_steps(workflow: Workflow, prefix: str = "") -> Iterator[tuple[str, StepSpec]]:
    """Every step of a run and its path: the workflow's, and each sub-workflow's steps under
    the `uses` step that runs them (`review.draft`), as reports, fixtures and the journal name
    them."""
    for node in iter_steps(workflow):
        path = f"{prefix}{node.path}"
        yield path, node.spec
        if node.spec.uses is not None:
            yield from run_steps(workflow.sub_workflow(node.spec.uses), f"{path}.")


def run_providers(workflow: Workflow) -> dict[str, ProviderSpec]:
    """Every provider the run's files declare, by name (validation made them agree)."""
    found: dict[str, ProviderSpec] = {}
    for each in every_workflow(workflow):
        for name, spec in each.providers.items():
            found.setdefault(name, spec)
    return found


def _uses_steps(workflow: Workflow) -> Iterator[tuple[tuple[PathKey, ...], StepSpec]]:
    """Each `uses:` step and where it is in the file's data."""
    for node in iter_steps(workflow):
        if node.spec.uses is not None:
            data: tuple[PathKey, ...] = ()
            for step_id in node.path.split("."):
                data = (*data, "steps", step_id)
            yield data, node.spec


__all__ = ["Library", "every_workflow", "is_template", "link", "run_providers", "run_steps"]
