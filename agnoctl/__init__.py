"""agnoctl: a declarative, CI-native runner for multi-agent LLM workflows.

The library API is imported on first use, so ``import agnoctl`` (and ``agnoctl --help``) stays
cheap::

    import agnoctl
    report = agnoctl.run_workflow("workflow.yaml", inputs={"topic": "fintech"}, mock=True)
    print(report.status, report.outputs)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from agnoctl.engine.run import RunOptions, run_workflow
    from agnoctl.reports.model import RunReport

_LAZY = {
    "RunOptions": "agnoctl.engine.run",
    "RunReport": "agnoctl.reports.model",
    "run_workflow": "agnoctl.engine.run",
}

__all__ = ["RunOptions", "RunReport", "__version__", "run_workflow"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agnoctl' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
