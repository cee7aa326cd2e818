"""Command tasks as Ray tasks: ``agnoctl run --executor ray`` (docs/ray.md).

The driver (this process) stays the one owner of the run: it schedules by the DAG, holds every
limit and budget, writes the journal, the cache and the reports. What goes to the cluster is
the program of a command step or a command tool, and the model calls of an agent step that
declares it (``agnoctl.engine.remote_model``): the function that runs it here
(``agnoctl.tools.executor``) runs on a Ray worker, with the step's ``resources`` as the task's
request, and its value (exit code, output within the same caps, stderr's end; a model's
reply) comes back with the id of the node it ran on.

Faults are the driver's to judge, so none counts twice: Ray retries nothing
(``max_retries=0``); a worker or node lost mid-task fails that attempt as ``worker_lost``,
which the step's retry policy retries. Cancelling a task (a timeout, SIGINT, a failed run) asks
it to stop first, which ends its program's process group on the worker as a local
cancellation does, and kills its worker after ``CANCEL_GRACE`` if it has not.

The working directory (where ``agnoctl`` runs, against which relative paths resolve) is shipped
to the workers as Ray's ``working_dir``, so relative paths mean there what they mean here;
``MAX_WORKING_DIR`` caps it before anything is uploaded. ray is imported only here, and this
module only under ``--executor ray``: importing it takes seconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import importlib.util
import logging
import os
import queue
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any, ParamSpec, TypeVar

import anyio
from anyio.from_thread import BlockingPortal

from agnoctl.errors import StepFailed, UsageError
from agnoctl.spec.models import ResourcesSpec
from agnoctl.spec.resource_checks import memory_bytes
from agnoctl.tools.executor import Ran

P = ParamSpec("P")
T = TypeVar("T")

INSTALL_HINT = (
    "pip install 'ray>=2.40' into agnoctl's environment (its `ray` extra: "
    "pip install -e '.[ray]' in a checkout of agnoctl)"
)
MAX_WORKING_DIR = 100 * 2**20
"""Bytes of the working directory shipped to the workers; Ray's own cap (512 MiB, zipped)
fails only after the upload, with a message about gRPC."""
EXCLUDED = (".agnoctl", ".git")
"""Never shipped: agnoctl's runs and cache, and git's history (no command reads them there)."""
CANCEL_GRACE = 2.0
"""Seconds a cancelled task has to end its program (SIGTERM, then SIGKILL after a second)
before its worker is killed."""
PROBE_TIMEOUT = 5.0
"""Seconds a cluster's address has to accept a connection before the run is refused."""
_POLL = 0.1  # seconds: how often a worker's task looks up from its program for a cancel


@dataclass(frozen=True, slots=True)
class RayOptions:
    """How to reach the cluster: ``address`` (``--ray-address``), else ``RAY_ADDRESS``, else a
    cluster of this machine, started for the run and stopped after it; and whether every
    agent step's model calls go there too (``agents``, ``--ray-agents``), not only those of
    steps with ``resources:``."""

    address: str | None = None
    agents: bool = False


def check_ray(options: RayOptions) -> None:
    """Raise UsageError when ray is not installed (found without importing it), or when the
    cluster is named by a Ray Client address."""
    if importlib.util.find_spec("ray") is None:
        raise UsageError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}")
    address = _address(options)
    if address is not None and address.startswith("ray://"):
        raise UsageError(
            f"{address} is a Ray Client address, and agnoctl runs as a Ray driver, which "
            "reaches every node itself: run it where it can (inside the cluster's network) "
            "and give the head's GCS address, host:6379 (docs/ray.md)"
        )
    if address is not None:
        check_listening(address)


def check_listening(address: str) -> None:
    """Raise UsageError when nothing answers at a ``host:port`` address within
    ``PROBE_TIMEOUT``.

    Ray itself retries a cluster it cannot reach for many minutes, GCS connect after GCS
    connect, before it gives up: a mistyped port must be told at once. Any other form
    (``auto``, an address Ray cannot parse) is Ray's to judge."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), PROBE_TIMEOUT).close()
    except ConnectionRefusedError:
        problem = "nothing listens there (connection refused)"
    except TimeoutError:
        problem = f"nothing answered within {PROBE_TIMEOUT:g}s"
    except OSError as exc:  # a host name that does not resolve, an unreachable network
        problem = exc.strerror or str(exc)
    else:
        return
    raise UsageError(
        f"cannot reach the Ray cluster at {address}: {problem}; start one (`ray start "
        "--head` prints its address) or give the head's GCS address, host:6379 "
        "(--ray-address, RAY_ADDRESS)"
    )


def _address(options: RayOptions) -> str | None:
    return options.address or os.environ.get("RAY_ADDRESS") or None


@dataclass(frozen=True, slots=True)
class _Raised:
    """What a Ray task sends back when the function raised: the error as a value, so that a
    Ray error only ever means the task itself was lost or refused."""

    error: Exception
    node: str


class RayExecutor:
    """Runs each function as a Ray task; an ``Executor`` (``agnoctl.tools.executor``)."""

    def __init__(self, ray: ModuleType) -> None:
        self._ray = ray
        # The driver's retry policy decides: a task Ray re-ran by itself would count twice.
        self._task = ray.remote(max_retries=0)(_on_worker)
        errors = ray.exceptions
        # A worker process or its node died, or the result went with it: another attempt
        # may succeed.
        self._lost: tuple[type[Exception], ...] = (
            errors.WorkerCrashedError,
            errors.NodeDiedError,
            errors.ObjectLostError,
            errors.LocalRayletDiedError,
        )

    async def run(
        self,
        resources: ResourcesSpec | None,
        fn: Callable[P, Awaitable[T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Ran[T]:
        task = self._task if resources is None else self._task.options(**request(resources))
        ref = task.remote(fn, args, kwargs)
        try:
            outcome: Ran[T] | _Raised = await asyncio.wrap_future(ref.future())
        except self._ray.exceptions.RayError as exc:
            raise self._failure(exc) from None
        except BaseException:  # cancelled here: stop it there
            with anyio.CancelScope(shield=True):
                await self._cancel(ref)
            raise
        if isinstance(outcome, _Raised):
            raise outcome.error
        return outcome

    def _failure(self, exc: Exception) -> StepFailed:
        """The attempt's failure when Ray lost or refused the task (never the program's own)."""
        name = type(exc).__name__
        if isinstance(exc, self._lost):
            return StepFailed(
                f"the Ray worker running the task was lost ({name}): {_first_line(exc)}",
                kind="worker_lost",
                retryable=True,
            )
        return StepFailed(
            f"Ray could not run the task ({name}): {_first_line(exc)}", kind="executor"
        )

    async def _cancel(self, ref: Any) -> None:
        self._ray.cancel(ref)  # a KeyboardInterrupt in the task: it ends its program's group
        ended = asyncio.wrap_future(ref.future())
        ended.add_done_callback(_seen)
        with anyio.move_on_after(CANCEL_GRACE):
            await asyncio.wait([ended])
            return
        self._ray.cancel(ref, force=True)  # it did not end: its worker is killed


def _seen(ended: asyncio.Future[Any]) -> None:
    """Take a cancelled task's end: its error is the cancellation asked for, which asyncio
    would otherwise print, traceback and all, as an error nobody retrieved."""
    if not ended.cancelled():
        ended.exception()


def request(resources: ResourcesSpec) -> dict[str, Any]:
    """A step's ``resources`` as Ray task options."""
    options: dict[str, Any] = {}
    if resources.cpus is not None:
        options["num_cpus"] = resources.cpus
    if resources.gpus is not None:
        options["num_gpus"] = resources.gpus
    if resources.memory is not None:
        options["memory"] = memory_bytes(resources.memory)  # validated: E470
    if resources.custom:
        options["resources"] = dict(resources.custom)
    return options


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def _on_worker(
    fn: Callable[..., Awaitable[T]], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Ran[T] | _Raised:
    """The Ray task: ``fn`` on the worker's event loop."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    ended = threading.Event()

    async def call() -> T:
        try:
            return await fn(*args, **kwargs)
        finally:
            ended.set()

    future = _worker_loop().start_task_soon(call)
    try:
        return Ran(_result(future), node)
    except KeyboardInterrupt:  # ray.cancel: end the program as a local cancel does
        future.cancel()
        ended.wait()  # its program's group ended, as a task's end promises the driver
        raise
    except Exception as exc:
        return _Raised(exc, node)


@functools.cache
def _worker_loop() -> BlockingPortal:
    """This worker process's event loop, started with its first task and kept for the next:
    a worker runs its tasks one at a time, and a loop started for each (its thread, anyio's
    worker threads) was most of what a trivial task cost there. A daemon thread, so the
    worker ends when Ray ends it, with nothing to stop first."""
    ready: queue.Queue[BlockingPortal] = queue.Queue(1)

    async def serve() -> None:
        async with BlockingPortal() as portal:
            ready.put(portal)
            await portal.sleep_until_stopped()

    threading.Thread(target=anyio.run, args=(serve,), name="agnoctl-tasks", daemon=True).start()
    return ready.get()


def _result(future: concurrent.futures.Future[T]) -> T:
    # Polled, not waited on: Ray's cancel is a KeyboardInterrupt, which reaches this thread
    # only while it runs Python code, never inside a blocking wait.
    while not concurrent.futures.wait([future], timeout=_POLL).done:
        pass
    return future.result()


@contextlib.asynccontextmanager
async def connected(options: RayOptions, working_dir: Path) -> AsyncIterator[RayExecutor]:
    """A ``RayExecutor`` on the cluster for the run, its working directory shipped; the
    connection (and a cluster started for the run) ends with it."""
    await anyio.to_thread.run_sync(check_working_dir, working_dir)
    ray = await anyio.to_thread.run_sync(partial(_connect, options, working_dir))
    try:
        yield RayExecutor(ray)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(ray.shutdown)


def _connect(options: RayOptions, working_dir: Path) -> ModuleType:
    import ray

    local = _address(options) is None
    settings: dict[str, Any] = {
        "address": options.address,
        "runtime_env": {"working_dir": str(working_dir), "excludes": list(EXCLUDED)},
        "log_to_driver": False,  # what a command prints is its output, captured
        "logging_level": logging.ERROR,
    }
    if local:
        settings["include_dashboard"] = False
        no_usage_reports()
    try:
        ray.init(**settings)
    except (ConnectionError, ValueError) as exc:  # ValueError: an address of no form Ray reads
        raise UsageError(
            f"cannot reach the Ray cluster at {_address(options)}: {_first_line(exc)}; start one "
            "(`ray start --head`) or give its address (--ray-address, RAY_ADDRESS)"
        ) from None
    return ray


def no_usage_reports() -> None:
    """Keep a cluster started here from reporting its use to Ray's makers.

    Ray sends usage statistics from every cluster it starts (even without its dashboard,
    through a minimal one) unless told not to: a network call the user never asked agnoctl to
    make. A user who set ``RAY_USAGE_STATS_ENABLED`` keeps their choice; a cluster agnoctl only
    connects to keeps its own settings."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def check_working_dir(root: Path) -> None:
    """Raise UsageError when what would be shipped of ``root`` exceeds ``MAX_WORKING_DIR``."""
    total = 0
    # Ray's upload follows symbolic links, to files and to folders: what they point to is
    # shipped, so it is what counts.
    for folder, subfolders, files in os.walk(root, followlinks=True):
        subfolders[:] = [name for name in subfolders if name not in EXCLUDED]
        for name in files:
            with contextlib.suppress(OSError):  # gone meanwhile, or unreadable: Ray says so
                total += os.stat(os.path.join(folder, name)).st_size
        if total > MAX_WORKING_DIR:
            raise UsageError(
                f"--executor ray ships the directory agnoctl runs in ({root}) to the Ray "
                f"workers, and it holds more than {MAX_WORKING_DIR // 2**20} MiB; run agnoctl "
                "from a directory that holds only what the commands read (large data belongs "
                "on storage every node reads, named by an absolute path or URL)"
            )
