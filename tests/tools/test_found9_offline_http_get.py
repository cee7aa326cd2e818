"""A `--mock` run is offline, `http_get` tools included: a replay of fixtures exported from a
run that fetched pages (`agnoctl fixtures export`) fetched them live again."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunCli


@pytest.fixture
def page_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback page server; the list holds the paths it was asked for."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"page")

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads ``asked``."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_mock_run_fetches_nothing_and_replays_its_path(
    run_cli: RunCli, page_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, asked = page_server
    (tmp_path / "wf.yaml").write_text(
        "version: 1\n"
        "name: reader\n"
        "providers:\n"
        "  p: {type: openai, base_url: 'http://127.0.0.1:9/v1', api_key: x}\n"
        "tools:\n  web: {type: http_get, allow_hosts: [127.0.0.1]}\n"
        "agents:\n  a: {model: p/m, tools: [web]}\n"
        "steps:\n  read: {agent: a, prompt: Read the page.}\n"
        "outputs:\n  summary: '{{ steps.read.output }}'\n",
        encoding="utf-8",
    )
    calls = [
        {"name": "web", "arguments": {"url": f"{url}/page"}},
        {"name": "web", "arguments": {"url": "https://example.com/"}},  # off the host list
    ]
    (tmp_path / "fixtures.yaml").write_text(
        json.dumps({"steps": {"read": [{"tool_calls": calls}, {"text": "it says page"}]}}),
        encoding="utf-8",
    )
    done = run_cli("run", "wf.yaml", "--mock", "--mock-fixtures", "fixtures.yaml", "-q")
    assert done.returncode == 0, done.stderr
    assert asked == []
    [run_dir] = (tmp_path / ".agnoctl" / "runs").glob("2*")
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    assert report["outputs"]["summary"] == "it says page"  # the scripted path, all of it
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    fetched, off_list = [e for e in events if e["type"] == "tool_result"]
    assert fetched["ok"] is False
    assert "not fetched: a --mock run is offline" in fetched["error"], fetched
    # A rehearsal still shows what the tool refuses.
    assert off_list["error"].startswith("refused: https://example.com/: host"), off_list
