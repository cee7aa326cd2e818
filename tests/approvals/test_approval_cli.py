"""Human approval through the real CLI against the fake LLM server (#21): without a terminal
the run stops `waiting` (exit 75) with the independent branches finished, and `--resume
--approve` / `--reject` carries it on without one repeated call; on a terminal (a
pseudo-terminal) it asks, while the independent branch goes on."""

from __future__ import annotations

import json
import os
import pty
import select
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from agnoctl.events import read_events
from agnoctl.testing.fake_llm import FakeLLMThread
from tests import forkcli
from tests.conftest import RunCli
from tests.resume.resume_helpers import check_report

KEY = "sk-approval-test"
ACTOR = {"GITHUB_ACTOR": "octo-reviewer", "LLM_KEY": KEY}
# The draft holds an escape sequence, as model output may: the prompt must show it, not obey it.
DRAFT = "[[text:Draft v1 \x1b]0;pwned\x07 end]]"


def _flow(folder: Path, url: str, aside: list[str] | None = None) -> Path:
    steps: dict[str, Any] = {
        "draft": {"agent": "a", "prompt": DRAFT},
        "aside": {"run": aside or [sys.executable, "-c", "print('aside')"]},
        "after_aside": {"agent": "a", "needs": ["aside"], "prompt": "independent branch"},
        "ok": {
            "needs": ["draft"],
            "approval": {"message": "Publish this draft?\n{{ steps.draft.output }}"},
        },
        "publish": {
            "agent": "a",
            "needs": ["ok"],
            "if": "steps.ok.output.approved",
            "prompt": "publish it",
        },
        "shelve": {
            "agent": "a",
            "needs": ["ok"],
            "if": "not steps.ok.output.approved",
            "prompt": "shelve it: {{ steps.ok.output.reason }}",
        },
    }
    data = {
        "version": 1,
        "name": "approval-flow",
        "providers": {
            "local": {"type": "openai", "base_url": f"{url}/v1", "api_key": "${LLM_KEY}"}
        },
        "agents": {"a": {"model": "local/m"}},
        "defaults": {"retry": {"max_attempts": 1}},
        "steps": steps,
        "outputs": {"decision": "{{ steps.ok.output }}"},
    }
    path = folder / "flow.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _run_dir(folder: Path) -> Path:
    return (folder / ".agnoctl" / "runs" / "latest").resolve()


def _report(run_dir: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    check_report(report)
    return report


def _steps(report: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {s["path"]: (s["status"], s.get("reason")) for s in report["steps"].values()}


def _events(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    found = [e.as_dict() for e in read_events(run_dir / "events.jsonl")]
    return [e for e in found if e["type"] == kind]


def _requests(server: FakeLLMThread) -> int:
    return int(server.stats()["requests"])


def _waiting_run(run_cli: RunCli, tmp_path: Path, server: FakeLLMThread) -> Path:
    flow = _flow(tmp_path, server.url)
    first = run_cli("run", flow, "--format", "github", env=ACTOR)
    assert first.returncode == 75, first.stderr + first.stdout
    return flow


# ---------------------------------------------------------------------------- no terminal


def test_without_a_terminal_the_run_waits_with_the_independent_branches_done(
    run_cli: RunCli, tmp_path: Path, fake_llm: FakeLLMThread
) -> None:
    summary = tmp_path / "step-summary.md"
    flow = _flow(tmp_path, fake_llm.url)
    proc = run_cli(
        "run", flow, "--format", "github", env={**ACTOR, "GITHUB_STEP_SUMMARY": str(summary)}
    )
    assert proc.returncode == 75, proc.stderr + proc.stdout
    run_dir = _run_dir(tmp_path)
    report = _report(run_dir)
    assert report["status"] == "waiting" and report["exit_code"] == 75
    assert _steps(report) == {
        "draft": ("succeeded", None),
        "aside": ("succeeded", None),
        "after_aside": ("succeeded", None),
        "ok": ("waiting", None),
        "publish": ("skipped", "waiting"),
        "shelve": ("skipped", "waiting"),
    }
    assert _requests(fake_llm) == 2  # draft and after_aside; nothing else was asked
    command = f"agnoctl run {flow} --resume latest --approve ok"
    [waiting] = report["approvals"]
    assert waiting["step"] == "ok" and waiting["waiting"] is True
    assert waiting["approve"].startswith(command)
    assert "Draft v1" in waiting["message"]
    # Who must approve what and how: the job summary, the annotation, the terminal.
    assert command in summary.read_text(encoding="utf-8")
    assert command in (run_dir / "summary.md").read_text(encoding="utf-8")
    assert "::warning" in proc.stdout and "approval" in proc.stdout
    assert command in proc.stdout + proc.stderr
    assert [e["step"] for e in _events(run_dir, "approval_requested")] == ["ok"]
    assert _events(run_dir, "approval_decided") == []


def test_resume_approve_finishes_the_run_without_one_repeated_call(
    run_cli: RunCli, tmp_path: Path, fake_llm: FakeLLMThread
) -> None:
    flow = _waiting_run(run_cli, tmp_path, fake_llm)
    before = _requests(fake_llm)
    proc = run_cli(
        "run", flow, "--resume", "latest", "--approve", "ok", "--reason", "reads well", env=ACTOR
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert _requests(fake_llm) == before + 1  # publish: the only call the run had left
    run_dir = _run_dir(tmp_path)
    report = _report(run_dir)
    assert report["status"] == "passed"
    steps = _steps(report)
    assert steps["publish"] == ("succeeded", None)
    assert steps["shelve"] == ("skipped", "condition")
    decision = report["outputs"]["decision"]
    assert decision["approved"] is True and decision["by"] == "octo-reviewer"
    assert decision["reason"] == "reads well" and decision["at"].endswith("Z")
    [decided] = _events(run_dir, "approval_decided")
    assert (decided["how"], decided["by"], decided["approved"]) == ("flag", "octo-reviewer", True)
    [audit] = report["approvals"]  # the decision; nothing waits any more
    assert {k: audit[k] for k in (*decision, "step", "how", "waiting")} == {
        **decision,
        "step": "ok",
        "how": "flag",
        "waiting": False,
    }


def test_resume_reject_takes_the_else_branch(
    run_cli: RunCli, tmp_path: Path, fake_llm: FakeLLMThread
) -> None:
    flow = _waiting_run(run_cli, tmp_path, fake_llm)
    before = _requests(fake_llm)
    proc = run_cli(
        "run", flow, "--resume", "latest", "--reject", "ok", "--reason", "too long", env=ACTOR
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert _requests(fake_llm) == before + 1  # shelve only
    report = _report(_run_dir(tmp_path))
    steps = _steps(report)
    assert steps["shelve"] == ("succeeded", None)
    assert steps["publish"] == ("skipped", "condition")
    assert steps["ok"] == ("succeeded", None)  # a rejection is not a failure
    assert report["outputs"]["decision"]["approved"] is False
    assert "too long" in report["steps"]["shelve"]["output"]


def test_approve_up_front_decides_in_advance(
    run_cli: RunCli, tmp_path: Path, fake_llm: FakeLLMThread
) -> None:
    flow = _flow(tmp_path, fake_llm.url)
    proc = run_cli("run", flow, "--approve", "ok", env=ACTOR)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert _steps(_report(_run_dir(tmp_path)))["publish"] == ("succeeded", None)


def test_a_step_that_is_not_an_approval_is_a_usage_error(
    run_cli: RunCli, tmp_path: Path, fake_llm: FakeLLMThread
) -> None:
    flow = _flow(tmp_path, fake_llm.url)
    typo = run_cli("run", flow, "--approve", "okk", env=ACTOR)
    assert typo.returncode == 2
    assert "did you mean `ok`?" in typo.stderr and "Traceback" not in typo.stderr
    other = run_cli("run", flow, "--reject", "draft", env=ACTOR)
    assert other.returncode == 2 and "not an approval step" in other.stderr
    both = run_cli("run", flow, "--approve", "ok", "--reject", "ok", env=ACTOR)
    assert both.returncode == 2 and "both" in both.stderr
    alone = run_cli("run", flow, "--reason", "why", env=ACTOR)
    assert alone.returncode == 2 and "--reason" in alone.stderr
    assert _requests(fake_llm) == 0


def test_a_run_resumed_by_name_is_named_in_the_commands_that_decide_it(
    run_cli: RunCli, tmp_path: Path
) -> None:
    # `latest` is a newer run of the same workflow: the command that approves the older
    # one's next step must name the older run, or it would decide the newer one.
    flow = tmp_path / "two.yaml"
    flow.write_text(
        "version: 1\nname: two\nsteps:\n"
        "  first: {approval: {message: 'One?'}}\n"
        "  second: {needs: [first], approval: {message: 'Two?'}}\n",
        encoding="utf-8",
    )
    assert run_cli("run", flow, "--mock", "-q").returncode == 75
    older = _run_dir(tmp_path)
    assert run_cli("run", flow, "--mock", "-q").returncode == 75
    assert _run_dir(tmp_path) != older
    proc = run_cli("run", flow, "--mock", "-q", "--resume", older, "--approve", "first")
    assert proc.returncode == 75, proc.stderr
    [waiting] = [a for a in _report(older)["approvals"] if a.get("waiting")]
    assert waiting["step"] == "second"
    assert "--resume latest" not in waiting["approve"]
    assert f"--resume {older.name}" in waiting["approve"] or str(older) in waiting["approve"]


# ---------------------------------------------------------------------------- a terminal


class _Terminal:
    """agnoctl on a pseudo-terminal: what it wrote so far, and keys typed into it."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.leader, follower = pty.openpty()
        # Not CI (.ci/run sets it): a terminal there is one nobody answers on.
        base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "CI")}
        self.process = forkcli.start(
            args,
            stdin=follower,
            stdout=follower,
            stderr=follower,
            cwd=cwd,
            env={**base, "TERM": "xterm-256color", **env},
        )
        os.close(follower)
        self.output = b""

    def wait_for(self, text: bytes, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} never shown; got {self.output[-2000:]!r}"
            if select.select([self.leader], [], [], left)[0]:
                try:
                    self.output += os.read(self.leader, 65536)
                except OSError:
                    break
        assert text in self.output, self.output[-2000:]

    def type(self, text: str) -> None:
        os.write(self.leader, text.encode())

    def finish(self) -> int:
        try:
            while select.select([self.leader], [], [], 60)[0]:
                chunk = os.read(self.leader, 65536)
                if not chunk:
                    break
                self.output += chunk
        except OSError:  # the program ended and closed its side
            pass
        code = self.process.wait(timeout=60)
        os.close(self.leader)
        return code


def _wait_for_event(run_dir: Path, kind: str, step: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not any(e["step"] == step for e in _events(run_dir, kind)):
        assert time.monotonic() < deadline, f"no {kind} of {step}"
        time.sleep(0.05)  # polling the journal: the event is what the test waits on


def _asked_on_a_terminal(
    tmp_path: Path, server: FakeLLMThread, answer: str, reason: str
) -> tuple[int, bytes]:
    gate = tmp_path / "go"
    # The independent branch waits for the test to say so, after the question is shown: that
    # it then finishes while the question is still open shows it was not held up.
    aside = [
        sys.executable,
        "-c",
        "import os, sys, time\n"
        f"while not os.path.exists({str(gate)!r}): time.sleep(0.02)\n"
        "print('aside')",
    ]
    flow = _flow(tmp_path, server.url, aside)
    terminal = _Terminal(["run", str(flow)], tmp_path, ACTOR)
    terminal.wait_for(b"approve or reject? [a/r] ")
    gate.touch()
    _wait_for_event(_run_dir(tmp_path), "step_succeeded", "after_aside")
    terminal.type(f"{answer}\n")
    terminal.wait_for(b"reason")
    terminal.type(f"{reason}\n")
    return terminal.finish(), terminal.output


def test_on_a_terminal_it_asks_and_an_approval_takes_the_if_branch(
    tmp_path: Path, fake_llm: FakeLLMThread
) -> None:
    code, output = _asked_on_a_terminal(tmp_path, fake_llm, "a", "ship it")
    assert code == 0, output[-3000:]
    assert b"Publish this draft?" in output and b"Draft v1" in output
    # The model's escape sequence is shown as text, never sent to the terminal.
    assert b"\\x1b]0;pwned\\x07" in output and b"\x1b]0;pwned" not in output
    run_dir = _run_dir(tmp_path)
    report = _report(run_dir)
    assert _steps(report)["publish"] == ("succeeded", None)
    assert _steps(report)["shelve"] == ("skipped", "condition")
    [decided] = _events(run_dir, "approval_decided")
    assert (decided["how"], decided["reason"], decided["by"]) == (
        "terminal",
        "ship it",
        "octo-reviewer",
    )
    assert _requests(fake_llm) == 3  # draft, after_aside, publish


def test_on_a_terminal_a_rejection_takes_the_else_branch(
    tmp_path: Path, fake_llm: FakeLLMThread
) -> None:
    code, output = _asked_on_a_terminal(tmp_path, fake_llm, "r", "not yet")
    assert code == 0, output[-3000:]
    report = _report(_run_dir(tmp_path))
    assert _steps(report)["shelve"] == ("succeeded", None)
    assert _steps(report)["publish"] == ("skipped", "condition")
    assert report["outputs"]["decision"]["approved"] is False
    assert report["outputs"]["decision"]["reason"] == "not yet"


def test_in_ci_a_terminal_is_not_asked_and_the_run_waits(
    tmp_path: Path, fake_llm: FakeLLMThread
) -> None:
    # Some CI services give the job a pseudo-terminal (Buildkite, `docker run -t`): a question
    # there would wait forever. With CI set the run waits for a decision instead (exit 75).
    flow = _flow(tmp_path, fake_llm.url)
    terminal = _Terminal(["run", str(flow)], tmp_path, {**ACTOR, "CI": "true"})
    code = terminal.finish()
    assert code == 75, terminal.output[-3000:]
    assert b"approve or reject?" not in terminal.output
    assert _steps(_report(_run_dir(tmp_path)))["publish"] == ("skipped", "waiting")


def test_the_job_summary_shows_the_message_as_text_not_as_markdown(tmp_path: Path) -> None:
    # What the approver reads is what a model wrote: its Markdown and HTML stay text.
    draft = "# Ship now\n<img src=x onerror=alert(1)>\n```\n| a | b |"
    flow = tmp_path / "wf.yaml"
    flow.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "name": "md",
                "agents": {"a": {"model": "mock/echo"}},
                "steps": {
                    "draft": {"agent": "a", "prompt": draft},
                    "ok": {"needs": ["draft"], "approval": {"message": "{{ steps.draft.output }}"}},
                },
            }
        ),
        encoding="utf-8",
    )
    summary = tmp_path / "step-summary.md"
    done = forkcli.run(
        ["run", str(flow), "--mock", "-q"],
        cwd=tmp_path,
        stdin=forkcli.DEVNULL,
        env={**os.environ, "NO_COLOR": "1", "GITHUB_STEP_SUMMARY": str(summary)},
        timeout=60,
    )
    assert done.returncode == 75, done.stderr
    text = summary.read_text(encoding="utf-8")
    fence = "````"  # longer than the message's own ``` run, so that one cannot close it
    start = text.index(fence + "\n") + len(fence) + 1
    assert text[start:].startswith(draft + "\n" + fence + "\n")
