"""The calls of a run's earlier segments in a resumed run's report, through the real CLI
against the fake server.

Found by trying it: docs/cost-control.md promises one count of LLM calls everywhere, a call
being a request sent to a provider, answered or failed. A resumed run's report.json carried
over only the calls its earlier segments had answered: the failed ones (a 400, a malformed
reply) were left out of ``cost.total.calls`` and of the segments' ``calls``, while
``limits.max_llm_calls.used`` counted them, so the report of a run whose server saw 5 calls
said 3. The tokens and cost of an earlier malformed reply that told its usage were left out
of the report and of the limits alike.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agnoctl.testing.fake_llm import FakeLLMThread
from tests import forkcli
from tests.e2e.conftest import E2E, clean_env, workflow_doc

ONCE = {"max_attempts": 1}


@pytest.fixture(scope="module")
def resumed(e2e: E2E, fake_server: FakeLLMThread) -> tuple[dict[str, Any], int]:
    tools = {
        "lookup": {
            "description": "look a path up",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
            "run": ["echo", "{{ args.path }}"],
        }
    }
    doc = workflow_doc(
        "resumed-calls",
        providers={"p": e2e.provider(pricing={"m": {"input": 1.0, "output": 2.0}})},
        agents={"writer": {"model": "p/m", "tools": ["lookup"]}},
        steps={
            "ok": {"agent": "writer", "prompt": "hello"},
            # Refused once (400, not retried), answered when resumed.
            "refused": {"agent": "writer", "prompt": "[[fail:1:400]] once", "retry": ONCE},
            # A malformed reply, billed, in each segment.
            "broken": {
                "agent": "writer",
                "prompt": "[[bad_args:lookup]] [[tokens:1000:500]]",
                "retry": ONCE,
            },
        },
        tools=tools,
    )
    workflow = e2e.write("resumed-calls", doc)
    fake_server.reset()
    for args in (["--report-dir", "run"], ["--resume", "run"]):
        proc = forkcli.run(
            ["run", workflow, "--no-cache", "--progress", "plain", *args],
            cwd=e2e.root,
            env=clean_env(),
            timeout=60,
        )
        assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads((e2e.root / "run" / "report.json").read_text(encoding="utf-8"))
    return report, int(fake_server.stats()["requests"])


def test_the_report_counts_every_call_of_every_segment(
    resumed: tuple[dict[str, Any], int],
) -> None:
    report, sent = resumed
    assert sent == 5  # ok, refused, broken; then refused, broken
    assert report["cost"]["total"]["calls"] == sent
    assert report["limits"]["max_llm_calls"]["used"] == sent
    assert [segment["calls"] for segment in report["segments"]] == [3, 2]


def test_earlier_malformed_replies_count_their_tokens(
    resumed: tuple[dict[str, Any], int],
) -> None:
    report, _ = resumed
    total = report["cost"]["total"]
    assert total["tokens_in"] >= 2 * 1000 and total["tokens_out"] >= 2 * 500
    assert report["limits"]["max_tokens"]["used"] == total["tokens"]
    assert report["cost"]["total"]["cost_usd"] >= 2 * (1000 * 1.0 + 500 * 2.0) / 1e6
    first = report["segments"][0]
    assert first["tokens"] >= 1500
