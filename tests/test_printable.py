"""agnoctl.printable's text helpers that every layer shares: the one check of whether text can
be written to the run's UTF-8 files (a workflow file's name, an environment value, an input, an
attachment's name, in-process workflow text; each place that uses it is tested through the CLI
in the found9 byte tests), and the one way text is cut to a length (a table cell, a gate's
name, junit's and summary.md's texts, the HTML page's labels)."""

from __future__ import annotations

import os

from agnoctl.printable import clipped, not_utf8_at


def test_text_is_utf8_wherever_it_came_from() -> None:
    assert not_utf8_at("") is None
    assert not_utf8_at("naïve → 日本 🙂") is None


def test_a_byte_of_another_encoding_is_found_where_it_is() -> None:
    name = os.fsdecode(b"report-\xff.yaml")  # as Python reads a Latin-1 file name
    assert not_utf8_at(name) == len("report-")
    assert not_utf8_at("ok\ud800\udc00") == 2  # a surrogate pair given as two escapes


def test_clipped_text_is_at_most_its_limit_and_says_it_was_cut() -> None:
    assert clipped("short", 5) == "short"
    assert clipped("longer", 5) == "long…"
    assert len(clipped("x" * 1000, 40)) == 40
