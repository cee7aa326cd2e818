"""The first model call is like every other: the run's HTTP client is built off the event loop,
before any agent attempt starts, and only when a step may send an HTTP request."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agnoctl import run_workflow
from agnoctl.cache import ResponseCache
from agnoctl.events import Entry, StepSucceeded
from agnoctl.providers import http
from agnoctl.testing.fake_llm import FakeLLMConfig, FakeLLMThread


@pytest.fixture
def server() -> Iterator[FakeLLMThread]:
    with FakeLLMThread(FakeLLMConfig(latency_ms=5)) as fake:
        yield fake


def _flow(folder: Path, url: str) -> Path:
    data = {
        "version": 1,
        "name": "first-call",
        "providers": {"local": {"type": "openai", "base_url": f"{url}/v1"}},
        "agents": {"a": {"model": "local/m"}},
        "steps": {
            "ask": {
                "agent": "a",
                "prompt": "hello",
                "timeout": "300ms",
                "retry": {"max_attempts": 1},
            },
            "side": {"run": [sys.executable, "-c", "pass"]},
        },
    }
    path = folder / "flow.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_a_slow_client_set_up_delays_no_command_and_counts_against_no_attempt(
    server: FakeLLMThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    order: list[str] = []
    side_done = threading.Event()
    built: list[float] = []
    real_factory = http.create_client

    def slow_factory(**settings: Any) -> http.Client:
        # The command step can finish while the client is built only if the loop runs on:
        # the factory waits for it (not for a time), then takes a second more.
        order.append(f"side finished during the set-up: {side_done.wait(60)}")
        time.sleep(1.0)
        client = real_factory(**settings)
        built.append(time.time())
        order.append("client built")
        return client

    def listen(entry: Entry) -> None:
        if isinstance(entry.event, StepSucceeded) and entry.event.step == "side":
            order.append("side succeeded")
            side_done.set()

    monkeypatch.setattr(http, "create_client", slow_factory)
    report = run_workflow(
        _flow(tmp_path, server.url), runs_dir=tmp_path / "runs", listeners=[listen]
    )

    assert report.status == "passed", report.reason
    assert order == ["side succeeded", "side finished during the set-up: True", "client built"]
    [attempt] = report.steps["ask"].attempts
    assert attempt.error is None and attempt.started.timestamp() >= built[0]
    assert server.stats()["requests"] == 1


def test_the_client_is_built_once_whichever_threads_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[http.Client] = []
    started = threading.Event()
    release = threading.Event()
    real_factory = http.create_client

    def factory(**settings: Any) -> http.Client:
        started.set()
        release.wait(5)
        made.append(real_factory(**settings))
        return made[-1]

    monkeypatch.setattr(http, "create_client", factory)
    holder = http.HttpClient()
    seen: list[http.Client] = []
    builder = threading.Thread(target=lambda: seen.append(holder.build()))
    builder.start()
    assert started.wait(5)
    asker = threading.Thread(target=lambda: seen.append(holder.client))
    asker.start()
    release.set()
    builder.join(5)
    asker.join(5)
    assert len(made) == 1 and seen == [made[0], made[0]]


@pytest.mark.parametrize("mode", [["--mock"], ["--cache-only"]])
def test_an_offline_run_imports_no_http_transport(
    server: FakeLLMThread, tmp_path: Path, mode: list[str]
) -> None:
    flow = _flow(tmp_path, server.url)
    options = {"mock": True} if mode == ["--mock"] else {"cache_mode": "only"}
    with ResponseCache(tmp_path / "cache") as cache:  # --cache-only needs one to replay
        cache.stats()
    probe = (
        "import sys, agnoctl\n"
        f"agnoctl.run_workflow({str(flow)!r}, runs_dir={str(tmp_path / 'runs')!r}, "
        f"cache_dir={str(tmp_path / 'cache')!r}, **{options!r})\n"
        "print('aiohttp' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
    assert server.stats()["requests"] == 0
