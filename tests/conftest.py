"""Fixtures for the whole suite: the anyio backend, the CLI runners, and no network.

Every test runs with outbound connections refused unless they go to loopback or a Unix
socket: a test that would reach a real model server fails loudly instead. The project's fake
LLM server listens on 127.0.0.1, so tests that need a server use it.
"""

from __future__ import annotations

import compileall
import ipaddress
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests import forkcli

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Compile the package's bytecode once, in the controller, before any test starts.

    Hundreds of tests start `agnoctl` processes. Where PYTHONDONTWRITEBYTECODE is set, no
    process writes bytecode, so each of them compiles again every module whose bytecode is
    missing (a fresh checkout) or older than its source (an edited one): a tenth of a second
    of CPU for each `agnoctl run`. Written once here, it is only read; the xdist workers
    (which have ``workerinput``) find it done.
    """
    if not hasattr(config, "workerinput"):
        compileall.compile_dir(REPO / "agnoctl", quiet=1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first, and of them the Ray cluster's module, the longest (about a
    minute). The workers take whole modules in this order, so the long soaks start at once and
    the short modules fill in around them, instead of one worker running a soak alone at the
    end. Started behind another soak, the cluster's module met the other worker's CPU-bound
    soaks and took half as long again (the suite: 173 s, then 151 to 170 s with it first)."""
    items.sort(
        key=lambda item: (
            item.get_closest_marker("slow") is None,
            not item.nodeid.startswith("tests/ray/test_ray_cluster.py"),
        )
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _loopback(address: Any) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths and abstract names
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guard(address: Any) -> None:
        if not _loopback(address):
            raise ConnectionRefusedError(f"tests may only connect to loopback, not {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        guard(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        guard(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield


RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session", autouse=True)
def _forkcli_zygote() -> Iterator[None]:
    """The worker's zygote (tests/forkcli.py), if a test started one, ends with the session."""
    yield
    forkcli.stop()


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """Run the real CLI as its own process (``agnoctl ARGS`` forked by tests/forkcli.py), in
    ``tmp_path`` by default."""

    def run(
        *args: str | Path,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        inherited = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
        environment = {**inherited, "NO_COLOR": "1", **(env or {})}
        return forkcli.run(args, cwd=cwd or tmp_path, env=environment, timeout=timeout)

    return run


@pytest.fixture
def cli() -> CliRunner:
    """The CLI in-process (fast): ``cli.invoke(app, [...])``."""
    return CliRunner()
