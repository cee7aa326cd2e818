"""A NUL byte in a command's argument or variable, through the real CLI.

Found by trying it: a command step whose argument read another step's binary output (or an
input holding ``\\u0000``) failed with the bare ``embedded null byte`` as an
``internal_error``, naming neither the argument nor what to do; a command tool the model
called with one answered ``failed: ValueError: embedded null byte``. A program's arguments and
environment are C strings: no NUL can reach it. Now the step fails as a ``command_error``
naming the argument or variable, and the tool refuses the call, saying why, before any
process starts.
"""

from __future__ import annotations

import sys

import pytest

from tests.e2e.conftest import E2E, E2ERun, workflow_doc

PY = sys.executable
NUL_OUT = "import sys; sys.stdout.buffer.write(b'head\\x00tail')"


@pytest.fixture(scope="module")
def run(e2e: E2E) -> E2ERun:
    steps = {
        "binary": {"run": [PY, "-c", NUL_OUT]},
        "as_argument": {"needs": ["binary"], "run": ["echo", "{{ steps.binary.output }}"]},
        "as_variable": {
            "needs": ["binary"],
            "run": ["true"],
            "env": {"DATA": "{{ steps.binary.output }}"},
        },
        "tool": {"agent": "a", "prompt": '[[tool:echo:{"q": "a\\u0000b"}]] go'},
    }
    doc = workflow_doc(
        "nul",
        providers={"f": e2e.provider()},
        agents={"a": {"model": "f/m", "tools": ["echo"]}},
        tools={
            "echo": {
                "parameters": {
                    "type": "object",
                    "required": ["q"],
                    "properties": {"q": {"type": "string"}},
                },
                "run": ["echo", "{{ args.q }}"],
            }
        },
        steps=steps,
    )
    return e2e.run(doc)


@pytest.mark.parametrize(
    ("step", "where"), [("as_argument", "argument 1"), ("as_variable", "variable DATA")]
)
def test_a_command_step_names_what_holds_the_nul(run: E2ERun, step: str, where: str) -> None:
    assert run.exit_code == 1, run.proc.stderr
    assert "Traceback" not in run.proc.stderr
    record = run.step(step)
    assert record["status"] == "failed"
    assert record["error"]["kind"] == "command_error"
    assert f"its {where} holds a NUL byte" in record["error"]["message"]


def test_a_command_tool_refuses_the_call(run: E2ERun) -> None:
    (result,) = run.events_of("tool_result", "tool")
    assert result["ok"] is False
    assert result["error"].startswith("refused: argument 1 of the command line holds a NUL")
    assert run.step("tool")["status"] == "succeeded"  # the model was told, and answered
