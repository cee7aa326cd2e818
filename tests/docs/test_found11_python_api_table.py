"""docs/observability.md's Python API table names each function with its parameters, and a
reader calls them so: `configure_logging(..., redactor=)` was documented and raised TypeError
(the log's redaction is the run's own, not a parameter), and `render_metrics(report,
entries)`, `push_metrics(url, ...)`, `render_diff(delta, format)`, `send(notify_spec, ...)`
named parameters the functions do not have. Every row is now checked against its function."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The first cell of a table row: `agnoctl.module.function(a, b=, c=0.05)`, then maybe
# `other(d, e)` of the same module.
_ROW = re.compile(r"^\| (`agnoctl\.[^|]*)\|", re.MULTILINE)
_CALL = re.compile(r"`((?:\w+\.)*)(\w+)\(([^)]*)\)`")


def _documented() -> list[tuple[str, str, list[str]]]:
    text = (ROOT / "docs" / "observability.md").read_text(encoding="utf-8")
    calls = []
    for row in _ROW.finditer(text):
        module = ""
        for call in _CALL.finditer(row.group(1)):
            module = call.group(1).rstrip(".") or module
            names = [p.split("=")[0].strip() for p in call.group(3).split(",") if p.strip()]
            calls.append((module, call.group(2), names))
    return calls


def test_each_documented_call_has_the_parameters_it_names() -> None:
    rows = _documented()
    assert len(rows) >= 8, "the table's syntax has changed: update _ROW"
    for module, name, names in rows:
        function = getattr(importlib.import_module(module), name)
        parameters = list(inspect.signature(function).parameters)
        assert names == parameters[: len(names)], f"{module}.{name}: {names}, not {parameters}"
