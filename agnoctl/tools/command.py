"""Command tools, and the one way agnoctl runs a program: argv, no shell, bounded, no orphans.

Each element of a command tool's ``run`` is a template rendered with ``args`` (the model's
validated arguments) into exactly one argument: ``; rm -rf /`` or ``$(id)`` in an argument
reach the program as those characters, never a shell. Nor may an argument become an option:
an element that the model's value makes start with ``-`` (``{{ args.f }}`` given
``--output=pwned.txt``) refuses the call, unless the tool says ``allow_option_args: true``.
The program runs in its own session (process group), in ``cwd`` (relative to where agnoctl
runs) or agnoctl's working directory.

``run_process`` bounds a program in time and output. On a timeout or a cancellation the whole
process group gets SIGTERM, then SIGKILL after a grace period, so children that ignore SIGTERM
or outlive their parent are stopped too. Members of the group still running after the program
exits normally get the same treatment: a tool call leaves no processes behind.

A child that starts a session of its own (``setsid``) leaves the group. Every program runs
with a tag of its own in its environment (``PROCESS_TAG``), which its descendants inherit, and
on Linux agnoctl is a child subreaper: an orphaned descendant becomes agnoctl's child, not
init's. So when a program ends, ``end_escaped`` finds what it left running outside its group
(agnoctl's children carrying its tag) and kills it. Command steps use the same functions.

Under ``--executor ray`` a call's ``run_process`` runs on a Ray worker instead
(``agnoctl.tools.executor``), the same function with the same bounds.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import itertools
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from anyio.abc import ByteReceiveStream, Process
from anyio.lowlevel import RunVar

from agnoctl import redact
from agnoctl.providers.base import ToolSpec
from agnoctl.spec.models import CommandToolSpec
from agnoctl.spec.templates import TemplateError, render
from agnoctl.tools.base import BaseTool, ToolResult, cut, failed, output_bytes, refused
from agnoctl.tools.executor import LOCAL, Executor
from agnoctl.tools.tags import tag_prefix

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
STDERR_TAIL_BYTES = 4096
PROCESS_TAG = "AGNOCTL_PROCESS_TAG"
_POLL = 0.02
_PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
_REAP_WAIT = 2.0  # seconds to wait for a SIGKILLed escapee to exit
_ESCAPE_ROUNDS = 16  # generations of escapees looked for after a program ends
_tags = itertools.count(1)
RUNNING: set[int] = set()
"""Process groups of the programs running now (``kill_running`` ends them at once)."""


@dataclass(frozen=True, slots=True)
class ProcessOutcome:
    returncode: int  # negative: killed by that signal
    stdout: str
    stderr: str  # the last ``stderr_limit`` bytes
    stdout_complete: bool  # False when stdout was longer than ``stdout_limit`` bytes
    stdout_bytes: int  # everything the program wrote to stdout
    timed_out: bool


async def run_process(
    argv: list[str],
    *,
    timeout: float | None,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    stdout_limit: int = 1 << 20,
    stderr_limit: int = STDERR_TAIL_BYTES,
    kill_grace: float = KILL_GRACE,
) -> ProcessOutcome:
    """Run ``argv`` (no shell) in its own process group; raises OSError if it cannot start.

    ``timeout`` (seconds; None: unbounded) ends the program and its group when reached.

    Keeps the first ``stdout_limit`` bytes of stdout and the last ``stderr_limit`` bytes of
    stderr, reading (and dropping) the rest so the program never blocks on a full pipe.
    """
    tagged, tag = tag_environment(env)
    process = await anyio.open_process(
        argv, stdin=subprocess.DEVNULL, cwd=cwd, env=tagged, start_new_session=True
    )
    stdout = _Capture(stdout_limit, keep_tail=False)
    stderr = _Capture(stderr_limit, keep_tail=True)
    ended = False
    RUNNING.add(process.pid)
    try:
        with anyio.move_on_after(timeout) as deadline:
            async with anyio.create_task_group() as group:
                group.start_soon(stdout.drain, process.stdout)
                group.start_soon(stderr.drain, process.stderr)
                await process.wait()
                # What the program left running may hold the pipes open: end it now.
                await _end_group(process, kill_grace)
                await end_escaped(tag)
                ended = True
    finally:
        # Shielded: a cancelled step must still stop what it started.
        with anyio.CancelScope(shield=True):
            if not ended:
                await _end_group(process, kill_grace)
                await end_escaped(tag)
            await process.aclose()
        RUNNING.discard(process.pid)
    assert process.returncode is not None  # aclose() waited for the exit
    return ProcessOutcome(
        returncode=process.returncode,
        stdout=stdout.text(),
        stderr=stderr.text(),
        stdout_complete=stdout.complete,
        stdout_bytes=stdout.total,
        timed_out=deadline.cancelled_caught,
    )


class _Capture:
    def __init__(self, limit: int, *, keep_tail: bool) -> None:
        self._limit = limit
        self._keep_tail = keep_tail
        self._data = bytearray()
        self.total = 0

    @property
    def complete(self) -> bool:
        return self.total <= self._limit

    async def drain(self, stream: ByteReceiveStream | None) -> None:
        if stream is None:
            return
        async for chunk in stream:
            self.total += len(chunk)
            if self._keep_tail:
                self._data += chunk
                del self._data[: max(0, len(self._data) - self._limit)]
            elif len(self._data) < self._limit:
                self._data += chunk[: self._limit - len(self._data)]

    def text(self) -> str:
        text = self._data.decode("utf-8", errors="replace")
        if self._keep_tail:
            # A kept tail may start inside a secret the capture split: none of it is shown.
            return redact.tail(text, len(text), cut=not self.complete)[0]
        return text


async def _end_group(process: Process, grace: float) -> None:
    """SIGTERM the process group, SIGKILL whatever still runs after ``grace`` seconds."""
    group = process.pid  # start_new_session: the program leads its own group
    if not _group_running(group):
        await process.wait()
        return
    _signal_group(group, signal.SIGTERM)
    with anyio.move_on_after(grace):
        await process.wait()
        while _group_running(group):
            await anyio.sleep(_POLL)
    if _group_running(group):
        _signal_group(group, signal.SIGKILL)
    await process.wait()


def nul_byte_in(argv: Iterable[str], env: Mapping[str, str] | None = None) -> str | None:
    """Which argument (by position, from 0) or variable of a command holds a NUL byte, if one
    does: a program's arguments and environment are C strings, which a NUL would end, so the
    system cannot be given one (binary output of a step, a model's ``\\u0000``)."""
    for index, argument in enumerate(argv):
        if "\0" in argument:
            return f"argument {index}"
    for name, value in (env or {}).items():
        if "\0" in value:
            return f"variable {name}"
    return None


def tag_environment(env: Mapping[str, str] | None) -> tuple[dict[str, str], str]:
    """``env`` (agnoctl's own when None) with a new ``PROCESS_TAG``, and that tag."""
    _become_subreaper()
    tag = f"{tag_prefix()}.{next(_tags)}"
    return {**(os.environ if env is None else env), PROCESS_TAG: tag}, tag


def end_left_behind(prefix: str) -> None:
    """End the programs a process that died (SIGKILL, the OOM killer) left running: those
    whose tag begins with its ``prefix``, wherever they were re-parented. SIGTERM to each
    one's group, then SIGKILL to what still runs after ``KILL_GRACE`` seconds."""
    tag = f"{prefix}."
    left = [pid for pid in _running() if (_tag_of(pid) or "").startswith(tag)]
    deadline = time.monotonic() + KILL_GRACE
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signum)  # a program leads its own group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)  # one that left it (setsid)
        while True:
            # Still running, and still the program: a pid that ended is soon someone else's.
            left = [p for p in left if _running_pid(p) and (_tag_of(p) or "").startswith(tag)]
            if not left or signum == signal.SIGKILL or time.monotonic() >= deadline:
                break
            time.sleep(_POLL)


def _running() -> list[int]:
    """Every process still running (zombies excluded), from /proc."""
    if not os.path.isdir("/proc"):
        return []
    return [int(pid) for pid in _all_pids() if _alive(_stat_fields(pid))]


def _running_pid(pid: int) -> bool:
    return _alive(_stat_fields(str(pid)))


@functools.cache
def _become_subreaper() -> None:
    """Make orphaned descendants agnoctl's children (Linux; elsewhere nothing changes)."""
    prctl = getattr(ctypes.CDLL(None), "prctl", None)
    if prctl is not None:
        prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


async def end_escaped(tag: str) -> None:
    """SIGKILL and reap what the program tagged ``tag`` left running outside its group.

    Ending one escapee orphans its own children, which become agnoctl's in turn: look again
    until none is left (a bounded number of times: one that cannot be killed stays).
    """
    sweeps = _sweeps.get(None)
    if sweeps is None:
        sweeps = _Sweeps()
        _sweeps.set(sweeps)
    for _ in range(_ESCAPE_ROUNDS):
        escaped = await sweeps.escaped(tag)
        if not escaped:
            return
        for pid in escaped:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with anyio.move_on_after(_REAP_WAIT):
            while not all(_reaped(pid) for pid in escaped):
                await anyio.sleep(_POLL)


class _Sweeps:
    """Looks for escapees, once for every program that ended while the last look ran.

    A look reads every process's /proc entry, which the kernel takes about 10 µs each to make:
    done on the event loop for each program, it was 40 % of a fan-out of short commands. It
    runs in a worker thread, and the programs that end meanwhile share the next look, so a
    busy machine costs a fan-out a look per batch of programs, not per program.
    """

    def __init__(self) -> None:
        self._lock = anyio.Lock()
        self._waiting: set[str] = set()
        self._found: dict[str, list[int]] = {}

    async def escaped(self, tag: str) -> list[int]:
        """agnoctl's running children tagged ``tag``, from a look started after this call."""
        self._waiting.add(tag)
        try:
            async with self._lock:
                if tag in self._waiting:  # no look has answered it: one for every tag waiting
                    tags, self._waiting = self._waiting, set()
                    try:
                        found = await anyio.to_thread.run_sync(_tagged_children, tags)
                    except BaseException:  # (no file descriptor left for /proc, say)
                        self._waiting |= tags  # the others' next holder looks again
                        raise
                    self._found.update((each, found.get(each, [])) for each in tags)
            return self._found.pop(tag)
        finally:  # a caller cancelled on the way leaves nothing behind
            self._waiting.discard(tag)
            self._found.pop(tag, None)


_sweeps: RunVar[_Sweeps] = RunVar("agnoctl_sweeps")  # one per event loop, as its lock is


def kill_running() -> None:
    """SIGKILL every program still running (agnoctl is about to exit without waiting)."""
    for group in list(RUNNING):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


def kill_tagged(tags: Iterable[str], signum: signal.Signals = signal.SIGKILL) -> None:
    """Send ``signum``, at once, to agnoctl's children tagged with one of ``tags`` and their
    groups. Nothing is waited for or reaped: the caller's process is about to exit (SIGKILL),
    or whoever started the children still waits for them (SIGTERM)."""
    wanted = set(tags)
    for pids in _tagged_children(wanted).values() if wanted else []:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signum)  # a server leads its own group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)


def _tagged_children(tags: set[str]) -> dict[str, list[int]]:
    """agnoctl's running children that carry one of ``tags``, by tag."""
    found: dict[str, list[int]] = {}
    for pid in _children():
        tag = _tag_of(pid)
        if tag in tags:
            found.setdefault(tag, []).append(pid)
    return found


def _children() -> list[int]:
    """agnoctl's child processes still running (its zombies excluded), from /proc."""
    if not os.path.isdir("/proc"):
        return []  # no /proc (macOS): no subreaper either, escapees went to init
    me = str(os.getpid())
    pids = _listed_children(me)
    if pids is None:  # a kernel that lists no task's children: every process is looked at
        pids = _all_pids()
    return [int(pid) for pid in pids if _running_child(_stat_fields(pid), me)]


def _listed_children(me: str) -> list[str] | None:
    """The pids the kernel lists as children of this process's threads (an adopted orphan is
    the child of whichever thread adopted it), or None where the kernel has no such list
    (built without CONFIG_PROC_CHILDREN). A look at a machine's every process reads hundreds
    of /proc entries (a Ray node's own processes among them); these lists are a few files."""
    pids: list[str] = []
    for tid in os.listdir(f"/proc/{me}/task"):
        try:
            with open(f"/proc/{me}/task/{tid}/children", encoding="ascii") as f:
                pids += f.read().split()
        except FileNotFoundError:
            if tid == me:  # the main thread runs this process: the kernel has no list
                return None
            # another thread ended meanwhile: the orphans it adopted went to another thread
    return pids


def _running_child(fields: list[str], parent: str) -> bool:
    return fields[1:2] == [parent] and _alive(fields)


def _tag_of(pid: int) -> str | None:
    """The PROCESS_TAG a process was started with, if any."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            environ = f.read()
    except OSError:
        return None  # exited meanwhile, or not ours to read
    prefix = f"{PROCESS_TAG}=".encode()
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace")
    return None


def _reaped(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG)[0] != 0
    except ChildProcessError:
        return True  # reaped already


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _signal_group(group: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(group, signum)


def _group_running(group: int) -> bool:
    """Whether a member of the process group still runs (zombies do not count)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a member changed user: it exists
    return _running_member(group)


def _running_member(group: int) -> bool:
    # Orphans re-parented to an init that never reaps them stay zombies forever (as in
    # some containers), and killpg(group, 0) still finds them: look at their state instead.
    if not os.path.isdir("/proc"):
        return True  # no /proc (macOS): trust killpg; init reaps orphans there
    return any(
        fields[2:3] == [str(group)] and _alive(fields) for fields in map(_stat_fields, _all_pids())
    )


def _all_pids() -> list[str]:
    """Every process's pid, as /proc names them."""
    with os.scandir("/proc") as entries:
        return [entry.name for entry in entries if entry.name.isdigit()]


def _alive(fields: list[str]) -> bool:
    """Whether the process ``_stat_fields`` read still runs (not gone, not a zombie)."""
    return fields[0] not in ("", "Z", "X")


def _stat_fields(pid: str) -> list[str]:
    """State, parent and group of a process ("" when it is gone), from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return [""]  # exited meanwhile
    # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    return stat[stat.rfind(")") + 2 :].split()[:3]


def _option_from_arguments(template: tuple[str, ...], argv: list[str]) -> str | None:
    """The first argument that starts with ``-`` only because of what was rendered into it.

    ``--max-count={{ args.n }}`` is the author's option and stays one; ``{{ args.f }}``
    rendered into ``--output=x`` is the model's value posing as an option.
    """
    for written, rendered in zip(template, argv, strict=True):
        if rendered.startswith("-") and not written.startswith("-"):
            return rendered
    return None


class CommandTool(BaseTool):
    """A program run with the model's arguments rendered into argv."""

    def __init__(
        self,
        name: str,
        spec: CommandToolSpec,
        *,
        kill_grace: float = KILL_GRACE,
        executor: Executor = LOCAL,
    ) -> None:
        description = spec.description or f"Runs the command: {' '.join(spec.run)}"
        super().__init__(ToolSpec(name, description, spec.parameters), spec.max_output_chars)
        self._argv = tuple(spec.run)
        self._timeout = spec.timeout
        self._cwd = spec.cwd
        self._kill_grace = kill_grace
        self._executor = executor  # here, or a Ray worker (`--executor ray`)
        self._allow_options = spec.allow_option_args is True

    async def _run(self, arguments: dict[str, Any]) -> ToolResult:
        try:
            argv = [render(part, {"args": arguments}) for part in self._argv]
        except TemplateError as exc:
            return failed(f"could not build the command line: {exc.message}")
        if (nul := nul_byte_in(argv)) is not None:
            return refused(f"{nul} of the command line holds a NUL byte, which no program takes")
        option = None if self._allow_options else _option_from_arguments(self._argv, argv)
        if option is not None:
            return refused(
                f"the argument {option!r} starts with '-', so the program would read it as an "
                "option, and this tool takes none from its arguments; pass a value that does "
                "not start with '-'"
            )
        try:
            ran = await self._executor.run(
                None,
                run_process,
                argv,
                timeout=self._timeout,
                cwd=self._cwd,
                stdout_limit=output_bytes(self.max_output_chars),
                kill_grace=self._kill_grace,
            )
        except OSError as exc:
            # The spawn fails alike for a missing program and a missing cwd: name the cwd.
            if self._cwd is not None and not Path(self._cwd).is_dir():
                return failed(f"the tool's cwd {self._cwd!r} is not a directory")
            return failed(f"could not start {argv[0]!r}: {exc.strerror or exc}")
        return self._result(ran.value)

    def _result(self, outcome: ProcessOutcome) -> ToolResult:
        total = None if outcome.stdout_complete else f"{outcome.stdout_bytes} bytes of output"
        stdout, truncated = cut(outcome.stdout, self.max_output_chars, total=total)
        if outcome.timed_out:
            problem = f"timed out after {self._timeout:g}s; the command was stopped"
        elif outcome.returncode < 0:
            problem = f"killed by signal {_signal_name(-outcome.returncode)}"
        elif outcome.returncode != 0:
            problem = f"exit code {outcome.returncode}"
        else:
            return ToolResult(True, stdout or "(no output)", truncated)
        text = f"failed: {problem}"
        if outcome.stderr.strip():
            text += f"\nstderr (end):\n{outcome.stderr.strip()}"
        if stdout.strip():
            text += f"\nstdout:\n{stdout}"
        return ToolResult(False, text, truncated)
