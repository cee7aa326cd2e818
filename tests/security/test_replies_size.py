"""Hostile replies: a 100 MB body was read whole (890 MB RSS, a 200 MB events.jsonl), a body
trickling a byte every half second ran forever, a reply claiming 10**30 tokens was believed,
and budgets reserved a call's message text only (not its output schema or tools).

Each run is the real CLI against the project's fake LLM server, in a subprocess whose address
space is capped at 1 GiB: reading a huge body whole would end in a MemoryError.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.e2e.conftest import E2E, FAST_RETRY, clean_env, workflow_doc
from tests.security import cli

HUNDRED_MB = 100 * 2**20


def _run(e2e: E2E, name: str, doc: dict[str, Any]) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``agnoctl run`` on ``doc`` with its memory capped; the process and its run directory."""
    path = e2e.write(name, doc)
    run_dir = e2e.root / f"{name}-run"
    e2e.server.reset()
    proc = cli.agnoctl(
        e2e.root,
        *("run", path, "--report-dir", run_dir),
        env=clean_env(),
        timeout=120,
        limits=cli.CAPPED_MEMORY,
    )
    return proc, run_dir


def _steps(run_dir: Path) -> dict[str, Any]:
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    steps: dict[str, Any] = report["steps"]
    return steps


def test_a_huge_reply_is_refused_unread_past_the_cap(e2e: E2E) -> None:
    """100 MB against the default 32 MiB cap, and a provider's own smaller cap: the attempt
    fails at once saying what was refused, and is not retried (the same request would bring
    the same reply)."""
    retry = {**FAST_RETRY, "max_attempts": 3}
    doc = workflow_doc(
        "huge",
        providers={
            "llm": e2e.provider(),
            "small": e2e.provider(max_response_bytes=2048),
        },
        agents={"big": {"model": "llm/m"}, "capped": {"model": "small/m"}},
        steps={
            "hundred_mb": {"agent": "big", "prompt": f"[[huge:{HUNDRED_MB}]] a", "retry": retry},
            "over_own_cap": {"agent": "capped", "prompt": "[[huge:4096]] b", "retry": retry},
            "under_own_cap": {"agent": "capped", "prompt": "[[huge:1000]] c"},
        },
    )
    started = time.monotonic()
    proc, run_dir = _run(e2e, "huge", doc)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert elapsed < 60  # generous: the refusal comes after 32 MiB, in well under a second
    steps = _steps(run_dir)
    hundred = steps["hundred_mb"]
    assert hundred["status"] == "failed"
    assert (
        "sent a reply larger than 33,554,432 bytes (max_response_bytes)"
        in (hundred["error"]["message"])
    )
    assert len(hundred["attempts"]) == 1  # not retried
    over = steps["over_own_cap"]["error"]["message"]
    assert "sent a reply larger than 2,048 bytes (max_response_bytes)" in over
    assert steps["under_own_cap"]["status"] == "succeeded"
    assert steps["under_own_cap"]["output"] == "echo: c"
    assert (run_dir / "events.jsonl").stat().st_size < 1_000_000


def test_a_trickling_reply_stalls_and_is_retried(e2e: E2E) -> None:
    """A streamed event every 0.3 s (the socket is never idle long enough for a read
    timeout, and the reply's events take over a second): under 1 KiB in `stall_timeout` is a
    stall, a timeout, which is retried (attempts = max_attempts), and the run ends in bounded
    time. At an event every 0.1 s the whole reply came within the half second now and then."""
    doc = workflow_doc(
        "trickle",
        providers={"llm": e2e.provider(stall_timeout="500ms")},
        agents={"a": {"model": "llm/m"}},
        steps={"slow": {"agent": "a", "prompt": "[[trickle:300]] a", "retry": FAST_RETRY}},
    )
    started = time.monotonic()
    proc, run_dir = _run(e2e, "trickle", doc)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert elapsed < 60  # three attempts of about half a second each
    slow = _steps(run_dir)["slow"]
    assert len(slow["attempts"]) == FAST_RETRY["max_attempts"]
    assert (
        "llm stopped sending its reply: less than 1,024 bytes in 0.5s" in (slow["error"]["message"])
    )


def test_absurd_token_counts_are_refused_on_the_wire(e2e: E2E) -> None:
    """A reply claiming 10**30 tokens is malformed (retried, as malformed replies are); the
    costs and totals stay finite."""
    doc = workflow_doc(
        "absurd",
        providers={"llm": e2e.provider()},
        agents={"a": {"model": "llm/gpt-4o-mini"}},
        steps={
            "absurd": {
                "agent": "a",
                "prompt": f"[[tokens:{10**30}:5]] a",
                "retry": {**FAST_RETRY, "max_attempts": 2},
            },
            "sane": {"agent": "a", "prompt": "[[tokens:7:5]] b"},
        },
    )
    proc, run_dir = _run(e2e, "absurd", doc)
    assert proc.returncode == 1, proc.stderr[-2000:]
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    absurd = report["steps"]["absurd"]
    assert len(absurd["attempts"]) == 2
    assert "a believable prompt_tokens (it says 1e+30 tokens)" in absurd["error"]["message"]
    assert report["steps"]["sane"]["status"] == "succeeded"
    total = report["cost"]["total"]
    assert total["tokens"] == 12  # the sane call's: the absurd figure never counted
    assert math.isfinite(total["cost_usd"])


def test_budget_reservations_count_schemas_and_tools(e2e: E2E) -> None:
    """A call's worst case includes its output schema and tool definitions: a schema of
    about 5,000 tokens cannot go out under `max_tokens: 2000`, whatever its prompt."""
    description = "a field described at great length " * 600  # about 20,000 characters
    doc = workflow_doc(
        "reserve",
        providers={"llm": e2e.provider()},
        agents={
            "a": {
                "model": "llm/m",
                "max_tokens": 100,
                "output_schema": {
                    "type": "object",
                    "properties": {"x": {"type": "string", "description": description}},
                },
            }
        },
        steps={"big_schema": {"agent": "a", "prompt": "short"}},
        limits={"max_tokens": 2000},
    )
    proc, run_dir = _run(e2e, "reserve", doc)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert e2e.server.stats()["requests"] == 0  # refused before the call
    step = _steps(run_dir)["big_schema"]
    assert step["status"] in ("failed", "skipped")
    assert "max_tokens" in json.dumps(step)
