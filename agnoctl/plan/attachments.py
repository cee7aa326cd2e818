"""The input tokens a plan counts for a task's attachments (`agnoctl.estimate`'s figures).

A static path or glob is counted by its files as they are now (a PDF by its size; a glob that
matches none yet, as one file of its type and unknown size); a URL or a templated entry by its
type alone, when its extension says it (`{{ item }}.png`), else at a PDF's figure, the larger
of the two: an estimate that budgets are checked against should not fall short.
"""

from __future__ import annotations

import glob
import os
from functools import lru_cache

from agnoctl import estimate
from agnoctl.spec.attachments import is_templated, kind_of, media_type

_UNKNOWN = "application/pdf"


@lru_cache(maxsize=256)
def attachments_tokens(entries: tuple[str, ...]) -> int:
    """Estimated input tokens of the files these `attachments:` entries name."""
    return sum(_entry_tokens(entry) for entry in entries)


def _entry_tokens(entry: str) -> int:
    if is_templated(entry) or kind_of(entry) == "url":
        return estimate.attachment_tokens(media_type(entry) or _UNKNOWN)
    # A glob that matches nothing yet (an earlier step makes the files) counts as one file.
    paths = [entry] if kind_of(entry) == "path" else glob.glob(entry, recursive=True) or [entry]
    return sum(estimate.attachment_tokens(media_type(p) or _UNKNOWN, _size(p)) for p in paths)


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:  # not there yet (validate says so): counted as one of unknown size
        return None
