"""The real CLI as the hostile-input tests run it: a subprocess, its memory or file sizes capped
where a case needs it. Whatever the attack, it must never end in a traceback."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

MEMORY_CAP = 2**30


def cap_memory() -> None:
    """A ``preexec_fn``: the process may not map more than ``MEMORY_CAP`` bytes."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def agnoctl(
    cwd: Path,
    *args: str | Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    preexec: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m agnoctl ARGS`` in ``cwd``; ``env`` replaces the environment (NO_COLOR set)."""
    result = subprocess.run(
        [sys.executable, "-m", "agnoctl", *map(str, args)],
        cwd=cwd,
        env={**(os.environ if env is None else env), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=preexec,
    )
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result
