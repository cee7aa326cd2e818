"""The one check of whether text can be written to the run's UTF-8 files (a workflow file's
name, an environment value, an input, an attachment's name, in-process workflow text); each
place that uses it is tested through the CLI in the found9 byte tests."""

from __future__ import annotations

import os

from agnoctl.printable import not_utf8_at


def test_text_is_utf8_wherever_it_came_from() -> None:
    assert not_utf8_at("") is None
    assert not_utf8_at("naïve → 日本 🙂") is None


def test_a_byte_of_another_encoding_is_found_where_it_is() -> None:
    name = os.fsdecode(b"report-\xff.yaml")  # as Python reads a Latin-1 file name
    assert not_utf8_at(name) == len("report-")
    assert not_utf8_at("ok\ud800\udc00") == 2  # a surrogate pair given as two escapes
