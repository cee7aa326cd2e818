"""An agent's ``max_concurrency`` holds for the whole run, however many steps call its file.

A sub-workflow's agent capped at 2 tasks in flight had 2 per calling step: two ``uses`` steps
of the same file (or one ``uses`` step and a run of the file's own agent elsewhere) sent 4 at
once, though the items of one ``for_each`` over it kept to 2 (found by the limits pass).
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import E2E, E2ERun, workflow_doc


@pytest.fixture(scope="module")
def two_callers(e2e: E2E) -> E2ERun:
    child = workflow_doc(
        "child",
        providers={"local": e2e.provider()},
        agents={"capped": {"model": "local/m", "max_tokens": 16, "max_concurrency": 2}},
        steps={
            "x": {
                "agent": "capped",
                "for_each": [1, 2, 3, 4],
                "max_concurrency": 4,
                "prompt": "{{ inputs.t }} {{ item }} [[delay_ms:60]]",
            }
        },
        inputs={"t": {"type": "string"}},
    )
    e2e.write("child", child)
    parent = workflow_doc(
        "parent",
        providers={"local": e2e.provider()},
        agents={},
        steps={
            "one": {"uses": "./child.yaml", "with": {"t": "one"}},
            "two": {"uses": "./child.yaml", "with": {"t": "two"}},
        },
    )
    return e2e.run(parent)


def test_two_uses_steps_of_one_file_share_its_agents_cap(two_callers: E2ERun) -> None:
    assert two_callers.exit_code == 0, two_callers.proc.stdout[-2000:]
    assert two_callers.stats["requests"] == 8
    assert two_callers.stats["max_in_flight"] == 2
