"""The public API of ``import agnoctl``: pinned, lazy, and importable."""

from __future__ import annotations

import subprocess
import sys

import pytest

import agnoctl


def test_all_is_pinned() -> None:
    assert agnoctl.__all__ == [
        "FunctionProvider",
        "MockProvider",
        "RunOptions",
        "RunReport",
        "Workflow",
        "__version__",
        "arun_workflow",
        "build_plan",
        "load_workflow",
        "render_plan",
        "run_workflow",
        "validate_file",
    ]


def test_every_name_resolves() -> None:
    for name in agnoctl.__all__:
        assert getattr(agnoctl, name) is not None


def test_import_stays_cheap() -> None:
    heavy = ("anyio", "pydantic", "agnoctl.engine")
    probe = f"import sys, agnoctl; print(any(m.startswith({heavy!r}) for m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="nothing_here"):
        agnoctl.nothing_here  # type: ignore[attr-defined]  # noqa: B018
