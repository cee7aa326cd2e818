"""The real CLI, each command its own process, without paying agnoctl's imports every time.

Hundreds of tests run `agnoctl` as a process: what the exit code, stdout, stderr, files and
signals of a real run are. A fresh ``python -m agnoctl`` spends most of its start importing
(about 0.5 s of CPU), so each xdist worker starts one *zygote*: a process that imported
agnoctl's CLI and the libraries a run loads, and then only forks. Each command is a child
forked from it that becomes what ``python -m agnoctl ARGS`` is: its own argv, working
directory, environment (``os.environ`` replaced before anything reads it), standard streams
and resource limits, and then ``runpy`` runs ``agnoctl.__main__`` as the interpreter's ``-m``
does, so the process ends as that one does (atexit, threads, flushing). The child is
reported to the test by pid, signalled through a pidfd (never a recycled pid), and its exit
status comes from the zygote, its parent.

Tests use it like subprocess: ``run`` returns a ``CompletedProcess``, ``start`` a ``Process``
with ``pid``, ``send_signal``, ``wait``, ``communicate`` and ``returncode``.

What a fork cannot be, the tests that are about it keep as fresh processes: what a run
imports (tests/cli/test_startup.py), the console script and ``python -m agnoctl`` itself.
The zygote holds no thread, no open file beyond its standard streams and its control
socket, no signal handler, logging or gc setting of its own (it checks the first two before
it serves), so a child inherits nothing a fresh interpreter would not have. What the
interpreter and the preloaded libraries read from the environment as they start
(``PYTHON*``, the locale, ``TYPER_USE_RICH``, aiohttp's ``*_NO_EXTENSIONS``) is the
zygote's: a command that sets them otherwise gets a zygote of its own, started with them.

When the worker goes away the control socket closes; the zygote then kills whatever child is
still running and exits, so neither outlives the test session.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import runpy
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

REPO = Path(__file__).resolve().parent.parent
PIPE: Final = subprocess.PIPE
DEVNULL: Final = subprocess.DEVNULL
Limits = Mapping[int, tuple[int, int]]
"""``resource.RLIMIT_*`` → (soft, hard), set in the child before the CLI starts."""
Stream = int | IO[Any] | None
"""As subprocess takes it: ``PIPE``, ``DEVNULL``, a file, or None (the test's own)."""

# What a run loads beyond agnoctl.cli (measured with -X importtime on `agnoctl run --mock`),
# aiohttp, which every run with a model over HTTP loads (the suite's runs against the fake
# server: a quarter of a second of CPU each), and the MCP SDK's client (1.2 s of CPU for each
# run with MCP tools). A child that does not use a preloaded module pays for it only in the
# pages of the zygote's heap it touches: the MCP SDK added about 200 page faults to a mock run
# once the process ended without the interpreter's teardown, which had freed (and so copied)
# the whole inherited heap. Ray, structlog and the like stay out: they come with the runs that
# use them, as in a fresh process (Ray reads its settings from the environment as it is
# imported).
PRELOAD = (
    *("agnoctl.cli", "agnoctl.session", "agnoctl.terminal", "agnoctl.logs"),
    *("agnoctl.collector", "agnoctl.spec.validate", "agnoctl.spec.checks"),
    *("jinja2.sandbox", "rich.console", "rich.live", "rich.table", "aiohttp"),
    *("mcp", "mcp.client.stdio", "mcp.client.streamable_http"),
)
# aiohttp and its parts read their *_NO_EXTENSIONS switches as they are imported.
_STARTUP_PREFIXES = (
    *("PYTHON", "LC_", "LANG", "TYPER_USE_RICH"),
    *("AIOHTTP_", "YARL_", "MULTIDICT_", "PROPCACHE_", "FROZENLIST_"),
)
_MESSAGE_SIZE = 1 << 20
_READY = b"ready"


def _startup_environment(env: Mapping[str, str]) -> dict[str, str]:
    """What the interpreter and the preloaded libraries read from ``env`` as they start."""
    return {key: value for key, value in env.items() if key.startswith(_STARTUP_PREFIXES)}


# --------------------------------------------------------------------------- the zygote


@dataclass
class _Request:
    argv: list[str]
    cwd: str
    env: dict[str, str]
    limits: list[tuple[int, int, int]]


@dataclass
class _Zygote:
    """The zygote's state: everything a child must close before it becomes a command."""

    control: socket.socket
    selector: selectors.BaseSelector = field(default_factory=selectors.DefaultSelector)
    children: dict[int, tuple[int, socket.socket]] = field(default_factory=dict)
    """pidfd → (pid, the socket its exit status goes to)."""

    def close(self) -> None:
        self.selector.close()
        self.control.close()
        for pidfd, (_, reply) in self.children.items():
            os.close(pidfd)
            reply.close()

    def end(self) -> None:
        """The worker closed the control socket: no child outlives the zygote."""
        for pidfd in list(self.children):
            with contextlib.suppress(ProcessLookupError):  # it has just ended by itself
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            _reap(self, pidfd)
        self.close()


def _check_clean(control: int) -> None:
    """Fail closed: what a child would inherit from the zygote and a fresh process has not."""
    if threading.active_count() != 1:
        raise RuntimeError(f"forkcli: a preloaded module started a thread: {threading.enumerate()}")
    listed = (int(fd) for fd in os.listdir("/proc/self/fd"))
    extra = [fd for fd in listed if fd not in (0, 1, 2, control) and _is_open(fd)]
    if extra:
        raise RuntimeError(f"forkcli: a preloaded module holds open files {extra}")


def _is_open(fd: int) -> bool:
    """False for the descriptor ``os.listdir`` itself had open while it listed."""
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _serve(zygote: _Zygote) -> _Request:
    """Fork a child per request; returns only in a child, which never comes back here."""
    zygote.selector.register(zygote.control, selectors.EVENT_READ)
    while True:
        for key, _ in zygote.selector.select():
            if key.fileobj is zygote.control:
                message, fds, _, _ = socket.recv_fds(zygote.control, _MESSAGE_SIZE, 4)
                if not message:
                    zygote.end()
                    sys.exit(0)
                request = _Request(**json.loads(message))
                if _fork(zygote, request, fds) == 0:
                    return request
            else:
                _reap(zygote, key.fd)


def _fork(zygote: _Zygote, request: _Request, fds: list[int]) -> int:
    reply = socket.socket(fileno=fds[3])
    pid = os.fork()
    if pid == 0:
        try:
            zygote.close()
            reply.close()
            _become(request, fds[:3])
        except BaseException:  # reported on the command's stderr, then gone
            traceback.print_exc()
            os._exit(255)
        return 0
    for fd in fds[:3]:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    socket.send_fds(reply, [f"pid {pid}".encode()], [pidfd])
    zygote.children[pidfd] = (pid, reply)
    zygote.selector.register(pidfd, selectors.EVENT_READ)
    return pid


def _reap(zygote: _Zygote, pidfd: int) -> None:
    pid, reply = zygote.children.pop(pidfd)
    zygote.selector.unregister(pidfd)
    os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    with contextlib.suppress(OSError):  # the test stopped listening
        reply.send(f"exit {os.waitstatus_to_exitcode(status)}".encode())
    reply.close()


def _become(request: _Request, streams: list[int]) -> None:
    """Turn this fork into the process ``python -m agnoctl ARGV`` would have started."""
    for target, fd in enumerate(streams):
        os.dup2(fd, target)
    os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    os.environ.clear()
    os.environ.update(request.env)
    os.chdir(request.cwd)
    sys.path[0] = os.getcwd()  # as `-m` puts it
    for limit, soft, hard in request.limits:
        resource.setrlimit(limit, (soft, hard))
    sys.argv = ["-m", *request.argv]  # runpy puts the module's file first, as `-m` does
    _fresh_standard_streams()


def _fresh_standard_streams() -> None:
    """The text streams a starting interpreter makes, over the descriptors just given: as the
    zygote's (same encoding, and unbuffered under PYTHONUNBUFFERED), except that a terminal's
    stdout is line-buffered and another's not; stderr always is."""
    unbuffered = isinstance(sys.stdout, io.TextIOWrapper) and sys.stdout.write_through
    sys.stdin = _text(0, "rb", line_buffering=False)
    sys.stdout = _text(1, "wb", line_buffering=os.isatty(1), write_through=unbuffered)
    sys.stderr = _text(
        2, "wb", line_buffering=True, write_through=unbuffered, errors="backslashreplace"
    )


def _text(
    fd: int, mode: str, *, line_buffering: bool, write_through: bool = False, errors: str = ""
) -> io.TextIOWrapper:
    return io.TextIOWrapper(
        # The process's own stream, closed as it ends.
        open(fd, mode, buffering=0 if write_through else -1, closefd=False),
        encoding=sys.stdout.encoding,
        errors=errors or sys.stdout.errors,
        newline="\n",
        line_buffering=line_buffering,
        write_through=write_through,
    )


def _zygote_main() -> None:
    """The zygote process: preload, check, say ready, serve; a child goes on to the CLI."""
    import importlib

    for module in PRELOAD:
        importlib.import_module(module)
    control = socket.socket(fileno=int(sys.argv[1]))
    _check_clean(control.fileno())
    control.send(_READY)
    _serve(_Zygote(control))
    runpy.run_module("agnoctl", run_name="__main__", alter_sys=True)


# --------------------------------------------------------------------------- the test's side


class _Started:
    """A zygote, seen from the test's side: its control socket and what it wrote to stderr."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        with theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.forkcli", str(theirs.fileno())],
                cwd=REPO,
                env=env,
                stdin=DEVNULL,
                stdout=DEVNULL,
                stderr=self._log,
                pass_fds=(theirs.fileno(),),
            )
        if self.control.recv(len(_READY)) != _READY:
            raise RuntimeError(f"forkcli: the zygote did not start:\n{self.log()}")

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        """Close the control socket: the zygote kills any child left, and exits."""
        self.control.close()
        self._process.wait(timeout=30)
        self._log.close()


class _Zygotes:
    """This worker's zygotes, one for each startup environment its commands asked for (nearly
    always one), each started at the first command that needs it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started: dict[tuple[tuple[str, str], ...], _Started] = {}

    def for_environment(self, env: Mapping[str, str]) -> _Started:
        key = tuple(sorted(_startup_environment(env).items()))
        with self._lock:
            if key not in self._started:
                self._started[key] = _Started(env)
            return self._started[key]

    def stop(self) -> None:
        with self._lock:
            for zygote in self._started.values():
                zygote.stop()
            self._started.clear()


_ZYGOTES = _Zygotes()
stop = _ZYGOTES.stop
"""End this worker's zygotes and any command still running (tests/conftest.py does, as the
session ends)."""


def _descriptor(stream: Stream, inherited: int, reading: bool) -> tuple[int, int | None]:
    """(the descriptor to give the child, the pipe end this side keeps)."""
    if stream == PIPE:
        read, write = os.pipe()
        return (read, write) if reading else (write, read)
    if stream == DEVNULL:
        return os.open(os.devnull, os.O_RDONLY if reading else os.O_WRONLY), None
    if stream is None:
        return os.dup(inherited), None
    if isinstance(stream, int):
        return os.dup(stream), None
    return os.dup(stream.fileno()), None


class Process:
    """A running command, as ``subprocess.Popen(..., text=True)`` shows one."""

    def __init__(
        self, argv: list[str], pid: int, pidfd: int, status: socket.socket, zygote: _Started
    ) -> None:
        self.args = argv
        self.pid = pid
        self.returncode: int | None = None
        self.stdin: IO[str] | None = None
        self.stdout: IO[str] | None = None
        self.stderr: IO[str] | None = None
        self._pidfd: int | None = pidfd
        self._status = status
        self._zygote = zygote
        self._output: dict[str, str] = {}
        self._readers: list[threading.Thread] = []

    def send_signal(self, signum: int) -> None:
        """Signal the child, unless it is known to have ended."""
        if self.returncode is None and self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def poll(self) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.wait(timeout=0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (-N for a signal), as the zygote reaped it."""
        if self.returncode is None:
            self._status.settimeout(timeout)
            try:
                message = self._status.recv(64)
            except (TimeoutError, BlockingIOError):  # BlockingIOError: timeout 0
                raise subprocess.TimeoutExpired(self.args, timeout or 0) from None
            if not message.startswith(b"exit "):
                raise RuntimeError(f"forkcli: the zygote went away:\n{self._zygote.log()}")
            self.returncode = int(message.split()[1])
            self._status.close()
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None
        return self.returncode

    def communicate(
        self, input: str | None = None, timeout: float | None = None
    ) -> tuple[str | None, str | None]:
        """Write ``input``, read stdout and stderr to their end, wait; as Popen does."""
        if not self._readers:
            self._readers = [self._reader(name) for name in ("stdout", "stderr")]
            if self.stdin is not None:
                self._readers.append(self._writer(self.stdin, input or ""))
        deadline = None if timeout is None else _now() + timeout
        for thread in self._readers:
            thread.join(None if deadline is None else max(0, deadline - _now()))
            if thread.is_alive():
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
        self.wait(None if deadline is None else max(0, deadline - _now()))
        return self._output.get("stdout"), self._output.get("stderr")

    def _reader(self, name: str) -> threading.Thread:
        stream: IO[str] | None = getattr(self, name)

        def read() -> None:
            if stream is not None:
                with stream:
                    self._output[name] = stream.read()

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        return thread

    @staticmethod
    def _writer(stream: IO[str], text: str) -> threading.Thread:
        def write() -> None:
            with contextlib.suppress(BrokenPipeError), stream:
                stream.write(text)

        thread = threading.Thread(target=write, daemon=True)
        thread.start()
        return thread

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *_: object) -> None:
        for stream in (self.stdin, self.stdout, self.stderr):
            if stream is not None:
                stream.close()
        self.wait()


def _now() -> float:
    return time.monotonic()


def start(
    args: Sequence[str | Path],
    *,
    cwd: str | Path,
    env: Mapping[str, str] | None = None,
    stdin: Stream = None,
    stdout: Stream = None,
    stderr: Stream = None,
    limits: Limits | None = None,
) -> Process:
    """Start ``agnoctl ARGS`` (``env`` None: this process's environment)."""
    environment = dict(os.environ if env is None else env)
    zygote = _ZYGOTES.for_environment(environment)
    argv = [str(arg) for arg in args]
    ends = [
        _descriptor(stdin, 0, reading=True),
        _descriptor(stdout, 1, reading=False),
        _descriptor(stderr, 2, reading=False),
    ]
    given = [fd for fd, _ in ends]
    status, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    request = _Request(argv, str(Path(cwd).resolve()), environment, _limit_list(limits))
    with theirs:
        socket.send_fds(
            zygote.control, [json.dumps(request.__dict__).encode()], [*given, theirs.fileno()]
        )
    for fd in given:
        os.close(fd)
    message, fds, _, _ = socket.recv_fds(status, 64, 1)
    if not message.startswith(b"pid "):
        raise RuntimeError(f"forkcli: the zygote went away:\n{zygote.log()}")
    process = Process(["agnoctl", *argv], int(message.split()[1]), fds[0], status, zygote)
    process.stdin, process.stdout, process.stderr = (
        None if kept is None else open(kept, mode)  # noqa: SIM115 - the Process's to close
        for (_, kept), mode in zip(ends, ("w", "r", "r"), strict=True)
    )
    return process


def _limit_list(limits: Limits | None) -> list[tuple[int, int, int]]:
    return [(limit, soft, hard) for limit, (soft, hard) in (limits or {}).items()]


def run(
    args: Sequence[str | Path],
    *,
    cwd: str | Path,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    stdin: Stream = None,
    timeout: float = 60,
    limits: Limits | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``agnoctl ARGS`` to its end, capturing stdout and stderr, as ``subprocess.run(...,
    capture_output=True, text=True, timeout=timeout)`` would; the child is killed when the
    timeout expires."""
    process = start(
        args,
        cwd=cwd,
        env=env,
        stdin=PIPE if input is not None else stdin,
        stdout=PIPE,
        stderr=PIPE,
        limits=limits,
    )
    try:
        out, err = process.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.wait(), out, err)


if __name__ == "__main__":
    _zygote_main()
