"""How deep JSON from outside agnoctl may nest (an input, a model's structured reply): as deep
as the workflow's own YAML may, ``loader.MAX_DEPTH`` levels of lists and maps.

Python's JSON parser gives up near 1,000 levels with a RecursionError, and a value nested past
about 250 levels cannot be written to report.json or the journal at all: a 600-byte reply
nested 300 deep, accepted as a step's output, ended the run in a traceback, with no report.
"""

from __future__ import annotations

import json
from typing import Any

from agnoctl.spec.loader import MAX_DEPTH


class TooDeep(ValueError):
    """A JSON value nested deeper than ``MAX_DEPTH`` levels."""

    def __init__(self) -> None:
        super().__init__(f"it nests deeper than {MAX_DEPTH} levels")


def read_json(text: str, **options: Any) -> Any:
    """``json.loads(text, **options)``, raising ``TooDeep`` (a ValueError, as a
    ``json.JSONDecodeError`` is) for a value nested deeper than ``MAX_DEPTH`` levels."""
    try:
        value = json.loads(text, **options)
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


__all__ = ["TooDeep", "check_depth", "read_json"]
