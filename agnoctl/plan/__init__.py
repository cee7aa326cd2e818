"""`agnoctl plan`: what a run would do and what it could cost, worked out without a call.

`build_plan` computes a `Plan` (levels, fan-outs, loops, critical path, call/token/cost
ranges, provider concurrency, limit checks); `render_plan` prints it as text, JSON or
Markdown. `agnoctl run --dry-run` prints the same.
"""

from agnoctl.plan.build import DEFAULT_ASSUME_ITEMS, build_plan
from agnoctl.plan.model import SCHEMA_VERSION, Plan
from agnoctl.plan.render import PlanFormat, plan_json_schema, plan_schema_text, render_plan

__all__ = [
    "DEFAULT_ASSUME_ITEMS",
    "SCHEMA_VERSION",
    "Plan",
    "PlanFormat",
    "build_plan",
    "plan_json_schema",
    "plan_schema_text",
    "render_plan",
]
