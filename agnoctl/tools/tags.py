"""The prefix of the tag every program agnoctl starts carries in its environment
(``AGNOCTL_PROCESS_TAG``, ``agnoctl.tools.command``): what the run's lock file records, so that
a resume can end what a killed run left running. A module of its own: the lock is taken by
every run, and a run of agent steps alone loads nothing of command steps."""

from __future__ import annotations

import os
import re
import secrets

# A pid is reused once its process is gone; with a random part, a prefix names one process
# only (a fork shares the random part, and its pid tells it apart).
_NONCE = secrets.token_hex(4)
_PREFIX = re.compile(r"[0-9]+\.[0-9a-f]{8}")


def tag_prefix() -> str:
    """What the tag of every program this process starts begins with."""
    return f"{os.getpid()}.{_NONCE}"


def is_tag_prefix(text: str) -> bool:
    """Whether ``text`` is a prefix ``tag_prefix`` makes: a lock file's word naming anything
    else (a bare pid, damaged bytes) must not pick programs to end."""
    return _PREFIX.fullmatch(text) is not None
