"""A webhook receiver or an OTLP collector whose reply is hostile or broken, through the real
CLI.

Found by trying it: a delivery read the receiver's whole reply. A reply whose body never ended
kept ``agnoctl run`` from ending after the run had finished: for ever when a byte came within
each of the client's 10-second waits, else four tries of 10 s each, the delivery counted as
failed though the receiver said 200; a reply of 3 GB, or of 3 MB compressed (gzip) that decodes
to 3 GB, took 60-72 s and 6.2 GB of memory (a MemoryError traceback under this test's cap).
The OTLP exporter of ``--otlp-endpoint`` read a collector's reply whole too (the gzip bomb: 63 s,
6.2 GB). Only the status and headers of a reply matter: the body is left unread, so each case
now ends at once, delivered; and each webhook try is bounded as a whole (10 s), not each wait
for a byte.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.security.cli import CAPPED_MEMORY, agnoctl

WORKFLOW = """\
version: 1
name: hooked
{notify}
steps:
  s: {{run: [python3, -c, "print('done')"]}}
"""

BLOCK = 2**20
"""Bytes of zeros each block of the compressed reply decodes to."""


def _compressed_zeros() -> bytes:
    """One deflate block of ``BLOCK`` zeros that stands on its own (full flush): sent again and
    again after a gzip header, it makes a stream that decodes to as much as the test likes."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    return deflate.compress(bytes(BLOCK)) + deflate.flush(zlib.Z_FULL_FLUSH)


GZIP_HEADER = bytes([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3])


def _endless(handler: http.server.BaseHTTPRequestHandler, done: threading.Event) -> None:
    """A body that starts and never ends: one chunk, then nothing until the test is over."""
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    handler.wfile.write(b"1\r\nx\r\n")
    handler.wfile.flush()
    done.wait()


def _bomb(handler: http.server.BaseHTTPRequestHandler, done: threading.Event) -> None:
    """3 MB of gzip on the wire that decodes to 3 GiB (three times the CLI's memory cap)."""
    block = _compressed_zeros()
    handler.send_header("Content-Encoding", "gzip")
    handler.end_headers()
    handler.wfile.write(GZIP_HEADER)
    for _ in range(3 * 1024):
        if done.is_set():
            return
        handler.wfile.write(block)


Reply = Callable[[http.server.BaseHTTPRequestHandler, threading.Event], None]


class Receiver:
    """A loopback webhook receiver answering 200 with ``reply``'s body; counts the POSTs."""

    def __init__(self, reply: Reply) -> None:
        self.posts = 0
        self.done = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.posts += 1
                self.send_response(200)
                # The CLI closing the connection mid-reply is what it should do.
                with contextlib.suppress(OSError):
                    reply(self, receiver.done)
                self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test counts the POSTs instead."""

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(params=[_endless, _bomb], ids=["a body that never ends", "a gzip bomb"])
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    with Receiver(request.param) as running:
        yield running


def test_a_webhooks_reply_body_is_never_read(tmp_path: Path, receiver: Receiver) -> None:
    notify = f"notify: {{on_success: ['{receiver.url}/hook']}}"
    (tmp_path / "wf.yaml").write_text(WORKFLOW.format(notify=notify), encoding="utf-8")
    # Before: the command never ended (the body), or grew past its memory (the bomb).
    result = agnoctl(tmp_path, "run", "wf.yaml", "-q", "-v", limits=CAPPED_MEMORY)
    assert result.returncode == 0, result.stderr[-2000:]
    assert receiver.posts == 1  # delivered at the first try: a 200 is a 200
    assert "webhook_delivered" in result.stderr
    assert "webhook_failed" not in result.stderr


def test_a_collectors_reply_body_is_never_read(tmp_path: Path, receiver: Receiver) -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    (tmp_path / "wf.yaml").write_text(WORKFLOW.format(notify=""), encoding="utf-8")
    endpoint = f"{receiver.url}/v1/traces"
    result = agnoctl(
        tmp_path, "run", "wf.yaml", "-q", "--otlp-endpoint", endpoint, limits=CAPPED_MEMORY
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert receiver.posts == 1
    assert "warning" not in result.stderr  # the collector's 200 is an export
