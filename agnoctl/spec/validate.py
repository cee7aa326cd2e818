"""Load → models → checks: a workflow file in, the Workflow and every problem found out.

This is what `agnoctl validate` runs, and what every other command calls before it plans or
runs anything: `load_workflow` raises SpecInvalid carrying every diagnostic when the file has
an error (warnings are allowed).

`offline=True` is for what sends no request (validate, plan, graph, `run --mock`,
`run --cache-only`): an unset variable in a provider's `api_key` is then no error, only an
`UnsetKey` note in the result (see `agnoctl.spec.loader`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from agnoctl import redact
from agnoctl.errors import SpecError, SpecInvalid, UsageError
from agnoctl.spec.checks import check_data
from agnoctl.spec.dag import iter_steps
from agnoctl.spec.diagnostics import Diagnostic, ValidationResult
from agnoctl.spec.loader import (
    MAX_FILE_BYTES,
    SourceMap,
    UnsetKey,
    UnsetVariables,
    load_file,
    load_text,
    paused_gc,
)
from agnoctl.spec.models import Workflow


def diagnostics_from_error(error: SpecError) -> list[Diagnostic]:
    """A loader failure as the diagnostics of its file: one, or every unset variable."""
    every = error.every if isinstance(error, UnsetVariables) else [error]
    return [diagnostic_from_error(each) for each in every]


def diagnostic_from_error(error: SpecError) -> Diagnostic:
    """A loader failure as the single diagnostic of its file."""
    return Diagnostic(
        file=error.file,
        line=error.line,
        col=error.col,
        severity="error",
        code=error.code,
        message=error.message,
        hint=error.hint,
    )


def validate_file(path: str | Path, *, offline: bool = False) -> ValidationResult:
    """Load and check one workflow file and the files its `uses:` steps name (recursively);
    never raises for a bad file."""
    result = _validate_alone(path, offline=offline)
    if result.workflow is None or not _uses_any(result.workflow):
        return _masked(result)
    from agnoctl.spec.uses import Library, link

    found = link(result, Library(partial(_validate_alone, offline=offline)))
    diagnostics = sorted([*result.diagnostics, *found], key=Diagnostic.sort_key)
    failed = any(d.severity == "error" for d in found)
    linked = replace(result, workflow=None if failed else result.workflow, diagnostics=diagnostics)
    return _masked(linked)


def _masked(result: ValidationResult) -> ValidationResult:
    """``result`` with every secret masked in its messages: a message quotes the value it
    refuses, and a value may come from a secret's variable (``max_concurrency: ${API_TOKEN}``,
    a key given where a number belongs), which would then be printed, and annotated in CI."""
    if not result.diagnostics:
        return result
    redactor = redact.active()
    diagnostics = [
        replace(
            d,
            message=redactor.redact(d.message),
            hint=None if d.hint is None else redactor.redact(d.hint),
        )
        for d in result.diagnostics
    ]
    return replace(result, diagnostics=diagnostics)


def _uses_any(workflow: Workflow) -> bool:
    return any(node.spec.uses is not None for node in iter_steps(workflow))


def _validate_alone(path: str | Path, *, offline: bool = False) -> ValidationResult:
    """One file on its own (its `uses:` files unread)."""
    label = str(path)
    unset_keys: list[UnsetKey] | None = [] if offline else None
    with paused_gc():
        try:
            data, source = load_file(path, unset_keys=unset_keys)
        except SpecError as exc:
            return ValidationResult(label, None, diagnostics_from_error(exc), None)
        return validate_data(data, label, source, unset_keys)


def validate_text(
    text: str | bytes, path_label: str = "<string>", *, offline: bool = False
) -> ValidationResult:
    """Load and check a workflow given as text (tests, stdin, editors)."""
    unset_keys: list[UnsetKey] | None = [] if offline else None
    with paused_gc():
        try:
            data, source = load_text(text, path_label, unset_keys=unset_keys)
        except SpecError as exc:
            return _masked(ValidationResult(path_label, None, diagnostics_from_error(exc), None))
        return _masked(validate_data(data, path_label, source, unset_keys))


def validate_data(
    data: Any,
    path_label: str = "<data>",
    source: SourceMap | None = None,
    unset_keys: Iterable[UnsetKey] | None = None,
) -> ValidationResult:
    """Check already-loaded data (plain dicts and lists); positions come from `source`."""
    source = source or SourceMap.empty(path_label)
    with paused_gc():
        workflow, diagnostics = check_data(data, source)
    if any(d.severity == "error" for d in diagnostics):
        workflow = None
    return ValidationResult(
        path_label,
        workflow,
        sorted(diagnostics, key=Diagnostic.sort_key),
        source,
        tuple(unset_keys or ()),
    )


def load_workflow(path: str | Path, *, offline: bool = False) -> Workflow:
    """The workflow in `path`; raises SpecInvalid with every diagnostic when it has an error.

    `offline`: the caller sends no request, so an unset provider key variable is no error.
    """
    result = validate_file(path, offline=offline)
    if result.workflow is None:
        raise SpecInvalid(result.diagnostics)
    return result.workflow


_VERSION_LINE = re.compile(rb"^[\"']?version[\"']?[ \t]*:", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class FileSelection:
    files: list[Path]
    """Files to validate: every file named, and the workflows found in directories named."""
    skipped: list[Path]
    """YAML files in the directories that are not workflows (no top-level `version:`)."""


def workflow_files(paths: Iterable[str | Path], *, only_workflows: bool = False) -> FileSelection:
    """The files named, and every workflow below the directories named.

    In a directory, a workflow is a *.yaml / *.yml file with a top-level `version:` line
    (workflows share folders with data and fixture files); hidden folders (`.git`, `.github`)
    are not searched. With ``only_workflows`` the files named are sorted the same way (for
    pre-commit, which names every YAML file it sees). Raises UsageError for a path that does
    not exist.
    """
    selection = FileSelection([], [])
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for found in _yaml_files(path):
                _select(found, selection)
        elif path.exists() and only_workflows:
            _select(path, selection)
        elif path.exists():
            selection.files.append(path)
        else:
            raise UsageError(f"{path}: no such file or directory")
    return selection


def _select(path: Path, selection: FileSelection) -> None:
    is_workflow = _VERSION_LINE.search(_head(path)) is not None
    (selection.files if is_workflow else selection.skipped).append(path)


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*")
        if path.suffix in (".yaml", ".yml")
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_FILE_BYTES)
    except OSError:
        return b"version:"  # unreadable: let validation report why


__all__ = [
    "FileSelection",
    "ValidationResult",
    "diagnostic_from_error",
    "diagnostics_from_error",
    "load_workflow",
    "validate_data",
    "validate_file",
    "validate_text",
    "workflow_files",
]
