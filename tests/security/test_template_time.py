"""A template's running time is bounded: loops and macros that build nothing the size caps
see (nested over ranges, over an input's list, recursing) fail their own step after a
bounded amount of work instead of holding the run's event loop, its timeouts and Ctrl-C.

Each case runs the real CLI in its own process, killed if it is still running after the
timeout: before the bound, every one of these templates rendered for hours.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.security import cli

LOOPS = {
    "nested_ranges": (
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
    ),
    "nested_over_an_input": (
        "{% for a in inputs.words %}{% for b in inputs.words %}{% for c in inputs.words %}"
        "{% endfor %}{% endfor %}{% endfor %}"
    ),
    "recursive_loop": (
        "{% for i in range(3000) recursive %}"
        "{% if loop.depth == 1 %}{{ loop(range(10000000)) }}{% endif %}{% endfor %}"
    ),
    "macro_in_nested_loops": (
        "{% macro shout(x) %}{{ x }}{% endmacro %}"
        "{% for i in range(99999) %}{% for j in range(99999) %}"
        "{% if shout(j) == 'never' %}{% endif %}{% endfor %}{% endfor %}"
    ),
}
SAYS = "the template ran past 10,000,000 steps of work in one render"  # MAX_TEMPLATE_WORK
SHOULD_NOT = "templates should not loop that much"
# Long enough for the four bounded renders on a loaded machine; the unbounded ones took hours.
TIMEOUT = 120


def _write(tmp_path: Path, steps: dict[str, Any]) -> None:
    doc = {
        "version": 1,
        "name": "loops",
        "inputs": {"words": {"type": "array", "default": [f"w{n}" for n in range(1000)]}},
        "agents": {"a": {"model": "mock/echo"}},
        "steps": steps,
    }
    (tmp_path / "wf.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")


def test_loops_that_run_too_long_fail_their_steps_and_the_run_goes_on(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            **{name: {"agent": "a", "prompt": source} for name, source in LOOPS.items()},
            "small_loop": {
                "agent": "a",
                "prompt": "{% for w in inputs.words %}{{ loop.index }}{% endfor %}",
            },
        },
    )
    result = cli.agnoctl(tmp_path, "run", "wf.yaml", "--report-dir", "out", timeout=TIMEOUT)
    assert result.returncode == 1, result.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    steps = report["steps"]
    for name in LOOPS:
        assert steps[name]["status"] == "failed", name
        assert steps[name]["error"]["kind"] == "template", name
        assert SAYS in steps[name]["error"]["message"], name
        assert SHOULD_NOT in steps[name]["error"]["message"], name
    assert steps["small_loop"]["status"] == "succeeded"
    assert report["status"] == "failed"


def test_plan_ends_with_the_error_instead_of_rendering_for_hours(tmp_path: Path) -> None:
    _write(tmp_path, {"nested": {"agent": "a", "prompt": LOOPS["nested_ranges"]}})
    result = cli.agnoctl(tmp_path, "plan", "wf.yaml", timeout=TIMEOUT)
    assert SAYS in result.stdout + result.stderr, (result.stdout + result.stderr)[-2000:]
