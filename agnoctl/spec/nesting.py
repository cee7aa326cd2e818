"""JSON from outside agnoctl (an input, a model's structured reply), read strictly: nested as
deep as the workflow's own YAML may, ``loader.MAX_DEPTH`` levels of lists and maps, and without
the NaN and Infinity constants Python's parser accepts.

Python's JSON parser gives up near 1,000 levels with a RecursionError, and a value nested past
about 250 levels cannot be written to report.json or the journal at all: a 600-byte reply
nested 300 deep, accepted as a step's output, ended the run in a traceback, with no report.
NaN passes every ``minimum``/``maximum`` of a JSON Schema (it compares false) and no JSON reader
elsewhere (the reports) reads it: a reply ``{"score": NaN}`` passed ``{minimum: 0, maximum: 1}``.
"""

from __future__ import annotations

import json
from typing import Any

from agnoctl.spec.loader import MAX_DEPTH


class TooDeep(ValueError):
    """A JSON value nested deeper than ``MAX_DEPTH`` levels."""

    def __init__(self) -> None:
        super().__init__(f"it nests deeper than {MAX_DEPTH} levels")


class NotJson(ValueError):
    """NaN, Infinity or -Infinity, which Python's parser reads and JSON does not have."""

    def __init__(self, constant: str) -> None:
        super().__init__(f"{constant} is not JSON; write a number")


def read_json(text: str, **options: Any) -> Any:
    """``json.loads(text, **options)``, raising ``TooDeep`` (a ValueError, as a
    ``json.JSONDecodeError`` is) for a value nested deeper than ``MAX_DEPTH`` levels and
    ``NotJson`` for NaN, Infinity or -Infinity."""
    try:
        value = json.loads(text, parse_constant=_not_json, **options)
    except RecursionError:
        raise TooDeep from None
    check_depth(value)
    return value


def check_depth(value: Any) -> None:
    """Raise ``TooDeep`` when ``value`` nests deeper than ``MAX_DEPTH`` levels of lists and
    maps; one pass, level by level."""
    level = [value]
    for _ in range(MAX_DEPTH + 1):
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return
    raise TooDeep


def _not_json(constant: str) -> Any:
    raise NotJson(constant)


__all__ = ["NotJson", "TooDeep", "check_depth", "read_json"]
