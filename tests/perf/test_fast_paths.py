"""Every fast path agrees with the slow one it stands in for (no timing is asserted here).

- ``render`` reads ``{{ a.b }}`` templates itself: same text, or the same error, as Jinja2;
- ``metrics.prom`` is written by our own writer: byte for byte what prometheus-client writes;
- the journal is encoded by orjson: it reads back as the standard encoder's lines do;
- report.html details the failed steps of a big run first and says what it left out;
- a run freezes what lasts for the cycle collector, and hands it back.
"""

from __future__ import annotations

import datetime
import gc
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.exposition import generate_latest

from agnoctl.engine.context import StepEntry, StepsView
from agnoctl.engine.run import RunOptions, run_workflow
from agnoctl.events import EventSink, encode_line, read_events
from agnoctl.reports import html
from agnoctl.reports.metrics import RunCollector, render_metrics, run_events
from agnoctl.spec import templates
from agnoctl.spec.templates import TemplateError, render

# ---------------------------------------------------------------------------- render

NAMES = st.sampled_from(["steps", "inputs", "a", "item", "run", "none", "not", "range", "_x"])
PIECES = st.one_of(
    st.sampled_from(["text ", "\n", "\r\n", "{", "}", "{{", "}}", "{%", "{#", "x: y", " - "]),
    st.builds(
        lambda head, tail, left, right: f"{{{{{left}{'.'.join([head, *tail])}{right}}}}}",
        NAMES,
        st.lists(st.sampled_from(["a", "b", "output", "status", "id", "keys", "_x"]), max_size=3),
        st.sampled_from(["", " ", "- ", "\n"]),
        st.sampled_from(["", " ", " -", "\n"]),
    ),
)
CONTEXT: dict[str, Any] = {
    "inputs": {"a": "one", "b": {"a": 2, "b": None}, "keys": [1, 2]},
    "a": {"a": {"b": "deep"}, "output": 3.5},
    "item": None,
    "run": {"id": "r-1"},
    "steps": StepsView(
        {
            "a": StepEntry("succeeded", {"b": "x"}),
            "b": StepEntry("failed", None, children=StepsView({"a": StepEntry("skipped", 1)})),
        }
    ),
}


def _outcome(render_fn: Any, source: str) -> tuple[str, str]:
    try:
        return "text", render_fn(source, CONTEXT)
    except TemplateError as exc:
        return "error", exc.message


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PIECES, max_size=6).map("".join))
def test_simple_templates_render_as_jinja_renders_them(source: str) -> None:
    if templates.is_template(source):  # plain text is returned as it is, by both
        assert _outcome(render, source) == _outcome(templates._render_jinja, source)


def test_the_fast_path_takes_dotted_blocks_and_leaves_the_rest_to_jinja() -> None:
    assert templates._simple_parts("Hi {{ inputs.a }}!") == ("Hi {}!", (("inputs", ("a",)),))
    assert templates._simple_parts("{a}{{ x }}}") == ("{{a}}{}}}", (("x", ()),))
    for other in (
        "{{ a | upper }}",
        "{{- a }}",
        "{% if a %}x{% endif %}",
        "{{{ a }}",
        "a\r\n{{ a }}",
    ):
        assert templates._simple_parts(other) is None
    assert render("{{ steps.b.a.output }} {{ inputs.b.a }} {{ item }}", CONTEXT) == "1 2 None"
    with pytest.raises(TemplateError, match="undefined"):
        render("{{ inputs.missing }}", CONTEXT)
    with pytest.raises(TemplateError, match=r"sandbox|undefined"):
        render("{{ inputs.__class__ }}", CONTEXT)


# ---------------------------------------------------------------------------- metrics

FIXTURES = """\
steps:
  fan:
    items:
      1: [{error: {status: 503, message: busy}}, {text: ok}]
  judged: {json: {score: 0.4}}
"""
WORKFLOW = """\
version: 1
name: metrics-demo
agents:
  w: {model: mock/echo}
  s:
    model: mock/echo
    output_schema: {type: object, properties: {score: {type: number}}}
defaults:
  retry: {max_attempts: 2, initial_delay: 1ms, max_delay: 2ms}
steps:
  fan: {agent: w, for_each: [a, b, c], prompt: "{{ item }}"}
  judged:
    agent: s
    needs: [fan]
    prompt: score
    gates: [{type: threshold, field: score, min: 0.5}]
    on_gate_failure: warn
"""


def test_metrics_text_is_what_prometheus_client_writes(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(WORKFLOW, encoding="utf-8")
    (tmp_path / "f.yaml").write_text(FIXTURES, encoding="utf-8")
    report = run_workflow(
        tmp_path / "w.yaml",
        RunOptions(report_dir=tmp_path / "run", mock_fixtures=tmp_path / "f.yaml"),
    )
    events = run_events(tmp_path / "run")
    # Label values the text format must escape, in every family that reads events.
    odd = {"provider": 'p"1\\', "model": "m\nx", "step": "fan", "run_id": report.run_id}
    events += [
        {**odd, "type": "llm_call", "duration_ms": 12.5, "tokens_in": 3, "cost": 1e-7},
        {**odd, "type": "llm_call", "error": 'bad "gateway"\n'},
        {**odd, "type": "breaker_state", "new": "open"},
    ]
    text = render_metrics(report, events)
    assert "agnoctl_retries_total" in text and 'le="+Inf"' in text and r"p\"1\\" in text
    assert text == generate_latest(RunCollector(report, events)).decode("utf-8")


# ---------------------------------------------------------------------------- the journal


@pytest.mark.parametrize(
    "value",
    [
        {"output": "é ✓ \u2028 \x00", "n": [1, 2.5, -0.0, 1e-7, 1e22], "m": {1: "a", None: 2}},
        {"big": 2**80, "nested": {"t": (1, 2), "s": ["x"]}},
        {"date": datetime.date(2024, 1, 2), "set": {3}},
    ],
)
def test_journal_lines_read_back_as_the_standard_encoders_do(value: dict[str, Any]) -> None:
    event = {"seq": 1, "type": "step_succeeded", "output": value}
    line = encode_line(event)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    standard = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=_default)
    assert json.loads(line) == json.loads(standard)


def _default(value: object) -> object:
    return sorted(value) if isinstance(value, set) else str(value)


def test_nan_is_written_as_null_and_older_nan_lines_still_read(tmp_path: Path) -> None:
    assert json.loads(encode_line({"x": math.nan})) == {"x": None}
    journal = tmp_path / "events.jsonl"
    journal.write_bytes(b'{"seq":1,"x":NaN}\n{"seq":2}\n{"seq":3,"torn"')
    events = list(read_events(journal))
    assert [e["seq"] for e in events] == [1, 2] and math.isnan(events[0]["x"])


@pytest.mark.anyio
async def test_in_a_loop_a_turns_events_are_on_disk_by_the_next_turn(tmp_path: Path) -> None:
    import anyio

    journal = tmp_path / "events.jsonl"
    sink = EventSink(journal, "r")
    for number in range(3):
        sink.emit("step_started", step=f"s{number}")
    assert journal.read_bytes() == b""  # one write for the turn, not one per event
    await anyio.sleep(0)
    assert [e["seq"] for e in read_events(journal)] == [1, 2, 3]
    for number in range(300):  # a long turn (a chain of mock steps) does not wait for its end
        sink.emit("step_started", step=f"t{number}")
    assert len(list(read_events(journal))) == 3 + 256
    sink.close()  # the rest, before the fsync
    assert [e["seq"] for e in read_events(journal)] == list(range(1, 304))


def test_outside_a_loop_every_event_is_on_disk_when_emitted(tmp_path: Path) -> None:
    sink = EventSink(tmp_path / "events.jsonl", "r", redact=lambda s: s.replace("key", "***"))
    sink.emit("step_started", step="a", item=None)
    sink.emit("step_succeeded", step="a", output={"secret": "my key"})
    lines = (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()
    sink.close()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2]
    assert "item" not in json.loads(lines[0]) and "my ***" in lines[1]


# ---------------------------------------------------------------------------- report.html


def test_a_big_run_details_its_failures_first_and_says_what_it_left_out(tmp_path: Path) -> None:
    count = html.MAX_DETAILS + 50
    steps = {f"s{i}": {"agent": "w", "prompt": "p"} for i in range(count)}
    late = f"s{count - 1}"
    steps[late] = {"run": ["false"], "continue_on_error": True}
    workflow = {"version": 1, "name": "big", "agents": {"w": {"model": "mock/echo"}}}
    (tmp_path / "w.yaml").write_text(json.dumps({**workflow, "steps": steps}), encoding="utf-8")
    report = run_workflow(tmp_path / "w.yaml", RunOptions(report_dir=tmp_path / "run"))
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert page.count("<details") == html.MAX_DETAILS
    assert f'id="step-{late}"' in page  # the failed step, though it comes last
    assert f"{count - html.MAX_DETAILS} more are in report.json" in page
    assert f"{count - html.MAX_NODES} more not drawn" in page
    assert f"{len(report.cost.by_step) - html.MAX_COST_ROWS} more in report.json" in page


# ---------------------------------------------------------------------------- the collector


def test_a_run_hands_frozen_objects_back_and_leaves_an_applications_freeze(
    tmp_path: Path,
) -> None:
    (tmp_path / "w.yaml").write_text(
        "version: 1\nname: t\nagents: {w: {model: mock/echo}}\n"
        "steps: {a: {agent: w, prompt: hi}}\n",
        encoding="utf-8",
    )
    thresholds = gc.get_threshold()
    run_workflow(tmp_path / "w.yaml", RunOptions(report_dir=tmp_path / "one"))
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds  # raised for the run only
    gc.freeze()
    try:
        run_workflow(tmp_path / "w.yaml", RunOptions(report_dir=tmp_path / "two"))
        assert gc.get_freeze_count() > 0  # not unfrozen behind the application's back
    finally:
        gc.unfreeze()


def test_items_that_are_null_stay_in_the_report(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(
        "version: 1\nname: t\nagents: {w: {model: mock/echo}}\n"
        "steps: {fan: {agent: w, for_each: [null, 1], prompt: '{{ item }}'}}\n",
        encoding="utf-8",
    )
    report = run_workflow(tmp_path / "w.yaml", RunOptions(report_dir=tmp_path / "run"))
    items = report.steps["fan"].items or []
    assert [(i.item, i.output) for i in items] == [(None, "None"), (1, "1")]


# ---------------------------------------------------------------------------- step settings

SETTING_VALUES: dict[str, Any] = {
    "timeout": st.sampled_from([None, 5, "2m"]),
    "retry": st.sampled_from([None, {"max_attempts": 1}, {"max_attempts": 5, "jitter": "none"}]),
    "cache": st.sampled_from([None, False, True]),
    "continue_on_error": st.sampled_from([None, False, True]),
    "priority": st.sampled_from([None, 0, 7]),
    "tags": st.sampled_from([None, ["a"], {"team": "x"}]),
    "on_gate_failure": st.sampled_from([None, "warn", "retry"]),
    "max_concurrency": st.sampled_from([None, 1, 4]),
    "success_threshold": st.sampled_from([None, 0.5, 1.0]),
}


@settings(max_examples=300, deadline=None)
@given(
    own=st.fixed_dictionaries({}, optional={**SETTING_VALUES, "for_each": st.just(["x", "y"])}),
    defaults=st.fixed_dictionaries({}, optional=SETTING_VALUES),
)
def test_steps_that_set_no_setting_share_the_default_settings(
    own: dict[str, Any], defaults: dict[str, Any]
) -> None:
    """The scheduler hands such steps one shared Settings: it must be what they would get."""
    from agnoctl.engine.runtime import has_default_settings, settings_for
    from agnoctl.spec.models import StepDefaults, StepSpec

    if "for_each" not in own:
        own.pop("max_concurrency", None)  # only a for_each step may set it
    step = StepSpec.model_validate({"agent": "a", "prompt": "p", **own})
    workflow_defaults = StepDefaults.model_validate(defaults)
    bare = settings_for(StepSpec.model_construct(), workflow_defaults)
    if has_default_settings(step):
        assert settings_for(step, workflow_defaults) == bare


def test_most_steps_take_the_shared_settings() -> None:
    from agnoctl.engine.runtime import has_default_settings
    from agnoctl.spec.models import StepSpec

    assert has_default_settings(StepSpec.model_validate({"agent": "a", "prompt": "p"}))
    assert has_default_settings(StepSpec.model_validate({"run": ["x"], "cache": False}))
    assert not has_default_settings(StepSpec.model_validate({"run": ["x"], "priority": 0}))
