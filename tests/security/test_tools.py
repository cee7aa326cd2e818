"""Hostile tool calls and commands: option-looking arguments, a folder swapped for a link while
read_file walks it, and a child that leaves its process group with setsid."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agnoctl.spec.models import ReadFileToolSpec
from agnoctl.tools.read_file import ReadFileTool
from tests.e2e.conftest import E2E, workflow_doc

SECRET = "outside the root"


# --------------------------------------------------------------------------- option arguments


def test_a_model_argument_that_looks_like_an_option_is_refused(e2e: E2E) -> None:
    """`sort "{{ args.f }}"` given `--output=pwned.txt` wrote that file; now the call is refused
    and the model told why, unless the tool declares `allow_option_args: true`."""
    sort = {
        "parameters": {"type": "object", "properties": {"f": {"type": "string"}}},
        "run": ["sort", "{{ args.f }}"],
    }
    doc = workflow_doc(
        "options",
        providers={"fake": e2e.provider()},
        agents={"a": {"model": "fake/m", "tools": ["sort", "sort_options"]}},
        tools={"sort": sort, "sort_options": {**sort, "allow_option_args": True}},
        steps={
            "refused": {"agent": "a", "prompt": _call("sort", "--output=pwned.txt")},
            "allowed": {"agent": "a", "prompt": _call("sort_options", "--output=allowed.txt")},
        },
    )
    run = e2e.run(doc)  # in e2e.root, where sort would write
    (refused,) = run.events_of("tool_result", "refused")
    assert not refused["ok"]
    assert refused["error"].startswith("refused: the argument '--output=pwned.txt' starts with")
    assert "would read it as an option" in refused["error"]
    assert not (e2e.root / "pwned.txt").exists()
    (allowed,) = run.events_of("tool_result", "allowed")
    assert allowed["ok"], allowed
    assert (e2e.root / "allowed.txt").exists()  # the author allowed options: sort took it


def _call(tool: str, value: str) -> str:
    return f"[[tool:{tool}:{json.dumps({'f': value})}]]"


# --------------------------------------------------------------------------- read_file


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """tmp_path/root/sub/file.txt inside; tmp_path/outside/file.txt (same name) outside."""
    (tmp_path / "root" / "sub").mkdir(parents=True)
    (tmp_path / "root" / "sub" / "file.txt").write_text("inside")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "file.txt").write_text(SECRET)
    return tmp_path


def _swap(tree: Path) -> Callable[[], None]:
    """Turns root/sub into a link to the outside folder, keeping the real one aside."""

    def swap() -> None:
        (tree / "root" / "sub").rename(tree / "root" / "real")
        (tree / "root" / "sub").symlink_to(tree / "outside")

    return swap


def _read(tree: Path, path: str = "sub/file.txt") -> str:
    import anyio

    spec = ReadFileToolSpec(type="read_file", root=str(tree / "root"))
    return anyio.run(ReadFileTool("read", spec).call, {"path": path}).text


@pytest.mark.parametrize("before_open", [1, 2, 3])
def test_a_folder_swapped_for_a_link_before_an_open_is_not_followed_out(
    tree: Path, before_open: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The swap lands right before the tool's n-th open(): after every check it made."""
    real_open, swap, opens = os.open, _swap(tree), [0]

    def open_after_swap(*args: Any, **kwargs: Any) -> int:
        opens[0] += 1
        if opens[0] == before_open:
            swap()
        return real_open(*args, **kwargs)

    monkeypatch.setattr(os, "open", open_after_swap)
    text = _read(tree)
    assert SECRET not in text
    assert text in (
        "inside",
        "refused: 'sub/file.txt' leads outside the tool's folder (a symbolic link)",
    )


def test_a_link_at_any_component_may_not_lead_out(tree: Path) -> None:
    (tree / "root" / "up").symlink_to(tree)
    (tree / "root" / "sub" / "back").symlink_to("../../outside")
    for path in ["up/outside/file.txt", "sub/back/file.txt", "sub/back/../sub/file.txt"]:
        text = _read(tree, path)
        assert text.startswith("refused: ") and "leads outside" in text, (path, text)
    (tree / "root" / "sub" / "here").symlink_to(".")
    assert _read(tree, "sub/here/here/file.txt") == "inside"  # links that stay inside work


def test_a_folder_swapped_back_and_forth_during_reads_never_leaks(tree: Path) -> None:
    """A thread swaps root/sub between the folder and a link to the outside while the tool
    reads; a bounded number of reads and swaps, and none may read the outside file."""
    sub, real = tree / "root" / "sub", tree / "root" / "real"
    done = threading.Event()

    def swapper() -> None:
        for _ in range(20_000):
            if done.is_set():
                return
            sub.rename(real)
            sub.symlink_to(tree / "outside")
            sub.unlink()
            real.rename(sub)

    thread = threading.Thread(target=swapper)
    thread.start()
    try:
        texts = [_read(tree) for _ in range(300)]
    finally:
        done.set()
        thread.join()
    assert not [text for text in texts if SECRET in text]


# --------------------------------------------------------------------------- setsid


ESCAPE = """
import os, sys, time
child = os.fork()
if child == 0:
    os.setsid()  # a session, and so a process group, of its own
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    time.sleep(300)
    os._exit(0)
with open(sys.argv[1], "w") as f:
    f.write(str(child))
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    """Running (a zombie is not: it only waits to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


@pytest.fixture
def escaped(e2e: E2E) -> Iterator[list[int]]:
    """The pids the escaping children wrote; any still running is killed after the test."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if _alive(pid):
            os.kill(pid, 9)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a subreaper is Linux's")
def test_a_child_in_a_session_of_its_own_ends_with_its_command(
    e2e: E2E, escaped: list[int]
) -> None:
    tool_pid, step_pid = e2e.root / "tool.pid", e2e.root / "step.pid"
    doc = workflow_doc(
        "setsid",
        providers={"fake": e2e.provider()},
        agents={"a": {"model": "fake/m", "tools": ["escape"]}},
        tools={"escape": {"run": [sys.executable, "-c", ESCAPE, str(tool_pid)], "timeout": 1}},
        steps={
            "step": {"run": [sys.executable, "-c", ESCAPE, str(step_pid)], "timeout": 1},
            "tool": {"agent": "a", "prompt": "[[tool:escape:{}]]"},
        },
        defaults={"retry": {"max_attempts": 1}},
    )
    run = e2e.run(doc)
    escaped.extend(int(path.read_text()) for path in (step_pid, tool_pid))
    assert run.step("step")["error"]["kind"] == "timeout"
    (result,) = run.events_of("tool_result", "tool")
    assert result["error"].startswith("failed: timed out after 1s")
    assert [pid for pid in escaped if _alive(pid)] == []
