"""SPEC "Steps" and "Dependencies and status", run in-process on the mock provider."""

from __future__ import annotations

from typing import Any

import pytest
from engine_flows import Runner, statuses, workflow

JSON_AGENT = {
    "model": "mock/echo",
    "output_schema": {
        "type": "object",
        "required": ["ok"],
        "properties": {"ok": {"type": "boolean"}},
    },
}
FAIL = {"error": {"status": 400, "message": "scripted failure"}}


def branches(ok: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = workflow(
        {
            "check": {"agent": "j", "prompt": "Is it ok?"},
            "yes": {
                "agent": "a",
                "needs": ["check"],
                "if": "steps.check.output.ok",
                "prompt": "yes",
            },
            "no": {
                "agent": "a",
                "needs": ["check"],
                "if": "not steps.check.output.ok",
                "prompt": "no",
            },
            "join": {
                "agent": "a",
                "needs": ["yes", "no"],
                "prompt": "{{ steps.yes.output or steps.no.output }} ({{ steps.no.status }})",
            },
        },
        agents={"a": {"model": "mock/echo"}, "j": JSON_AGENT},
        outputs={"answer": "{{ steps.join.output }}", "skipped": "{{ steps.no.output }}"},
    )
    return spec, {"steps": {"check": {"json": {"ok": ok}}}}


@pytest.mark.parametrize(("ok", "taken", "other"), [(True, "yes", "no"), (False, "no", "yes")])
def test_if_else_branches_join(run: Runner, ok: bool, taken: str, other: str) -> None:
    spec, fixtures = branches(ok)
    report = run(spec, fixtures)
    assert report.status == "passed" and report.exit_code == 0
    assert statuses(report) == {
        "check": "succeeded",
        taken: "succeeded",
        other: "skipped:condition",
        "join": "succeeded",
    }
    assert report.steps[other].output is None
    assert report.outputs["answer"].startswith(taken)
    # condition skips are not counted against the run
    assert (report.succeeded, report.total) == (3, 3)


def test_a_skipped_branch_reads_as_null_in_outputs(run: Runner) -> None:
    spec, fixtures = branches(True)
    report = run(spec, fixtures)
    assert report.outputs["skipped"] is None
    assert (run.run_dir / "outputs" / "skipped.txt").read_text() == ""


def test_failed_need_skips_dependents_transitively(run: Runner) -> None:
    report = run(
        workflow(
            {
                "a": {"agent": "a", "prompt": "a"},
                "b": {"agent": "a", "needs": ["a"], "prompt": "b"},
                "c": {"agent": "a", "needs": ["b"], "prompt": "c"},
                "free": {"agent": "a", "prompt": "free"},
            }
        ),
        {"steps": {"a": FAIL}},
    )
    assert statuses(report) == {
        "a": "failed",
        "b": "skipped:upstream_failed",
        "c": "skipped:upstream_failed",
        "free": "succeeded",
    }
    assert report.status == "failed" and report.exit_code == 1
    assert report.steps["a"].error is not None
    assert "HTTP 400" in report.steps["a"].error.message
    assert report.steps["a"].error.kind == "bad_request"
    assert "1 of 4 steps succeeded" in report.reason


def test_continue_on_error_lets_dependents_run_and_does_not_count(run: Runner) -> None:
    report = run(
        workflow(
            {
                "flaky": {"agent": "a", "prompt": "x", "continue_on_error": True},
                "after": {
                    "agent": "a",
                    "needs": ["flaky"],
                    "prompt": "got {{ steps.flaky.output is none }} {{ steps.flaky.status }}",
                },
            }
        ),
        {"steps": {"flaky": FAIL}},
    )
    assert statuses(report) == {"flaky": "failed", "after": "succeeded"}
    assert report.steps["flaky"].output is None
    assert report.steps["after"].output == "got True failed"
    assert report.status == "passed"
    assert (report.succeeded, report.total) == (1, 1)


def test_continue_on_error_from_defaults(run: Runner) -> None:
    spec = workflow(
        {
            "flaky": {"agent": "a", "prompt": "x"},
            "after": {"agent": "a", "needs": ["flaky"], "prompt": "y"},
        },
        defaults={"retry": {"max_attempts": 1}, "continue_on_error": True},
    )
    report = run(spec, {"steps": {"flaky": FAIL}})
    assert statuses(report) == {"flaky": "failed", "after": "succeeded"}
    assert report.steps["flaky"].continue_on_error


@pytest.mark.parametrize(
    ("failing", "status", "share"), [([1], "succeeded", 0.67), ([0, 2], "failed", 0.33)]
)
def test_for_each_success_threshold(
    run: Runner, failing: list[int], status: str, share: float
) -> None:
    spec = workflow(
        {
            "collect": {
                "agent": "a",
                "for_each": "inputs.sources",
                "prompt": "collect from {{ item }} ({{ index }})",
                "success_threshold": 0.67,
            }
        },
        inputs={"sources": {"type": "array", "default": ["web", "filings", "news"]}},
    )
    report = run(spec, {"steps": {"collect": {"items": dict.fromkeys(failing, FAIL)}}})
    step = report.steps["collect"]
    assert step.status == status
    assert (step.succeeded, step.total, step.share) == (3 - len(failing), 3, share)
    assert step.items is not None and [i.status == "succeeded" for i in step.items] == [
        i not in failing for i in range(3)
    ]
    assert step.output == [
        None if i in failing else f"collect from {s} ({i})"
        for i, s in enumerate(["web", "filings", "news"])
    ]
    if status == "failed":
        assert step.error is not None and "1 of 3 items succeeded (0.33)" in step.error.message


def test_for_each_over_a_previous_output_and_results(run: Runner) -> None:
    spec = workflow(
        {
            "list": {
                "run": ["printf", '["b", "a", "c"]'],
                "output_schema": {"type": "array", "items": {"type": "string"}},
            },
            "each": {
                "agent": "a",
                "needs": ["list"],
                "for_each": "steps.list.output",
                "prompt": "{{ index }}={{ item }}",
            },
            "sum": {
                "agent": "a",
                "needs": ["each"],
                "prompt": "{% for r in steps.each.results %}{{ r.item }}:{{ r.status }} "
                "{% endfor %}",
            },
        }
    )
    report = run(spec)
    assert report.steps["each"].output == ["0=b", "1=a", "2=c"]
    assert report.steps["sum"].output == "b:succeeded a:succeeded c:succeeded "


def test_for_each_over_an_empty_list_succeeds(run: Runner) -> None:
    report = run(workflow({"none": {"agent": "a", "for_each": [], "prompt": "x"}}))
    assert report.steps["none"].status == "succeeded"
    assert report.steps["none"].output == []


def test_for_each_that_is_not_a_list_fails_the_step(run: Runner) -> None:
    # A literal such as "'text'" is refused by validation (E419): this string comes from a filter.
    report = run(workflow({"bad": {"agent": "a", "for_each": "'text' | trim", "prompt": "x"}}))
    step = report.steps["bad"]
    assert step.status == "failed" and step.error is not None
    assert "for_each must give a list, but `'text' | trim` gave a string ('text')" in (
        step.error.message
    )


def test_nested_groups_and_their_outputs(run: Runner) -> None:
    spec = workflow(
        {
            "first": {"agent": "a", "prompt": "first"},
            "outer": {
                "needs": ["first"],
                "steps": {
                    "draft": {"agent": "a", "prompt": "draft after {{ steps.first.output }}"},
                    "inner": {
                        "needs": ["draft"],
                        "steps": {
                            "edit": {"agent": "a", "prompt": "edit {{ steps.outer.draft.output }}"},
                        },
                    },
                },
            },
            "last": {
                "agent": "a",
                "needs": ["outer"],
                "prompt": "{{ steps.outer.inner.edit.output }}|{{ steps.outer.output.draft }}",
            },
        }
    )
    report = run(spec)
    assert report.status == "passed"
    assert report.steps["outer"].output == {
        "draft": "draft after first",
        "inner": {"edit": "edit draft after first"},
    }
    assert report.steps["last"].output == "edit draft after first|draft after first"
    assert [s.path for s in report.all_steps()] == [
        "first",
        "outer",
        "outer.draft",
        "outer.inner",
        "outer.inner.edit",
        "last",
    ]


@pytest.mark.parametrize(("threshold", "status"), [(0.5, "succeeded"), (1.0, "failed")])
def test_group_success_threshold(run: Runner, threshold: float, status: str) -> None:
    spec = workflow(
        {
            "g": {
                "success_threshold": threshold,
                "steps": {
                    "ok": {"agent": "a", "prompt": "ok"},
                    "bad": {"agent": "a", "prompt": "bad"},
                    "cond": {"agent": "a", "prompt": "never", "if": "false"},
                    "tolerated": {"agent": "a", "prompt": "t", "continue_on_error": True},
                },
            },
            "after": {"agent": "a", "needs": ["g"], "prompt": "after"},
        }
    )
    report = run(spec, {"steps": {"g.bad": FAIL, "g.tolerated": FAIL}})
    group = report.steps["g"]
    assert group.status == status
    assert (group.succeeded, group.total) == (1, 2)  # condition skip and tolerated left out
    assert report.steps["after"].status == ("succeeded" if status == "succeeded" else "skipped")


def loop_spec(max_iterations: int, on_exhausted: str = "succeed") -> dict[str, Any]:
    return workflow(
        {
            "revise": {
                "loop": {
                    "max_iterations": max_iterations,
                    "until": "steps.revise.review.output.approved",
                    "on_exhausted": on_exhausted,
                },
                "steps": {
                    "draft": {
                        "agent": "a",
                        "prompt": "draft {{ loop.iteration }} after "
                        "{{ loop.previous.draft or 'nothing' }}",
                    },
                    "review": {
                        "agent": "j",
                        "needs": ["draft"],
                        "prompt": "review {{ steps.revise.draft.output }}",
                    },
                },
            },
            "publish": {
                "agent": "a",
                "needs": ["revise"],
                "prompt": "publish {{ steps.revise.draft.output }}",
            },
        },
        agents={
            "a": {"model": "mock/echo"},
            "j": {
                "model": "mock/echo",
                "output_schema": {
                    "type": "object",
                    "required": ["approved"],
                    "properties": {"approved": {"type": "boolean"}},
                },
            },
        },
    )


def test_loop_stops_when_until_is_true(run: Runner) -> None:
    fixtures = {
        "steps": {
            "revise.review": [
                {"json": {"approved": False}},
                {"json": {"approved": True}},
                {"json": {"approved": False}},
            ]
        }
    }
    report = run(loop_spec(5), fixtures)
    group = report.steps["revise"]
    assert group.status == "succeeded" and group.loop is not None
    assert (group.loop.iterations, group.loop.until_met, group.loop.exhausted) == (2, True, False)
    assert [o["draft"] for o in group.loop.outputs] == [
        "draft 1 after nothing",
        "draft 2 after draft 1 after nothing",
    ]
    assert report.steps["publish"].output == "publish draft 2 after draft 1 after nothing"
    iterations = [e["iteration"] for e in run.events() if e["type"] == "loop_iteration_finished"]
    assert iterations == [1, 2]


@pytest.mark.parametrize(("on_exhausted", "status"), [("succeed", "succeeded"), ("fail", "failed")])
def test_loop_that_spends_its_iterations(run: Runner, on_exhausted: str, status: str) -> None:
    report = run(
        loop_spec(3, on_exhausted), {"steps": {"revise.review": {"json": {"approved": False}}}}
    )
    group = report.steps["revise"]
    assert group.status == status and group.loop is not None
    assert (group.loop.iterations, group.loop.exhausted) == (3, True)
    assert group.output is not None and group.output["draft"].startswith("draft 3 after")
    if status == "failed":
        assert group.error is not None and group.error.kind == "loop_exhausted"
        assert report.steps["publish"].status == "skipped"
    else:
        assert report.status == "passed"


def test_for_each_group_items_see_their_own_children(run: Runner) -> None:
    spec = workflow(
        {
            "fan": {
                "for_each": ["x", "y"],
                "steps": {
                    "one": {"agent": "a", "prompt": "one {{ item }}"},
                    "two": {
                        "agent": "a",
                        "needs": ["one"],
                        "prompt": "two {{ steps.fan.one.output }} {{ index }}",
                    },
                },
            }
        }
    )
    report = run(spec, {"steps": {"fan.two": {"items": {1: FAIL}, "default": {"text": "fine"}}}})
    fan = report.steps["fan"]
    assert fan.status == "failed" and fan.items is not None
    assert fan.items[0].output == {"one": "one x", "two": "fine"}
    assert fan.items[1].status == "failed" and fan.items[1].steps is not None
    assert fan.items[1].steps["two"].status == "failed"
    prompts = [e for e in run.events() if e["type"] == "llm_call" and e["step"].endswith("two")]
    assert {e["step"] for e in prompts} == {"fan[0].two", "fan[1].two"}


def test_template_error_names_step_field_and_name(run: Runner) -> None:
    spec = workflow(
        {
            "analyse": {"agent": "j", "prompt": "x"},
            "brief": {
                "agent": "a",
                "needs": ["analyse"],
                "prompt": "{{ steps.analyse.output.sumary }}",
            },
        },
        agents={"a": {"model": "mock/echo"}, "j": JSON_AGENT},
    )
    report = run(spec)
    error = report.steps["brief"].error
    assert error is not None and error.kind == "template"
    assert error.message == (
        "step brief: prompt: undefined value: 'dict object' has no attribute 'sumary'"
    )
    assert len(report.steps["brief"].attempts) == 0  # rendering failed before any attempt


def test_sandbox_escape_is_refused(run: Runner) -> None:
    report = run(
        workflow(
            {"evil": {"agent": "a", "prompt": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}}
        )
    )
    error = report.steps["evil"].error
    assert report.steps["evil"].status == "failed" and error is not None
    assert "refused by the template sandbox" in error.message
    assert "__subclasses__" not in str(report.steps["evil"].output)


def test_if_expression_error_fails_the_step(run: Runner) -> None:
    report = run(
        workflow(
            {
                "t": {"agent": "a", "prompt": "text"},
                "s": {
                    "agent": "a",
                    "prompt": "x",
                    "needs": ["t"],
                    "if": "steps.t.output.missing > 1",
                },
            }
        )
    )
    assert report.steps["s"].status == "failed"
    assert report.steps["s"].error is not None
    assert report.steps["s"].error.message.startswith("step s: if: undefined value")


def test_workflow_success_threshold_counts_top_level_steps(run: Runner) -> None:
    spec = workflow(
        {"a": {"agent": "a", "prompt": "a"}, "b": {"agent": "a", "prompt": "b"}},
        success_threshold=0.5,
    )
    report = run(spec, {"steps": {"b": FAIL}})
    assert report.status == "passed"
    assert (report.succeeded, report.total, report.share) == (1, 2, 0.5)


def test_outputs_keep_types_and_render_text(run: Runner) -> None:
    spec = workflow(
        {"j": {"agent": "j", "prompt": "x"}, "t": {"agent": "a", "prompt": "hello"}},
        agents={"a": {"model": "mock/echo"}, "j": JSON_AGENT},
        outputs={
            "data": "{{ steps.j.output }}",
            "flag": "{{ steps.j.output.ok }}",
            "text": "said {{ steps.t.output }}",
            "broken": "{{ steps.t.output.nothing }}",
        },
    )
    report = run(spec)
    assert report.outputs == {"data": {"ok": False}, "flag": False, "text": "said hello"}
    assert "broken" in report.output_errors
    assert report.status == "failed"  # every step passed, but an output could not be rendered
    assert (run.run_dir / "outputs" / "data.json").exists()
    assert (run.run_dir / "outputs" / "text.txt").read_text() == "said hello"
