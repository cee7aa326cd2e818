"""The field reference (docs/reference.md), generated from the spec models' field descriptions."""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from agnoctl.spec import models

# (section title, model) in reading order; nested models are listed after their parents.
_SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("Workflow (top level)", models.Workflow),
    ("inputs.<name>", models.InputSpec),
    ("providers.<name>", models.ProviderSpec),
    ("providers.<name>.rate_limit", models.RateLimitSpec),
    ("providers.<name>.circuit_breaker", models.CircuitBreakerSpec),
    ("providers.<name>.pricing.<model>", models.ModelPrice),
    ("defaults", models.StepDefaults),
    ("agents.<name>", models.AgentSpec),
    ("tools.<name> (command tool)", models.CommandToolSpec),
    ("tools.<name> (type: http_get)", models.HttpGetToolSpec),
    ("tools.<name> (type: read_file)", models.ReadFileToolSpec),
    ("tools.<name> (type: mcp)", models.McpToolSpec),
    ("steps.<id>", models.StepSpec),
    ("steps.<id>.retry (and defaults.retry)", models.RetrySpec),
    ("steps.<id>.loop", models.LoopSpec),
    ("steps.<id>.approval", models.ApprovalSpec),
    ("steps.<id>.resources", models.ResourcesSpec),
    ("gates: {type: schema}", models.SchemaGate),
    ("gates: {type: threshold}", models.ThresholdGate),
    ("gates: {type: contains | not_contains}", models.ContainsGate),
    ("gates: {type: regex}", models.RegexGate),
    ("gates: {type: length}", models.LengthGate),
    ("gates: {type: expr}", models.ExprGate),
    ("gates: {type: judge}", models.JudgeGate),
    ("limits", models.LimitsSpec),
    ("notify", models.NotifySpec),
]


def type_name(annotation: Any) -> str:
    """A short, readable name of a field's type (``duration``, ``list of string`` ...)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *meta = get_args(annotation)
        if _is_duration(meta):
            return "duration"
        return type_name(base)
    if origin is Literal:
        return " | ".join(repr(a) if not isinstance(a, str) else a for a in get_args(annotation))
    if origin in (Union, types.UnionType):
        names = [type_name(a) for a in get_args(annotation) if a is not type(None)]
        return " | ".join(dict.fromkeys(names))
    if origin is list:
        return f"list of {type_name(get_args(annotation)[0])}"
    if origin is dict:
        return f"map of {type_name(get_args(annotation)[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return _SCALARS.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _is_duration(metadata: list[Any]) -> bool:
    return any(getattr(m, "func", None) is models.parse_duration for m in metadata)


_SCALARS: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    typing.Any: "any",
}


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        return "empty"
    if field.default is None or field.default is PydanticUndefined:
        return "—"
    return f"`{field.default!r}`".replace("'", "")


def _section(title: str, model: type[BaseModel]) -> list[str]:
    lines = [f"## {title}", ""]
    doc = (model.__doc__ or "").strip()
    if doc and not doc.startswith("Base of"):
        lines += [doc.splitlines()[0], ""]
    lines += ["| field | type | default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        key = field.alias or name
        description = " ".join((field.description or "").split()).replace("|", "\\|")
        kind = "duration" if _is_duration(field.metadata) else type_name(field.annotation)
        kind = kind.replace("|", "\\|")
        lines.append(f"| `{key}` | {kind} | {_default(field)} | {description} |")
    return [*lines, ""]


def reference_markdown() -> str:
    lines = [
        "# Workflow field reference",
        "",
        "Generated from the spec models by `agnoctl schema --format markdown`; a test keeps",
        "this file in sync. The language's meaning is in [spec.md](spec.md); this page lists",
        "every field, its type, its default and what it does.",
        "",
    ]
    for title, model in _SECTIONS:
        lines += _section(title, model)
    return "\n".join(lines)
