"""agnoctl: a declarative, CI-native runner for multi-agent LLM workflows.

The library API is imported on first use, so ``import agnoctl`` (and ``agnoctl --help``) stays
cheap::

    import agnoctl
    report = agnoctl.run_workflow("workflow.yaml", inputs={"topic": "fintech"}, mock=True)
    print(report.status, report.outputs)

Inside a running event loop (an async web app, a notebook), await ``arun_workflow`` instead:
``report = await agnoctl.arun_workflow("workflow.yaml", mock=True)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agnoctl.version import __version__

if TYPE_CHECKING:
    from agnoctl.plan import build_plan, render_plan
    from agnoctl.providers.function import FunctionProvider
    from agnoctl.providers.mock import MockProvider
    from agnoctl.reports.model import RunReport
    from agnoctl.session import RunOptions, arun_workflow, run_workflow
    from agnoctl.spec.models import Workflow
    from agnoctl.spec.validate import load_workflow, validate_file

_LAZY = {
    "FunctionProvider": "agnoctl.providers.function",
    "MockProvider": "agnoctl.providers.mock",
    "RunOptions": "agnoctl.session",
    "RunReport": "agnoctl.reports.model",
    "Workflow": "agnoctl.spec.models",
    "arun_workflow": "agnoctl.session",
    "build_plan": "agnoctl.plan",
    "load_workflow": "agnoctl.spec.validate",
    "render_plan": "agnoctl.plan",
    "run_workflow": "agnoctl.session",
    "validate_file": "agnoctl.spec.validate",
}

__all__ = [
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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agnoctl' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
