"""Problems found in a workflow file (``Diagnostic``), what validating one file found
(``ValidationResult``), and the three ways to print a list of problems.

``Diagnostic`` and ``Severity`` are defined with the error tree (``agnoctl.errors``), since
``SpecInvalid`` carries them, and re-exported here for the spec layer. ``ValidationResult``
is here, below ``validate`` and ``uses``, because each of them makes and reads one.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from agnoctl.errors import Diagnostic as Diagnostic
from agnoctl.errors import Severity as Severity
from agnoctl.printable import github_command, printable

if TYPE_CHECKING:
    from agnoctl.spec.loader import SourceMap, UnsetKey
    from agnoctl.spec.models import Workflow


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """What validating one file found."""

    path: str
    """The file as named by the caller (diagnostics use the same label)."""
    workflow: Workflow | None
    """The parsed workflow; None when there is any error."""
    diagnostics: list[Diagnostic]
    """Every problem found, sorted by position."""
    source: SourceMap | None
    """Positions of the file's nodes; None when the file could not be parsed at all."""
    unset_keys: tuple[UnsetKey, ...] = ()
    """Offline only: provider key variables that are not set (a real run needs them)."""

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not self.errors


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest choice to a likely typo, or None."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def format_text(diagnostics: list[Diagnostic]) -> str:
    """One diagnostic per line (its hint below); what the file holds is shown, never obeyed.

    A message quotes names from the file (and the file's own name, from a directory): a line
    break in one would start a line of the file's choosing, which a CI log obeys when it starts
    with `::` (a GitHub workflow command). Line breaks are shown as `\\n` and `\\r`."""
    lines = []
    for d in diagnostics:
        text = f"{_flat(d.file)}:{d.line}:{d.col}: {d.severity} {d.code} {_flat(d.message)}"
        if d.hint:
            text += f"\n    hint: {_flat(d.hint)}"
        lines.append(text)
    return printable("\n".join(lines))


def _flat(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def format_json(diagnostics: list[Diagnostic], *, strict: bool = False) -> str:
    """The diagnostics as one JSON document; `valid` is the command's verdict (with
    ``strict``, a warning fails too), so a tool reading it agrees with the exit code."""
    errors = sum(d.severity == "error" for d in diagnostics)
    return json.dumps(
        {
            "valid": errors == 0 and not (strict and len(diagnostics) > errors),
            "errors": errors,
            "warnings": len(diagnostics) - errors,
            "diagnostics": [asdict(d) for d in diagnostics],
        },
        indent=2,
    )


def format_github(diagnostics: list[Diagnostic]) -> str:
    lines = []
    for d in diagnostics:
        level = "error" if d.severity == "error" else "warning"
        message = d.message + (f" (hint: {d.hint})" if d.hint else "")
        where = {"file": d.file, "line": d.line, "col": d.col, "title": d.code}
        lines.append(github_command(level, where, message))
    return "\n".join(lines)
