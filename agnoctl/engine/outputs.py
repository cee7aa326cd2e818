"""A workflow's `outputs` (a run's, and a sub-workflow's as its step's output), and any value
that keeps its type the way an output does (a `uses` step's `with:`).

A template that is one expression (``{{ steps.a.output.items }}``) keeps its value, as JSON
data, else its text; any other template renders to text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agnoctl.engine.gates import plain
from agnoctl.spec.templates import TemplateError, evaluate, one_expression, render


def render_outputs(
    outputs: Mapping[str, str], context: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """(values, errors) of the workflow's outputs."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, source in outputs.items():
        try:
            values[name] = output_value(source, context)
        except TemplateError as exc:
            errors[name] = f"output {name}: {exc.message}"
    return values, errors


def output_value(source: str, context: Mapping[str, Any]) -> Any:
    """One expression keeps its value (JSON data, else its text); other templates render."""
    expression = one_expression(source)
    if expression is None:
        return render(source, context)
    return plain(evaluate(expression, context))


__all__ = ["output_value", "render_outputs"]
