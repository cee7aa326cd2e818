"""The stream framings (``agnoctl.providers.stream``): server-sent events and JSON lines, fed
in chunks cut anywhere."""

from __future__ import annotations

import json

from agnoctl.providers.stream import JsonLines, Lines, SseDecoder, SseEvent

BODY = (
    b": a comment, as a keep-alive\r\n"
    b"event: message_start\r\n"
    b'data: {"a": 1}\r\n'
    b"\r\n"
    b"data: first line\n"
    b"data:second line\n"
    b"id: 7\n"
    b"retry: 10\n"
    b"\n"
    b"event: only a name\n"
    b"\n"
    b"data: caf\xc3\xa9 \xe2\x9c\x93\r"
    b"\r"
    b"data\n"
    b"\n"
    b"data: [DONE]"  # no line ending, no blank line: the server closed right after it
)
EVENTS = [
    SseEvent("message_start", '{"a": 1}'),
    SseEvent("message", "first line\nsecond line"),
    SseEvent("message", "café ✓"),
    SseEvent("message", ""),
    SseEvent("message", "[DONE]"),
]


def _decode(chunks: list[bytes]) -> list[SseEvent]:
    decoder = SseDecoder()
    found = [event for chunk in chunks for event in decoder.feed(chunk)]
    return [*found, *decoder.close()]


def test_sse_whole_body() -> None:
    assert _decode([BODY]) == EVENTS


def test_sse_split_at_every_position() -> None:
    # A chunk boundary anywhere: inside a CRLF, inside a UTF-8 character, inside "data:".
    for cut in range(len(BODY) + 1):
        assert _decode([BODY[:cut], BODY[cut:]]) == EVENTS, cut


def test_sse_byte_by_byte() -> None:
    assert _decode([BODY[i : i + 1] for i in range(len(BODY))]) == EVENTS


def test_sse_bom_and_one_space_only() -> None:
    body = b"\xef\xbb\xbfdata:  two spaces\n\n"
    assert _decode([body[:2], body[2:]]) == [SseEvent("message", " two spaces")]


def test_sse_event_without_data_is_not_dispatched() -> None:
    assert _decode([b"event: ping\n\n: only a comment\n\n"]) == []


def test_lines_cr_held_until_the_next_chunk() -> None:
    lines = Lines()
    assert lines.feed(b"one\r") == []  # may be the first half of a CRLF
    assert lines.feed(b"\ntwo\rthree") == ["one", "two"]
    assert lines.close() == ["three"]


def test_lines_a_held_cr_before_the_unterminated_last_line_still_ends_a_line() -> None:
    lines = Lines()
    assert lines.feed(b"one\r") == []
    assert lines.feed(b"two") == []
    assert lines.close() == ["one", "two"]


def test_sse_a_cr_ending_the_blank_line_before_an_unterminated_last_event() -> None:
    decoder = SseDecoder()
    found = [*decoder.feed(b"data: a\n\r"), *decoder.feed(b"data: b"), *decoder.close()]
    assert found == [SseEvent("message", "a"), SseEvent("message", "b")]


def test_lines_long_line_in_many_chunks() -> None:
    lines = Lines()
    for _ in range(1000):
        assert lines.feed(b" " * 64) == []
    assert lines.feed(b"x\n") == [" " * 64_000 + "x"]
    assert lines.close() == []


def test_json_lines_skip_blank_and_keep_the_last_unterminated() -> None:
    body = b'{"a": 1}\r\n\n  \n{"b": "\xc3\xa9"}\n{"done": true}'
    for cut in range(len(body) + 1):
        decoder = JsonLines()
        lines = [*decoder.feed(body[:cut]), *decoder.feed(body[cut:]), *decoder.close()]
        assert [json.loads(line) for line in lines] == [{"a": 1}, {"b": "é"}, {"done": True}]


def test_sse_a_field_without_a_colon_has_an_empty_value() -> None:
    # "event" alone names the event "" (so "message"), "data" alone adds an empty line of data.
    body = b"event: x\nevent\ndata\ndata:\n\n"
    assert _decode([body]) == [SseEvent("message", "\n")]
