"""MCP end to end: the real CLI, the fake LLM server, and a real SDK server (mcp_server.py)
over stdio or streamable HTTP. Skipped as a whole when the `mcp` extra is not installed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agnoctl.testing.fake_llm import FakeLLMThread, start_in_thread
from tests.e2e.conftest import E2E, clean_env

pytest.importorskip("mcp")

SERVER = Path(__file__).with_name("mcp_server.py")
STARTUP_SECONDS = 30.0


def pids(pid_file: Path) -> list[int]:
    """Every process the test server noted (servers and what they spawned)."""
    if not pid_file.exists():
        return []
    return [int(line) for line in pid_file.read_text(encoding="utf-8").split()]


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie does not: it is dead, waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeLLMThread]:
    with start_in_thread() as server:
        yield server


@pytest.fixture(scope="module")
def e2e(fake_server: FakeLLMThread, tmp_path_factory: pytest.TempPathFactory) -> E2E:
    return E2E(fake_server, tmp_path_factory.mktemp("mcp"))


class HttpServer:
    """mcp_server.py over streamable HTTP on 127.0.0.1, for one test module."""

    def __init__(self, root: Path) -> None:
        self.port_file = root / "port"
        self.pid_file = root / "http-pids"
        env = clean_env({"MCP_PID_FILE": str(self.pid_file)})
        self.process = subprocess.Popen(
            [sys.executable, str(SERVER), "http", str(self.port_file)], env=env
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while not self.port_file.exists():  # written once the socket is bound
            assert self.process.poll() is None, "the MCP test server exited"
            assert time.monotonic() < deadline, "the MCP test server did not start"
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{self.port_file.read_text(encoding='utf-8')}/mcp"

    def close(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    server = HttpServer(tmp_path_factory.mktemp("mcp-http"))
    try:
        yield server
    finally:
        server.close()


def stdio_entry(pid_file: Path, **extra: object) -> dict[str, object]:
    """A `type: mcp` entry that starts mcp_server.py over stdio."""
    return {
        "type": "mcp",
        "command": [sys.executable, str(SERVER), "stdio"],
        "env": {"MCP_PID_FILE": str(pid_file)},
        **extra,
    }


def no_mcp_leftovers(pid_file: Path) -> None:
    left = [pid for pid in pids(pid_file) if alive(pid)]
    assert not left, f"processes left running: {left}"
    assert os.path.exists(pid_file)
