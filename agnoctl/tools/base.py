"""What a tool is: a name, the spec the model sees, and one async call that never raises.

SPEC: "A refused or failed tool call is reported to the model as the tool's result." So a
tool's problems (bad arguments, a refused host, a non-zero exit) come back as
``ToolResult(ok=False, text=...)`` with text the model can act on, never as exceptions. A
result longer than the tool's ``max_output_chars`` is cut and ends with a note saying so.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from agnoctl import redact
from agnoctl.errors import UsageError
from agnoctl.providers.base import Attachment, ToolSpec

if TYPE_CHECKING:
    from jsonschema.protocols import Validator


@dataclass(frozen=True, slots=True)
class ToolResult:
    ok: bool
    text: str  # what the model sees
    truncated: bool = False
    # Images the tool returned (an MCP server's), sent on the tool message where the
    # provider takes them; `text` holds no line for them (the protocol module decides).
    attachments: tuple[Attachment, ...] = ()


class Tool(Protocol):
    name: str
    spec: ToolSpec  # what the model sees: name, description, JSON Schema of the arguments

    async def call(self, arguments: dict[str, Any]) -> ToolResult: ...


def refused(reason: str) -> ToolResult:
    """A call the tool would not run (bad arguments, a host or path outside its limits)."""
    return ToolResult(ok=False, text=f"refused: {reason}")


def failed(reason: str) -> ToolResult:
    """A call that ran and did not work."""
    return ToolResult(ok=False, text=f"failed: {reason}")


def output_bytes(max_chars: int) -> int:
    """Bytes to read for up to ``max_chars`` characters of any UTF-8 text (64 KiB at least)."""
    return max(max_chars * 4, 1 << 16)


def cut(text: str, max_chars: int, *, total: str | None = None) -> tuple[str, bool]:
    """``text`` cut to ``max_chars`` with a note, when it is longer or ``total`` says it was.

    ``total`` describes the whole when the text is already a cut (``"a 5000000-byte file"``).
    Secrets are masked before the cut, and a secret split by it leaves no part behind.
    """
    shown, was_cut = redact.head(text, max_chars, cut=total is not None)
    if not was_cut:
        return shown, False
    whole = total or f"{len(text)} characters"
    return f"{shown}\n[truncated: {len(shown)} characters shown of {whole}]", True


class BaseTool(ABC):
    """Validates the arguments against the spec's parameters, runs, and caps the result."""

    def __init__(self, spec: ToolSpec, max_output_chars: int) -> None:
        self.name = spec.name
        self.spec = spec
        self.max_output_chars = max_output_chars
        self._validator = _validator(spec.name, spec.parameters)

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        from jsonschema.exceptions import best_match  # loaded with the validator: see _validator

        problem = best_match(self._validator.iter_errors(arguments))
        if problem is not None:
            where = "/".join(str(p) for p in problem.absolute_path)
            detail = f"{problem.message} (at {where})" if where else problem.message
            return refused(f"invalid arguments for {self.name}: {detail}")
        result = await self._run(arguments)
        if result.truncated:
            return result
        text, truncated = cut(result.text, self.max_output_chars)
        return replace(result, text=text, truncated=True) if truncated else result

    @abstractmethod
    async def _run(self, arguments: dict[str, Any]) -> ToolResult:
        """Do the work for validated arguments; a result marked truncated is already cut."""


def _validator(name: str, schema: dict[str, Any]) -> Validator:
    # Only an agent with tools checks arguments: a run without tools never loads jsonschema.
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise UsageError(
            f"tool {name!r}: `parameters` is not a valid JSON Schema: {exc.message}"
        ) from None
    return cls(schema)
