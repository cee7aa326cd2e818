"""Input values for planning: those of `agnoctl run`, except that a required input may be left out.

Parsing and type checks are `agnoctl.spec.inputs` (the module `run` uses), so `plan -i` and
`run -i` accept exactly the same values. Planning without a required input still works: the
input is absent from the result and `build_plan` shows it as a placeholder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agnoctl.spec.inputs import resolve_inputs
from agnoctl.spec.models import InputSpec

_NOT_GIVEN = object()


def plan_inputs(
    declared: Mapping[str, InputSpec],
    pairs: Sequence[str] = (),
    inputs_file: Path | None = None,
) -> dict[str, Any]:
    """Values from defaults, `--inputs-file` and `-i`; raises UsageError on a bad value."""
    relaxed = {
        name: spec.model_copy(update={"default": _NOT_GIVEN}) if spec.required else spec
        for name, spec in declared.items()
    }
    values = resolve_inputs(relaxed, pairs, inputs_file)
    return {name: value for name, value in values.items() if value is not _NOT_GIVEN}


__all__ = ["plan_inputs"]
