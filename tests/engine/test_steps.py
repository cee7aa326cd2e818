"""Agent and command steps: retries, fallbacks, structured output, gates, processes."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from engine_flows import Runner, statuses, workflow

from agnoctl.providers.base import ModelReply
from agnoctl.providers.function import FunctionProvider

SCHEMA = {
    "type": "object",
    "required": ["summary", "confidence"],
    "properties": {"summary": {"type": "string"}, "confidence": {"type": "number"}},
}
FAST_RETRY = {"max_attempts": 3, "initial_delay": 0, "max_delay": 0}
PY = sys.executable


# ---------------------------------------------------------------------------- command steps


def test_command_output_is_trimmed_stdout(run: Runner) -> None:
    report = run(workflow({"c": {"run": [PY, "-c", "print('  hello  ')"]}}))
    step = report.steps["c"]
    assert (step.status, step.output, step.exit_code) == ("succeeded", "hello", 0)


def test_command_exit_code_fails_without_retry(run: Runner) -> None:
    script = "import sys; sys.stderr.write('first\\nboom\\n'); sys.exit(3)"
    spec = workflow({"c": {"run": [PY, "-c", script], "retry": FAST_RETRY}})
    report = run(spec)
    step = report.steps["c"]
    assert (step.status, step.exit_code) == ("failed", 3)
    assert step.error is not None and step.error.kind == "exit_code"
    assert step.error.message.endswith("exited with code 3: boom")
    assert step.stderr == "first\nboom\n"
    assert len(step.attempts) == 1
    assert report.exit_code == 1


def test_command_json_stdout_with_output_schema(run: Runner) -> None:
    spec = workflow(
        {
            "c": {
                "run": [PY, "-c", 'print(\'{"summary": "s", "confidence": 0.9}\')'],
                "output_schema": SCHEMA,
                "gates": [{"type": "threshold", "field": "confidence", "min": 0.8}],
            },
            "bad": {"run": [PY, "-c", "print('{\"summary\": 1}')"], "output_schema": SCHEMA},
            "use": {"agent": "a", "needs": ["c"], "prompt": "{{ steps.c.output.summary }}"},
        }
    )
    report = run(spec)
    assert report.steps["c"].output == {"summary": "s", "confidence": 0.9}
    assert [g.passed for g in report.steps["c"].gates] == [True, True]
    assert report.steps["use"].output == "s"
    bad = report.steps["bad"]
    assert bad.status == "failed" and bad.error is not None
    assert bad.error.kind == "output_invalid"
    assert "does not match the output_schema" in bad.error.message


def test_argv_with_shell_metacharacters_is_passed_exactly(run: Runner, tmp_path: Path) -> None:
    nasty = "a b; rm -rf / && echo $HOME `id` | cat > x \"'\\ *"
    spec = workflow(
        {
            "c": {
                "run": [
                    PY,
                    "-c",
                    "import json, sys; print(json.dumps(sys.argv[1:]))",
                    "{{ inputs.text }}",
                    "literal $PATH",
                ]
            }
        },
        inputs={"text": {"type": "string"}},
    )
    report = run(spec, inputs={"text": nasty})
    assert json.loads(report.steps["c"].output) == [nasty, "literal $PATH"]
    assert not (tmp_path / "x").exists()


def test_command_cwd_and_env(run: Runner, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    spec = workflow(
        {
            "c": {
                "run": [
                    PY,
                    "-c",
                    "import os; print(os.getcwd(), os.environ['GREETING'], 'PATH' in os.environ)",
                ],
                "cwd": str(tmp_path / "sub"),
                "env": {"GREETING": "hi {{ workflow.name }}"},
            }
        }
    )
    report = run(spec)
    assert report.steps["c"].output == f"{tmp_path / 'sub'} hi test True"


def test_missing_program_fails_clearly(run: Runner) -> None:
    report = run(workflow({"c": {"run": ["no-such-program-agnoctl"]}}))
    error = report.steps["c"].error
    assert error is not None and error.kind == "command_not_found"
    assert "no such program" in error.message


def test_command_timeout_is_retried_then_fails(run: Runner) -> None:
    spec = workflow(
        {
            "c": {
                "run": [PY, "-c", "import time; time.sleep(30)"],
                "timeout": "300ms",
                "retry": {"max_attempts": 2, "initial_delay": 0},
            }
        }
    )
    started = time.monotonic()
    report = run(spec)
    assert time.monotonic() - started < 10
    step = report.steps["c"]
    assert step.status == "failed" and step.error is not None
    assert step.error.kind == "timeout"
    assert [a.error.kind for a in step.attempts if a.error] == ["timeout", "timeout"]
    retries = [e for e in run.events() if e["type"] == "retry_scheduled"]
    assert len(retries) == 1 and retries[0]["reason"] == "timeout"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose; /proc tells them apart on Linux.
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().split(")")[-1].split()[0] != "Z"


def test_process_ignoring_sigterm_is_killed_with_its_children(run: Runner, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = (
        "import os, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import signal, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
        "time.sleep(60)\n"
    )
    spec = workflow({"c": {"run": [PY, "-c", script], "timeout": "1s"}})
    started = time.monotonic()
    report = run(spec)
    assert time.monotonic() - started < 10
    assert report.steps["c"].error is not None
    assert report.steps["c"].error.kind == "timeout"
    for pid in map(int, pids.read_text().split()):
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), f"process {pid} outlived its step"


def test_background_children_do_not_outlive_a_finished_command(run: Runner, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "print('done')\n"
    )
    started = time.monotonic()
    report = run(workflow({"c": {"run": [PY, "-c", script]}}))
    assert time.monotonic() - started < 10  # not waiting for the child's stdout
    assert report.steps["c"].output == "done"
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


# ---------------------------------------------------------------------------- agent steps


def test_transient_errors_are_retried_with_events(run: Runner) -> None:
    spec = workflow({"s": {"agent": "a", "prompt": "p", "retry": FAST_RETRY}})
    fixtures = {
        "steps": {
            "s": [{"error": {"status": 503}}, {"error": {"status": 429}}, {"text": "finally"}]
        }
    }
    report = run(spec, fixtures)
    step = report.steps["s"]
    assert (step.status, step.output) == ("succeeded", "finally")
    assert [a.error.kind if a.error else None for a in step.attempts] == [
        "unavailable",
        "rate_limited",
        None,
    ]
    kinds = [e["type"] for e in run.events() if e.get("step") == "s"]
    assert kinds.count("attempt_failed") == 2 and kinds.count("retry_scheduled") == 2
    assert kinds.count("attempt_started") == 2  # the retries; the first is step_started


def test_permanent_errors_are_not_retried(run: Runner) -> None:
    spec = workflow({"s": {"agent": "a", "prompt": "p", "retry": FAST_RETRY}})
    report = run(spec, {"steps": {"s": [{"error": {"status": 401}}, {"text": "never"}]}})
    step = report.steps["s"]
    assert step.status == "failed" and len(step.attempts) == 1
    assert step.error is not None and step.error.kind == "auth"


def test_invalid_structured_output_is_retried_with_the_problem(run: Runner) -> None:
    spec = workflow(
        {"s": {"agent": "j", "prompt": "Analyse.", "retry": FAST_RETRY}},
        agents={"j": {"model": "mock/echo", "output_schema": SCHEMA}},
    )
    fixtures = {
        "steps": {"s": [{"text": "not json"}, {"json": {"summary": "ok", "confidence": 1}}]}
    }
    report = run(spec, fixtures)
    assert report.steps["s"].output == {"summary": "ok", "confidence": 1}
    assert report.steps["s"].attempts[0].error is not None
    assert report.steps["s"].attempts[0].error.kind == "output_invalid"


def test_gate_retry_appends_the_finding_to_the_prompt(run: Runner) -> None:
    spec = workflow(
        {
            "s": {
                "agent": "j",
                "prompt": "Analyse.",
                "retry": FAST_RETRY,
                "gates": [{"type": "threshold", "field": "confidence", "min": 0.8}],
                "on_gate_failure": "retry",
            },
            "echo": {"agent": "a", "needs": ["s"], "prompt": "{{ steps.s.output.summary }}"},
        },
        agents={"a": {"model": "mock/echo"}, "j": {"model": "mock/echo", "output_schema": SCHEMA}},
    )
    fixtures = {
        "steps": {
            "s": [
                {"json": {"summary": "weak", "confidence": 0.5}},
                {"json": {"summary": "strong", "confidence": 0.9}},
            ]
        }
    }
    report = run(spec, fixtures)
    step = report.steps["s"]
    assert step.status == "succeeded" and len(step.attempts) == 2
    assert [(g.attempt, g.name, g.passed) for g in step.gates] == [
        (1, "schema (implied by output_schema)", True),
        (1, "threshold confidence >= 0.8", False),
        (2, "schema (implied by output_schema)", True),
        (2, "threshold confidence >= 0.8", True),
    ]
    assert report.steps["echo"].output == "strong"


def test_gate_retry_prompt_carries_the_finding(run: Runner) -> None:
    provider = FunctionProvider(lambda request: ModelReply(text="no magic here"))
    spec = workflow(
        {
            "s": {
                "agent": "f",
                "prompt": "Write.",
                "retry": FAST_RETRY,
                "gates": [{"type": "contains", "value": "MAGIC"}],
                "on_gate_failure": "retry",
            }
        },
        agents={"f": {"model": "fn/model"}},
        providers={"fn": {"type": "mock"}},
    )
    report = run(spec, providers={"fn": provider})
    step = report.steps["s"]
    assert step.status == "failed" and len(step.attempts) == 3
    assert step.error is not None and step.error.kind == "gate_failed"
    prompts = [request.messages[-1].content for _, request in provider.calls]
    assert prompts[0] == "Write."
    assert (
        prompts[1]
        == prompts[2]
        == (
            "Write.\n\nYour previous answer did not pass these checks:\n"
            '- contains "MAGIC": the output does not contain "MAGIC"\n'
            "Answer again and fix these problems."
        )
    )
    assert [e["type"] for e in run.events()].count("gate_result") == 3
    assert report.status == "failed"


@pytest.mark.parametrize(("mode", "status"), [("warn", "succeeded"), ("fail", "failed")])
def test_gate_warn_and_fail(run: Runner, mode: str, status: str) -> None:
    spec = workflow(
        {
            "s": {
                "agent": "a",
                "prompt": "short",
                "on_gate_failure": mode,
                "gates": [{"type": "length", "min": 100}],
            }
        }
    )
    report = run(spec)
    step = report.steps["s"]
    assert step.status == status
    assert step.gates[0].passed is False
    assert step.gates[0].severity == mode


def test_judge_gate_calls_the_judge_agent(run: Runner) -> None:
    spec = workflow(
        {
            "s": {
                "agent": "a",
                "prompt": "Write.",
                "gates": [{"type": "judge", "agent": "judge", "rubric": "Be good.", "min": 0.7}],
            }
        },
        agents={"a": {"model": "mock/echo"}, "judge": {"model": "mock/strict"}},
    )
    report = run(spec, {"steps": {"s#judge": {"json": {"score": 0.4, "reason": "too vague"}}}})
    step = report.steps["s"]
    assert step.status == "failed"
    assert step.gates[0].value == 0.4 and step.gates[0].detail == "too vague"
    assert step.calls == 2
    assert set(report.cost.by_agent) == {"a", "judge"}


def test_fallback_model_answers_when_retries_are_spent(run: Runner) -> None:
    spec = workflow(
        {"s": {"agent": "f", "prompt": "p", "retry": {"max_attempts": 2, "initial_delay": 0}}},
        agents={"f": {"model": "flaky/big", "fallback_models": ["mock/small"]}},
        providers={"flaky": {"type": "mock"}},
    )
    fixtures = {
        "steps": {
            "s": [
                {"error": {"status": 500}},
                {"error": {"status": 500}},
                {"text": "from the fallback"},
            ]
        }
    }
    report = run(spec, fixtures)
    step = report.steps["s"]
    assert (step.status, step.output, step.model) == (
        "succeeded",
        "from the fallback",
        "mock/small",
    )
    assert [a.model for a in step.attempts] == ["flaky/big", "flaky/big", "mock/small"]
    assert any(e["type"] == "model_fallback" for e in run.events())


def test_agent_timeout_bounds_one_attempt(run: Runner) -> None:
    spec = workflow(
        {
            "s": {
                "agent": "a",
                "prompt": "p",
                "timeout": "100ms",
                "retry": {"max_attempts": 2, "initial_delay": 0},
            }
        }
    )
    fixtures = {"steps": {"s": [{"text": "slow", "delay": "5s"}, {"text": "fast"}]}}
    started = time.monotonic()
    report = run(spec, fixtures)
    assert time.monotonic() - started < 4
    step = report.steps["s"]
    assert step.output == "fast"
    assert step.attempts[0].error is not None and step.attempts[0].error.kind == "timeout"


def test_budget_limit_skips_what_did_not_start(run: Runner) -> None:
    spec = workflow(
        {
            f"s{i}": {"agent": "a", "prompt": "p", **({"needs": [f"s{i - 1}"]} if i else {})}
            for i in range(4)
        },
        limits={"max_llm_calls": 2},
    )
    report = run(spec)
    assert statuses(report) == {
        "s0": "succeeded",
        "s1": "succeeded",
        "s2": "skipped:budget",
        "s3": "skipped:budget",
    }
    assert report.status == "failed" and "max_llm_calls 2 reached" in report.reason
    assert report.limits["max_llm_calls"].used == 2


def test_max_duration_stops_the_run(run: Runner) -> None:
    spec = workflow(
        {
            "slow": {"agent": "a", "prompt": "p"},
            "after": {"agent": "a", "prompt": "q", "needs": ["slow"]},
        },
        limits={"max_duration": "300ms"},
    )
    report = run(spec, {"steps": {"slow": {"text": "x", "delay": "10s"}}})
    assert statuses(report) == {"slow": "skipped:budget", "after": "skipped:budget"}
    assert "limits.max_duration 0.3s was reached" in report.reason


def test_tool_calls_run_in_the_agent_loop(run: Runner) -> None:
    spec = workflow(
        {"s": {"agent": "t", "prompt": "Use the tool."}},
        agents={"t": {"model": "mock/echo", "tools": ["shout"]}},
        tools={
            "shout": {
                "run": [PY, "-c", "import sys; print(sys.argv[1].upper())", "{{ args.text }}"],
                "parameters": {
                    "type": "object",
                    "required": ["text"],
                    "properties": {"text": {"type": "string"}},
                },
            }
        },
    )
    fixtures = {
        "steps": {
            "s": [
                {"tool_calls": [{"name": "shout", "arguments": {"text": "hi"}}]},
                {"text": "done"},
            ]
        }
    }
    report = run(spec, fixtures)
    assert report.steps["s"].output == "done"
    assert report.steps["s"].calls == 2
    kinds = [e["type"] for e in run.events()]
    assert kinds.count("tool_call") == 1 and kinds.count("tool_result") == 1


def test_mock_flag_routes_every_agent_offline(run: Runner) -> None:
    spec = workflow(
        {"s": {"agent": "r", "prompt": "hello"}},
        agents={"r": {"model": "remote/gpt-4o-mini"}},
        providers={
            "remote": {
                "type": "openai",
                "base_url": "http://192.0.2.1/v1",
                "pricing": {"gpt-4o-mini": {"input": 1000.0, "output": 1000.0}},
            }
        },
    )
    report = run(spec, mock=True)
    step = report.steps["s"]
    assert (step.status, step.output, step.model) == ("succeeded", "hello", "mock/gpt-4o-mini")
    assert report.mock is True
    assert step.cost_usd > 0  # priced as the provider it stands in for
