"""The approval logic (agnoctl.engine.approval) and the terminal prompt
(agnoctl.approval_prompt), without a run: who decides, in which order, and what a timeout
means."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

from agnoctl.approval_prompt import TerminalPrompter
from agnoctl.engine.approval import (
    Answer,
    ApprovalOptions,
    ApprovalRequest,
    Approvals,
    Prompter,
    approver,
)
from agnoctl.errors import StepFailed
from agnoctl.events import EventSink, read_events
from agnoctl.spec.models import ApprovalSpec


def _approvals(tmp_path: Path, options: ApprovalOptions) -> tuple[Approvals, Path]:
    journal = tmp_path / "events.jsonl"
    sink = EventSink(journal, "run-1")
    return Approvals(options, sink, resume_command="agnoctl run f.yaml --resume latest"), journal


def _decide(approvals: Approvals, spec: ApprovalSpec) -> object:
    return anyio.run(approvals.decide, "ok", spec, "Publish?")


def _types(journal: Path) -> list[str]:
    return [line.event.type for line in read_events(journal)]


def test_a_flag_decides_before_anyone_is_asked(tmp_path: Path) -> None:
    def never(request: ApprovalRequest) -> Answer:
        raise AssertionError("asked although the command line decided")

    options = ApprovalOptions({"ok": Answer(False, "no budget")}, never)
    approvals, journal = _approvals(tmp_path, options)
    decision = _decide(approvals, ApprovalSpec(message="Publish?"))
    assert decision is not None and decision.how == "flag"  # type: ignore[attr-defined]
    assert approvals.audit[0]["reason"] == "no budget" and approvals.waiting == []
    assert _types(journal) == ["approval_requested", "approval_decided"]


def test_nobody_to_ask_leaves_the_step_waiting_with_the_commands(tmp_path: Path) -> None:
    approvals, journal = _approvals(tmp_path, ApprovalOptions())
    assert _decide(approvals, ApprovalSpec(message="Publish?")) is None
    assert approvals.waiting == ["ok"]
    [entry] = approvals.audit
    assert entry["approve"].startswith("agnoctl run f.yaml --resume latest --approve ok")
    assert _types(journal) == ["approval_requested"]


def test_a_closed_terminal_is_nobody_there(tmp_path: Path) -> None:
    approvals, _ = _approvals(tmp_path, ApprovalOptions(prompter=lambda r: "closed"))
    assert _decide(approvals, ApprovalSpec(message="Publish?")) is None


def test_a_timeout_rejects_or_fails_as_on_timeout_says(tmp_path: Path) -> None:
    timed_out: Prompter = lambda request: "timeout"  # noqa: E731
    approvals, _ = _approvals(tmp_path, ApprovalOptions(prompter=timed_out))
    decision = _decide(approvals, ApprovalSpec(message="?", timeout=2))
    assert decision is not None
    assert decision.output()["approved"] is False  # type: ignore[attr-defined]
    assert decision.how == "timeout" and decision.by == "timeout"  # type: ignore[attr-defined]
    with pytest.raises(StepFailed, match="nobody answered within 2s"):
        _decide(approvals, ApprovalSpec(message="?", timeout=2, on_timeout="fail"))


def test_the_approver_is_the_github_actor_else_the_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    assert approver() == "octocat"
    monkeypatch.delenv("GITHUB_ACTOR")
    monkeypatch.setenv("LOGNAME", "someone")
    monkeypatch.setenv("USER", "someone")
    assert approver() == "someone"


@contextmanager
def _paused() -> Iterator[None]:
    yield


def _prompt(typed: str, timeout: float | None = None) -> tuple[object, str]:
    read, write = os.pipe()
    os.write(write, typed.encode())
    os.close(write)
    shown = io.StringIO()
    with os.fdopen(read) as stdin:
        prompter = TerminalPrompter(_paused, stdin, shown)
        answer = prompter(ApprovalRequest("ok", "Publish \x1b[2Jthis?", timeout))
    return answer, shown.getvalue()


def test_the_prompt_reads_the_answer_and_the_reason() -> None:
    answer, shown = _prompt("maybe\nr\ntoo long\n")
    assert answer == Answer(False, "too long")
    assert "answer a (approve) or r (reject)" in shown  # asked again after `maybe`
    assert "\\x1b[2J" in shown and "\x1b" not in shown  # the message's escape is shown


def test_the_prompt_approves_without_a_reason() -> None:
    assert _prompt("yes\n\n")[0] == Answer(True, None)


def test_the_prompt_says_when_its_input_ends() -> None:
    assert _prompt("")[0] == "closed"


def test_the_last_line_counts_without_its_newline() -> None:
    # `printf 'r\nnot now' | agnoctl run ...`, or Ctrl-D after typing: the words typed are
    # the answer, not lost with the end of the input.
    assert _prompt("r\nnot now")[0] == Answer(False, "not now")
    assert _prompt("a")[0] == Answer(True, None)


def test_the_prompt_times_out() -> None:
    read, write = os.pipe()  # nobody types
    try:
        with os.fdopen(read) as stdin:
            prompter = TerminalPrompter(_paused, stdin, io.StringIO())
            assert prompter(ApprovalRequest("ok", "?", 0.05)) == "timeout"
    finally:
        os.close(write)
