"""Helpers for the spec tests: validate text in-process and pick diagnostics by code."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml

from agnoctl.spec import loader
from agnoctl.spec.diagnostics import Diagnostic
from agnoctl.spec.validate import validate_text

Check = Callable[[str], list[Diagnostic]]


@pytest.fixture
def check() -> Check:
    """Validate workflow text; return every diagnostic."""

    def run(text: str) -> list[Diagnostic]:
        return validate_text(text, "w.yaml").diagnostics

    return run


def codes(diagnostics: list[Diagnostic]) -> list[str]:
    return [d.code for d in diagnostics]


@pytest.fixture(params=["libyaml", "pure-python"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the C parser and again with the pure-Python fallback."""
    if request.param == "pure-python":
        monkeypatch.setattr(loader, "_Loader", loader.make_loader(yaml.SafeLoader))
    return str(request.param)
