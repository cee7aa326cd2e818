"""The two framings a streamed reply comes in, decoded from its bytes as they arrive.

- Server-sent events (OpenAI-compatible servers, Anthropic), as the WHATWG HTML standard
  defines the ``text/event-stream`` format: lines end with CRLF, LF or CR; a line starting with
  ``:`` is a comment (a keep-alive); ``field: value`` (one space after the colon dropped);
  ``data`` lines of one event are joined with newlines; a blank line dispatches the event;
  ``event`` names it (``message`` by default); ``id`` and ``retry`` are of no use to a single
  request and are ignored.
- Line-delimited JSON (Ollama): one JSON document a line, blank lines skipped.

Both take the body as chunks of bytes cut anywhere (a line, a CRLF, a UTF-8 character may be
split between two chunks) and keep no more than the unfinished line between chunks. A body
that ends without its last line ending still gives that line, and a last event without its
blank line is still dispatched: a server that closes the connection right after its last
event is common, and the protocol's own end marker (``[DONE]``, ``message_stop``,
``done: true``) is what tells a whole reply from a cut one, not the framing.

The decoders know nothing of HTTP: whatever reads a body (``http._read_chunks`` over the HTTP
client's async iterator of chunks today; another client's tomorrow) pushes each chunk to
``feed`` as it comes and calls ``close`` at the end. Decoding a chunk is synchronous: no await
stands between the socket's bytes and the reply's pieces.
"""

from __future__ import annotations

from dataclasses import dataclass

_BOM = "\ufeff"


@dataclass(slots=True)
class SseEvent:
    """One dispatched server-sent event."""

    event: str
    data: str


class Lines:
    """Splits chunks of bytes into lines of text at CRLF, LF or CR, a line ending split between
    two chunks included; a line is given without its ending. The complete lines of a chunk are
    decoded (UTF-8, an invalid byte replaced) at once: UTF-8 never uses the bytes of CR or LF
    inside a character, so text cut at a line ending is whole."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        # The unfinished line's chunks, joined once its end comes: a long line (padding, a
        # large tool input) in many chunks is copied once, not once per chunk.
        self._pending: list[bytes] = []

    def feed(self, chunk: bytes) -> list[str]:
        if b"\n" not in chunk and b"\r" not in chunk:
            if chunk:
                self._pending.append(chunk)
            return []
        data = b"".join((*self._pending, chunk)) if self._pending else chunk
        # A CR at the very end may be the first half of a CRLF: wait for the next chunk.
        held = data.endswith(b"\r")
        if held:
            data = data[:-1]
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = data.rfind(b"\n")
        rest = data[end + 1 :] + (b"\r" if held else b"")
        self._pending = [rest] if rest else []
        return data[:end].decode("utf-8", "replace").split("\n") if end >= 0 else []

    def close(self) -> list[str]:
        """The last lines, when the body did not end with a line ending (a CR held back as a
        possible CRLF's half may stand between two of them)."""
        if not self._pending:
            return []
        return self.feed(b"\n")


class SseDecoder:
    """Server-sent events from chunks of bytes: ``feed`` each chunk, ``close`` at the end."""

    __slots__ = ("_data", "_event", "_first", "_lines")

    def __init__(self) -> None:
        self._lines = Lines()
        self._event = ""
        self._data: list[str] = []
        self._first = True

    def feed(self, chunk: bytes) -> list[SseEvent]:
        return self._events(self._lines.feed(chunk))

    def close(self) -> list[SseEvent]:
        # The body's end dispatches the last event as a blank line would.
        return self._events([*self._lines.close(), ""])

    def _events(self, lines: list[str]) -> list[SseEvent]:
        if self._first and lines:
            self._first = False
            lines[0] = lines[0].removeprefix(_BOM)
        found: list[SseEvent] = []
        for line in lines:
            if line:
                # A line without a colon is a field with an empty value, which partition gives
                # too; a comment (no name), ``id``, ``retry`` and unknown fields change nothing.
                name, _, value = line.partition(":")
                if name == "data":
                    self._data.append(value.removeprefix(" "))
                elif name == "event":
                    self._event = value.removeprefix(" ")
            else:  # a blank line dispatches the event, if it has data (the standard)
                if self._data:
                    found.append(SseEvent(self._event or "message", "\n".join(self._data)))
                    self._data = []
                self._event = ""
        return found


class JsonLines:
    """The non-blank lines of a line-delimited JSON body."""

    __slots__ = ("_lines",)

    def __init__(self) -> None:
        self._lines = Lines()

    def feed(self, chunk: bytes) -> list[str]:
        return [line for line in self._lines.feed(chunk) if line.strip()]

    def close(self) -> list[str]:
        return [line for line in self._lines.close() if line.strip()]
