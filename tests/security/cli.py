"""The real CLI as the hostile-input tests run it: its own process, its memory or file sizes
capped where a case needs it. Whatever the attack, it must never end in a traceback."""

from __future__ import annotations

import os
import resource
import subprocess
from collections.abc import Mapping
from pathlib import Path

from tests import forkcli

MEMORY_CAP = 2**30
CAPPED_MEMORY: forkcli.Limits = {resource.RLIMIT_AS: (MEMORY_CAP, MEMORY_CAP)}
"""The process may not map more than ``MEMORY_CAP`` bytes."""


def agnoctl(
    cwd: Path,
    *args: str | Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    limits: forkcli.Limits | None = None,
) -> subprocess.CompletedProcess[str]:
    """``agnoctl ARGS`` in ``cwd``; ``env`` replaces the environment (NO_COLOR set)."""
    result = forkcli.run(
        args,
        cwd=cwd,
        env={**(os.environ if env is None else env), "NO_COLOR": "1"},
        timeout=timeout,
        limits=limits,
    )
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result
