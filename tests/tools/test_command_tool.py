"""Command tools: argv without a shell, timeouts that stop the whole process group, results."""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from agnoctl.spec.models import CommandToolSpec
from agnoctl.tools import command as command_module
from agnoctl.tools.command import CommandTool, run_process

pytestmark = pytest.mark.anyio

PRINT_ARGV = "import json, sys; print(json.dumps(sys.argv[1:]))"


def process_running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (this container's init never reaps them)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def wait_gone(pid: int, timeout: float = 2.0) -> bool:
    """True once ``pid`` stops running (signal delivery is asynchronous)."""
    deadline = time.monotonic() + timeout
    while process_running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def tool(run: list[str], *, grace: float = 0.2, **fields: Any) -> CommandTool:
    spec = CommandToolSpec(run=run, **fields)
    return CommandTool("cmd", spec, kill_grace=grace)


def pids_from(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split()]


@pytest.mark.parametrize(
    "payload",
    [
        "; rm -rf /",
        "$(id)",
        "`id`",
        "a'b\"c",
        "x && y | z > out.txt",
        "*",
        "two words\nand a newline",
        "{{ 7 * 7 }}",
        "--help",
    ],
)
async def test_arguments_reach_the_program_exactly(payload: str, tmp_path: Path) -> None:
    command = tool(
        [sys.executable, "-c", PRINT_ARGV, "{{ args.value }}", "fixed-{{ args.value }}"],
        parameters={"type": "object", "properties": {"value": {"type": "string"}}},
        cwd=str(tmp_path),
        allow_option_args=True,  # "--help" too: tests/security/test_tools.py refuses it without
    )
    result = await command.call({"value": payload})
    assert result.ok, result.text
    assert json.loads(result.text) == [payload, f"fixed-{payload}"]
    assert list(tmp_path.iterdir()) == []  # nothing was redirected or created by a shell


async def test_a_shell_payload_is_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    command = tool(["echo", "{{ args.q }}"], parameters={"type": "object"})
    result = await command.call({"q": f"x; touch {marker}; $(touch {marker})"})
    assert result.ok
    assert result.text == f"x; touch {marker}; $(touch {marker})\n"
    assert not marker.exists()


async def test_timeout_kills_the_whole_group_even_children_ignoring_sigterm(
    tmp_path: Path,
) -> None:
    pidfile = tmp_path / "pids"
    script = f'trap "" TERM; sleep 30 & echo $$ $! > {pidfile}; wait'
    command = tool(["sh", "-c", script], timeout=0.5, grace=0.3)
    started = time.monotonic()
    result = await command.call({})
    assert time.monotonic() - started < 5
    assert not result.ok
    assert "timed out after 0.5s" in result.text
    shell, child = pids_from(pidfile)
    assert wait_gone(shell)
    assert wait_gone(child), "a child that ignores SIGTERM survived the timeout"


async def test_background_children_do_not_outlive_a_finished_command(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    command = tool(["sh", "-c", f"sleep 30 >/dev/null 2>&1 & echo $! > {pidfile}"])
    result = await command.call({})
    assert result.ok
    (child,) = pids_from(pidfile)
    assert wait_gone(child)


async def test_cancelling_the_caller_still_stops_the_process(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    script = f'trap "" TERM; sleep 30 & echo $$ $! > {pidfile}; wait'
    command = tool(["sh", "-c", script], timeout=60)
    with anyio.move_on_after(0.5) as scope:
        await command.call({})
    assert scope.cancelled_caught
    shell, child = pids_from(pidfile)
    assert wait_gone(shell)
    assert wait_gone(child)


async def test_non_zero_exit_is_a_failed_result_with_stderr() -> None:
    command = tool(["sh", "-c", "echo partial; echo 'disk full' >&2; exit 3"])
    result = await command.call({})
    assert not result.ok
    assert result.text.startswith("failed: exit code 3")
    assert "disk full" in result.text
    assert "partial" in result.text


async def test_a_killed_program_names_the_signal() -> None:
    result = await tool(["sh", "-c", "kill -9 $$"]).call({})
    assert not result.ok
    assert "killed by signal SIGKILL" in result.text


async def test_a_missing_program_is_a_failed_result() -> None:
    result = await tool(["agnoctl-no-such-program-xyz"]).call({})
    assert not result.ok
    assert "could not start 'agnoctl-no-such-program-xyz'" in result.text


async def test_invalid_arguments_are_refused_before_running(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    command = tool(
        ["touch", str(marker)],
        parameters={
            "type": "object",
            "required": ["n"],
            "properties": {"n": {"type": "integer"}},
        },
    )
    missing = await command.call({})
    wrong_type = await command.call({"n": "three"})
    assert not missing.ok and not wrong_type.ok
    assert "'n' is a required property" in missing.text
    assert "'three' is not of type 'integer' (at n)" in wrong_type.text
    assert not marker.exists()


async def test_an_argument_the_model_left_out_fails_clearly() -> None:
    command = tool(["echo", "{{ args.query }}"])
    result = await command.call({})
    assert not result.ok
    assert result.text.startswith("failed: could not build the command line")
    assert "query" in result.text


async def test_cwd_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    result = await tool(["pwd"], cwd="sub").call({})
    assert result.ok
    assert Path(result.text.strip()) == (tmp_path / "sub").resolve()


async def test_long_output_is_cut_and_says_so() -> None:
    command = tool([sys.executable, "-c", "print('x' * 100, end='')"], max_output_chars=10)
    result = await command.call({})
    assert result.ok and result.truncated
    assert result.text == "x" * 10 + "\n[truncated: 10 characters shown of 100 characters]"


async def test_output_past_the_byte_cap_is_drained_not_blocking() -> None:
    # 4 MiB is far more than a pipe buffer: the program would block if nobody read it.
    code = "import sys; sys.stdout.write('y' * (4 << 20))"
    command = tool([sys.executable, "-c", code], max_output_chars=100, timeout=20)
    result = await command.call({})
    assert result.ok and result.truncated
    assert result.text.startswith("y" * 100 + "\n[truncated: 100 characters shown of")
    assert f"{4 << 20} bytes of output" in result.text


async def test_empty_output_is_said_plainly() -> None:
    result = await tool(["true"]).call({})
    assert result.ok
    assert result.text == "(no output)"


async def test_run_process_reports_output_and_exit_code() -> None:
    outcome = await run_process(
        [sys.executable, "-c", "import sys; print('out'); sys.stderr.write('e' * 10000)"],
        timeout=10,
        stderr_limit=100,
    )
    assert outcome.returncode == 0
    assert outcome.stdout == "out\n"
    assert outcome.stderr == "e" * 100  # the tail only
    assert outcome.stdout_complete and not outcome.timed_out


async def test_the_spec_shown_to_the_model() -> None:
    parameters = {"type": "object", "properties": {"q": {"type": "string"}}}
    command = CommandTool(
        "grep_notes", CommandToolSpec(run=["grep", "{{ args.q }}"], parameters=parameters)
    )
    assert command.name == "grep_notes"
    assert command.spec.parameters == parameters
    assert command.spec.description == "Runs the command: grep {{ args.q }}"


async def test_run_process_without_a_timeout_and_with_an_environment() -> None:
    outcome = await run_process(
        ["sh", "-c", 'printf "%s" "$GREETING"'],
        timeout=None,
        env={"GREETING": "hi there", "PATH": os.environ["PATH"]},
    )
    assert (outcome.returncode, outcome.stdout, outcome.timed_out) == (0, "hi there", False)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a subreaper is Linux's")
async def test_programs_ending_together_share_the_looks_for_escapees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each program leaves a child in a session of its own, then all end at once. A look at
    # /proc made slow here (as on a busy machine) is shared by the programs that end meanwhile:
    # every escapee still ends, in far fewer looks than two a program (find, then see none).
    looks = 0
    children = command_module._children

    def slow_children() -> list[int]:
        nonlocal looks
        looks += 1
        time.sleep(0.05)
        return children()

    monkeypatch.setattr(command_module, "_children", slow_children)
    go = tmp_path / "go"
    script = f"setsid sleep 30 & echo $! > $0; while [ ! -e {go} ]; do sleep 0.01; done"
    pidfiles = [tmp_path / f"{n}.pid" for n in range(20)]
    async with anyio.create_task_group() as group:
        for pidfile in pidfiles:
            argv = ["sh", "-c", script, str(pidfile)]
            group.start_soon(functools.partial(run_process, argv, timeout=None))
        while not all(path.exists() and path.read_text() for path in pidfiles):
            await anyio.sleep(0.01)
        go.touch()
    escapees = [pid for path in pidfiles for pid in pids_from(path)]
    assert [pid for pid in escapees if not wait_gone(pid)] == []
    assert looks <= 10, looks


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a subreaper is Linux's")
@pytest.mark.parametrize("kernel_lists_children", [True, False])
async def test_an_escapee_ends_whether_or_not_the_kernel_lists_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel_lists_children: bool
) -> None:
    # The look reads the children the kernel lists for agnoctl's threads; a kernel built
    # without those lists (CONFIG_PROC_CHILDREN) has every process looked at instead.
    if not kernel_lists_children:
        monkeypatch.setattr(command_module, "_listed_children", lambda me: None)
    elif command_module._listed_children(str(os.getpid())) is None:
        pytest.skip("this kernel lists no task's children")
    pidfile = tmp_path / "escapee.pid"
    outcome = await run_process(
        ["sh", "-c", f"setsid sleep 30 & echo $! > {pidfile}"], timeout=None
    )
    assert outcome.returncode == 0
    (escapee,) = pids_from(pidfile)
    assert wait_gone(escapee)


async def test_a_look_that_fails_leaves_the_others_tags_to_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Four programs end while a first look runs, and the look made for all four fails (no
    # file descriptor left for /proc, say): the one that made it gets the error, the other
    # three are answered by the next look (they were left without an answer: a KeyError).
    looks: list[set[str]] = []

    def tagged_children(tags: set[str]) -> dict[str, list[int]]:
        looks.append(set(tags))
        time.sleep(0.05)  # long enough for the others to start waiting
        if len(looks) == 2:
            raise OSError(24, "Too many open files")
        return {}

    monkeypatch.setattr(command_module, "_tagged_children", tagged_children)
    sweeps = command_module._Sweeps()
    outcomes: dict[str, object] = {}

    async def ask(tag: str) -> None:
        try:
            outcomes[tag] = await sweeps.escaped(tag)
        except OSError as exc:
            outcomes[tag] = exc

    async with anyio.create_task_group() as group:
        group.start_soon(ask, "first")
        await anyio.sleep(0.01)  # the first look is under way
        for n in range(4):
            group.start_soon(ask, f"t{n}")
    assert looks[1] == {f"t{n}" for n in range(4)}  # the failed look was all four's
    failed = [tag for tag, outcome in outcomes.items() if isinstance(outcome, OSError)]
    assert len(failed) == 1
    assert {tag: outcomes[tag] for tag in outcomes if tag not in failed} == {
        tag: [] for tag in ("first", "t0", "t1", "t2", "t3") if tag not in failed
    }
