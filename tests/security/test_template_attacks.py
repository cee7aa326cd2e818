"""Hostile templates: `${VAR}` values are data, templates cannot change run state, build past
the render cap, or nest deep enough to crash the parser.

Every case runs the real CLI in a subprocess whose address space is capped at 1 GiB, so a
template that built a huge string would end in a MemoryError rather than exhaust the machine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from agnoctl.spec.template_bounds import TemplateError
from agnoctl.spec.templates import evaluate, literal_source, render
from tests.security import cli

PRINT = "import os, sys; print(sys.argv[1], os.environ['V'])"
# What a pull request's title could hold: template code, the end of a raw block, a quote that
# closes the string literal it is written into.
HOSTILE = {
    "PR_TITLE": "{{ env }} {{ run.id }}",
    "QUOTE": "' ~ env.TOKEN ~ '",
    "RAW": "{% endraw %}{{ env }}",
    "BRACE": "{ env }}",
    "MODE": "x' or 'a' == 'a",
    "PLANTED": "planted-token-4242",
}


def agnoctl(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real CLI, in ``cwd``, with its memory capped."""
    environment = {**os.environ, **(env or {})}
    return cli.agnoctl(cwd, *args, env=environment, timeout=120, limits=cli.CAPPED_MEMORY)


def _write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "name": "hostile", **doc}), encoding="utf-8")
    return path


def _steps(tmp_path: Path) -> dict[str, Any]:
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    steps: dict[str, Any] = report["steps"]
    return {"outputs": report["outputs"], **steps}


# ---------------------------------------------------------------------------- ${VAR} is data


def test_a_variable_s_value_is_data_in_every_template_field(tmp_path: Path) -> None:
    """A value renders as its own text wherever it is substituted: in a prompt's text, inside
    `{{ }}` (bare or inside a string literal), inside `{% raw %}`, after a `{`, in command
    arguments and `env`, in `outputs`, and in an `if` (as a string)."""
    title = HOSTILE["PR_TITLE"]
    _write(
        tmp_path,
        {
            "env": {"TOKEN": "${PLANTED}"},
            "agents": {"a": {"model": "mock/echo"}},
            "steps": {
                "text": {"agent": "a", "prompt": "T ${PR_TITLE:-x}"},
                "string": {"agent": "a", "prompt": "{{ '${QUOTE}' | upper }}"},
                "bare": {"agent": "a", "prompt": "{{ ${PR_TITLE} }}"},
                "raw": {"agent": "a", "prompt": "{% raw %}${RAW}{% endraw %}"},
                "brace": {"agent": "a", "prompt": "{${BRACE}"},
                "command": {
                    "run": [sys.executable, "-c", PRINT, "${PR_TITLE}"],
                    "env": {"V": "${QUOTE}"},
                },
                "condition": {"agent": "a", "prompt": "ran", "if": "'${MODE}' == 'go'"},
                "compared": {"agent": "a", "prompt": "ran", "if": '${MODE} == "${MODE}"'},
            },
            "outputs": {"title": "${PR_TITLE}", "quoted": "{{ '${QUOTE}' }}"},
        },
    )
    validated = agnoctl(tmp_path, "validate", "wf.yaml", env=HOSTILE)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert agnoctl(tmp_path, "plan", "wf.yaml", env=HOSTILE).returncode == 0
    result = agnoctl(tmp_path, "run", "wf.yaml", "--report-dir", "out", env=HOSTILE)
    assert result.returncode == 0, result.stderr[-2000:]
    steps = _steps(tmp_path)
    assert steps["text"]["output"] == f"T {title}"
    assert steps["string"]["output"] == HOSTILE["QUOTE"].upper()
    assert steps["bare"]["output"] == title
    assert steps["raw"]["output"] == HOSTILE["RAW"]
    assert steps["brace"]["output"] == "{" + HOSTILE["BRACE"]
    assert steps["command"]["output"] == f"{title} {HOSTILE['QUOTE']}"
    assert steps["condition"]["status"] == "skipped"
    assert steps["compared"]["status"] == "succeeded"
    assert steps["outputs"] == {"title": title, "quoted": HOSTILE["QUOTE"]}
    files = [path for path in (tmp_path / "out").rglob("*") if path.is_file()]
    assert not any(HOSTILE["PLANTED"] in path.read_text(errors="replace") for path in files)


VALUES = [
    "{{ env }}",
    "' ~ env ~ '",
    '" ~ env ~ "',
    "{% endraw %}{{ env }}{% raw %}",
    "#}{{ env }}{#",
    "}}{{ env }}{{",
    "%}{% if true %}x{% endif %}",
    "\\",
    "\\'",
    "line\nnext\ttab",
    "caf\u00e9 \U0001f600",
    "{",
    "%",
    "",
]
# (before, after, what the template renders: VALUE is the value's text)
AROUND = [
    ("T ", " .", "T VALUE ."),
    ("{{ '", "' }}", "VALUE"),
    ('{{ "', '" | upper | lower }}', "VALUE"),
    ("{% raw %}", "{% endraw %}", "VALUE"),
    ("{", "", "{VALUE"),
    ("{{ ", " }}", "VALUE"),
    ("{{ [", "] | first }}", "VALUE"),
    ("{# ", " #}", ""),
]


@pytest.mark.parametrize("value", VALUES)
def test_a_substituted_value_renders_as_its_own_text(value: str) -> None:
    """Whatever the value and wherever it stands, it renders as its own text."""
    for before, after, expected in AROUND:
        source = literal_source([before, value, after], expression=False)
        assert render(source, {}) == expected.replace("VALUE", value), source
    same = literal_source(
        ["{% if ", value, " == '", value, "' %}same{% endif %}"], expression=False
    )
    assert render(same, {}) == "same"
    assert evaluate(literal_source(["", value, ""], expression=True), {}) == value
    joined = literal_source(["'<", value, ">' ~ ", value], expression=True)
    assert evaluate(joined, {}) == f"<{value}>{value}"


# ---------------------------------------------------------------------------- run state


def test_templates_may_not_change_run_state(tmp_path: Path) -> None:
    """`inputs.update(...)` made later steps see EVIL while the report showed `orig`. Written
    out it is E420 at validation; reached another way it fails its step, and nothing changes."""
    agents = {"a": {"model": "mock/echo"}}
    _write(
        tmp_path,
        {
            "inputs": {"x": {"type": "string", "default": "orig"}},
            "agents": agents,
            "steps": {"s": {"agent": "a", "prompt": "{% set _ = inputs.update({'x': 1}) %}"}},
        },
    )
    validated = agnoctl(tmp_path, "validate", "wf.yaml")
    assert validated.returncode == 2
    assert "E420 steps.s.prompt: templates may not modify values (`.update(...)`)" in (
        validated.stdout
    )
    evil = "{% set f = inputs | attr('update') %}{% set _ = f({'x': 'EVIL'}) %}{{ inputs.x }}"
    _write(
        tmp_path,
        {
            "inputs": {"x": {"type": "string", "default": "orig"}, "l": {"type": "array"}},
            "agents": agents,
            "steps": {
                "update": {"agent": "a", "prompt": evil, "continue_on_error": True},
                "append": {
                    "agent": "a",
                    "prompt": "{{ (inputs.l | attr('append'))('EVIL') }}",
                    "continue_on_error": True,
                },
                "steps_set": {
                    "needs": ["update", "append"],
                    "agent": "a",
                    "prompt": "{{ (steps | attr('set'))('update', steps.append) }}",
                    "continue_on_error": True,
                },
                "later": {
                    "needs": ["update", "append", "steps_set"],
                    "agent": "a",
                    "prompt": "{{ inputs.x }} {{ inputs.l }} {{ steps.update.status }}",
                },
            },
        },
    )
    result = agnoctl(tmp_path, "run", "wf.yaml", "-i", "l=[]", "--report-dir", "out")
    assert result.returncode == 0, result.stderr[-2000:]  # the failures are continue_on_error
    assert "Traceback" not in result.stderr
    steps = _steps(tmp_path)
    refused = "refused by the template sandbox: templates may not "
    assert refused + "modify values: dict.update() would" in steps["update"]["error"]["message"]
    assert refused + "modify values: list.append() would" in steps["append"]["error"]["message"]
    assert refused + "call StepsView.set(): the run's" in steps["steps_set"]["error"]["message"]
    assert steps["later"]["output"] == "orig [] failed"


# ---------------------------------------------------------------------------- size


# Written out as constants, the first four are E421 at validation (CONSTANT_BLOW_UPS); the
# run refuses them as it refuses a count that comes from an input.
CONSTANT_BLOW_UPS = {
    "multiply": "{{ 'x' * 10000000000 }}",
    "list": "{{ ['x'] * 10000000000 }}",
    "power": "{{ 9 ** 999999999 }}",
    "percent": "{{ '%*s' % (10000000000, 'x') }}",
}
BLOW_UPS = {
    "multiply": ("{{ 'x' * inputs.n }}", "`*` would build about 10,000,000,000 characters"),
    "list": ("{{ ['x'] * inputs.n }}", "`*` would build about"),
    "power": ("{{ 9 ** (inputs.n // 10) }}", "`**` would build an integer of more than"),
    "concat": (
        "{% set s = 'x' * 2000000 %}{{ s ~ s ~ s ~ s }}",
        "`~` would build about 8,000,000 characters",
    ),
    "doubling": (
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}",
        "`~` would build about 2,097,152 characters",
    ),
    "center": ("{{ 'x' | center(10000000000) }}", "the center filter would build"),
    "indent": ("{{ 'a\nb' | indent(10000000000) }}", "the indent filter would build"),
    "format_filter": ("{{ '%10000000000s' | format('x') }}", "the format filter would build"),
    "percent": ("{{ '%*s' % (inputs.n, 'x') }}", "`%` formatting would build"),
    "str_format": ("{{ '{:{}}'.format('x', 10000000000) }}", "str.format() would build"),
    "str_method": ("{{ 'x'.ljust(10000000000) }}", "str.ljust() would build"),
    "replace": ("{{ ('x' * 1000000) | replace('x', 'x' * 1000) }}", "the replace filter"),
    "join": ("{% set s = 'x' * 1000000 %}{{ [s, s, s] | join }}", "the join filter would"),
    "batch": ("{{ [1] | batch(10000000000, 0) | list }}", "the batch filter would build"),
    "lipsum": ("{{ lipsum(10000000) }}", "lipsum() would build"),
    "block": (
        "{% set s = 'x' * 1000000 %}{% set b %}{% for i in range(1000) %}{{ s }}{% endfor %}"
        "{% endset %}{{ b | length }}",
        "rendered text is longer than 2000000 characters",
    ),
    "recursion": (
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        "the template recursed too deeply",
    ),
    "range": ("{{ range(inputs.n) | length }}", "range() would give 10,000,000,000 numbers"),
}


def test_a_template_may_not_build_past_the_render_cap(tmp_path: Path) -> None:
    """`{{ 'x' * 10000000000 }}` passed validation and hung the run: written out, it is E421
    at validation; with a count from an input, each of these is refused before it is built,
    fails its own step with a message saying what, and the run ends at once within 1 GiB."""
    agents = {"a": {"model": "mock/echo"}}
    _write(
        tmp_path,
        {
            "agents": agents,
            "steps": {
                n: {"agent": "a", "prompt": source} for n, source in CONSTANT_BLOW_UPS.items()
            },
        },
    )
    validated = agnoctl(tmp_path, "validate", "wf.yaml")
    assert validated.returncode == 2, validated.stderr[-2000:]
    for name in CONSTANT_BLOW_UPS:
        assert f"error E421 steps.{name}.prompt: " in validated.stdout, name
    _write(
        tmp_path,
        {
            "inputs": {"n": {"type": "integer", "default": 10000000000}},
            "agents": agents,
            "steps": {
                name: {"agent": "a", "prompt": source} for name, (source, _) in BLOW_UPS.items()
            },
        },
    )
    assert agnoctl(tmp_path, "validate", "wf.yaml").returncode == 0
    started = time.monotonic()
    result = agnoctl(tmp_path, "run", "wf.yaml", "--report-dir", "out")
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert elapsed < 60  # generous: the refusals cost milliseconds, a blow-up minutes
    steps = _steps(tmp_path)
    for name, (_, message) in BLOW_UPS.items():
        assert steps[name]["status"] == "failed", name
        assert message in steps[name]["error"]["message"], name


def test_range_gives_a_million_numbers_lazily_and_refuses_past_its_cap() -> None:
    """A million-item for_each is `range(1000000)`: a lazy range, past Jinja2's own 100,000;
    what is built from it is measured as everything else, and the count stays capped."""
    numbers = evaluate("range(1000000)", {})
    assert isinstance(numbers, range) and len(numbers) == 1_000_000
    assert render("{{ range(1000000) | length }}", {}) == "1000000"
    with pytest.raises(TemplateError, match="range\\(\\) would give 10,000,001 numbers"):
        evaluate("range(10000001)", {})


@pytest.mark.parametrize(
    ("source", "says"),
    [
        # A list of ten million numbers is 400 MB: measured as the list it becomes.
        ("{{ range(10000000) | list | length }}", "the list filter would build about 100,000,002"),
        ("{{ range(10000000) | batch(1) | first }}", "the batch filter would build"),
        # An iteration over a range is listed only while it can fit (a million items).
        ("{{ range(10000000) | unique | list | length }}", "would list more than 1,000,000 items"),
        ("{{ range(10 ** 30) | length }}", "range() would give 1,000,000,000,000,000,000,000,"),
    ],
)
def test_what_is_built_from_a_long_range_is_measured_before_it_is_built(
    source: str, says: str
) -> None:
    with pytest.raises(TemplateError, match=re.escape(says)):
        render(source, {})


# ---------------------------------------------------------------------------- nesting


def test_deep_nesting_is_a_located_error_never_a_traceback(tmp_path: Path) -> None:
    """Expressions and templates nested 3,000 deep ended in RecursionError tracebacks."""
    parens = "(" * 3000 + "true" + ")" * 3000
    lists = "[" * 3000 + "1" + "]" * 3000
    chain = " + ".join(["1"] * 3000)
    (tmp_path / "wf.yaml").write_text(
        "version: 1\n"
        "name: hostile\n"
        "agents: {a: {model: mock/echo}}\n"
        "steps:\n"
        f"  parens: {{agent: a, prompt: x, if: '{parens}'}}\n"
        f"  lists: {{agent: a, prompt: '{{{{ {lists} }}}}'}}\n"
        f"  chain: {{agent: a, prompt: x, for_each: '[{chain}]'}}\n",
        encoding="utf-8",
    )
    for command in ("validate", "plan", "run"):
        result = agnoctl(tmp_path, command, "wf.yaml")
        assert result.returncode == 2, (command, result.stderr[-2000:])
        assert "Traceback" not in result.stdout + result.stderr
    output = agnoctl(tmp_path, "validate", "wf.yaml").stdout
    too_deep = "{0} syntax error: the {0} nests too deeply to compile"
    assert f"wf.yaml:5:38: error E405 steps.parens.if: {too_deep.format('expression')}" in output
    assert f"wf.yaml:6:30: error E404 steps.lists.prompt: {too_deep.format('template')}" in output
    assert (
        f"wf.yaml:7:43: error E405 steps.chain.for_each: {too_deep.format('expression')}" in output
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("false", False), ("True", True), ("null", None), ("3", 3), ("-2.5", -2.5), ("1e3", 1000.0)],
)
def test_a_value_yaml_reads_as_a_constant_is_that_constant_in_code(
    value: str, expected: object
) -> None:
    """`if: "${DEEP:-false}"` is false and `inputs.n > ${MIN}` compares numbers."""
    assert evaluate(literal_source(["", value, ""], expression=True), {}) == expected
    if isinstance(expected, float | int) and not isinstance(expected, bool):
        assert (
            evaluate(literal_source(["n-", value, ""], expression=True), {"n": 1}) == 1 - expected
        )
    assert render(literal_source(["{{ ", value, " is string }}"], expression=False), {}) == "False"


@pytest.mark.parametrize("value", ["007", "1.", "0x1f", "false positive", "3; x"])
def test_a_value_that_is_not_a_constant_is_text_in_code(value: str) -> None:
    assert evaluate(literal_source(["", value, ""], expression=True), {}) == value
