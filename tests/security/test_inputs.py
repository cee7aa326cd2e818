"""Hostile inputs: `--inputs-file`, `-i` and `--mock-fixtures` under the workflow loader's bounds.

Every case runs the real CLI in a subprocess whose address space is capped at 1 GiB: an alias
bomb that got through would end in a MemoryError instead of exhausting the machine. Each must
end with exit 2, one line saying what was refused, no traceback, and no run directory.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.security import cli

HUGE = "1" * 5_000  # past Python's 4,300-digit limit for reading an integer from text

FLOW = """\
version: 1
name: hostile-inputs
inputs:
  topic: {type: string, default: t}
  count: {type: integer, default: 1}
  ratio: {type: number, default: 0.5}
  items: {type: array, default: []}
  options: {type: object, default: {}}
agents:
  a: {model: mock/echo}
steps:
  s: {agent: a, prompt: "{{ inputs.topic }}"}
"""


def _bomb(key: str, levels: int) -> str:
    """A "billion laughs" map: 10**levels strings from a few hundred bytes."""
    lines = [f"{key}:", "  - &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels + 1):
        lines.append(f"  - &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def agnoctl(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI, in ``cwd``, with its memory capped."""
    return cli.agnoctl(cwd, *args, limits=cli.CAPPED_MEMORY)


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW, encoding="utf-8")
    return path


def refused(tmp_path: Path, *args: str) -> str:
    """Run ``flow.yaml`` with ``args``; it must be refused cleanly. Returns stderr."""
    result = agnoctl(tmp_path, "run", "flow.yaml", "--mock", "--report-dir", "out", *args)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1, result.stderr[-2000:]
    assert not (tmp_path / "out").exists()
    return result.stderr


@pytest.mark.usefixtures("flow")
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(_bomb("items", 9).encode(), "E111 aliases expand to", id="alias-bomb"),
        pytest.param(
            b"items: &a [*a]\n",
            "E112 an alias refers to a node that contains it",
            id="self-referencing-alias",
        ),
        pytest.param(b"topic: \x00\x01\xff\n", "E103 the file is binary", id="binary"),
        pytest.param(b"topic: caf\xe9\n", "E102 the file is not UTF-8 text", id="latin-1"),
        pytest.param(
            f"count: {HUGE}\n".encode(), "E119 an integer of 5,000 digits", id="huge-integer"
        ),
        pytest.param(
            b"items: " + b"[" * 300 + b"]" * 300 + b"\n",
            "E113 the file nests deeper",
            id="deep-nesting",
        ),
        pytest.param(b"topic: !!python/object:os.system x\n", "E114 the YAML tag", id="python-tag"),
        pytest.param(b"topic: a\ntopic: b\n", "E110 duplicate key 'topic'", id="duplicate-key"),
        pytest.param(b"topic: a\n---\ntopic: b\n", "E109", id="two-documents"),
        pytest.param(b"- a\n- b\n", "must hold a map of input names to values", id="a-list"),
        pytest.param(b"ratio: .nan\n", "input 'ratio' must be a finite number", id="nan"),
    ],
)
def test_a_hostile_inputs_file_is_refused(tmp_path: Path, content: bytes, expected: str) -> None:
    (tmp_path / "in.yaml").write_bytes(content)
    error = refused(tmp_path, "--inputs-file", "in.yaml")
    assert expected in error
    if expected.startswith("E"):  # the loader's refusals point into the file
        assert error.startswith("error: in.yaml:")


@pytest.mark.usefixtures("flow")
def test_an_inputs_file_larger_than_the_cap_is_refused_unread(tmp_path: Path) -> None:
    (tmp_path / "in.yaml").write_bytes(b"topic: " + b"x" * (6 * 2**20) + b"\n")
    assert "E101 the file is larger than 5 MiB" in refused(tmp_path, "--inputs-file", "in.yaml")


@pytest.mark.usefixtures("flow")
def test_an_inputs_file_reads_interpolation_as_data(tmp_path: Path) -> None:
    """`${VAR}` in an inputs file is its text: an inputs file never reads the environment."""
    (tmp_path / "in.yaml").write_text('topic: "${HOME} $${x}"\n', encoding="utf-8")
    result = agnoctl(tmp_path, "run", "flow.yaml", "--inputs-file", "in.yaml", "--report-dir", "o")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "o" / "report.json").read_text(encoding="utf-8"))
    assert report["inputs"]["topic"] == "${HOME} $${x}"


@pytest.mark.usefixtures("flow")
@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        (f"count={HUGE}", "input 'count' holds an integer of 5,000 digits, more than the 4,300"),
        (f"ratio={HUGE}", "input 'ratio' holds an integer of 5,000 digits"),
        (f"items=[{HUGE}]", "input 'items' holds an integer of 5,000 digits"),
        ("items=" + "[" * 5_000 + "]" * 5_000, "(it nests deeper than 200 levels)"),
        ("ratio=NaN", "input 'ratio' must be a number, got 'NaN'"),
        ("ratio=1e999", "input 'ratio' must be a finite number"),
        ("items=[NaN]", "input 'items' is an array: give it as JSON (NaN is not JSON"),
    ],
)
def test_a_hostile_input_value_is_refused(tmp_path: Path, pair: str, expected: str) -> None:
    assert expected in refused(tmp_path, "-i", pair)


@pytest.mark.usefixtures("flow")
def test_json_input_values_still_work(tmp_path: Path) -> None:
    result = agnoctl(
        tmp_path,
        "run",
        "flow.yaml",
        "--report-dir",
        "o",
        "-i",
        'items=[1, "two", {"three": [3.5]}]',
        "-i",
        'options={"deep": {"er": null}}',
        "-i",
        "count=" + "9" * 4_000,
    )
    assert result.returncode == 0, result.stderr
    inputs = json.loads((tmp_path / "o" / "report.json").read_text(encoding="utf-8"))["inputs"]
    assert inputs["items"] == [1, "two", {"three": [3.5]}]
    assert inputs["options"] == {"deep": {"er": None}}


@pytest.mark.usefixtures("flow")
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            _bomb("agents", 9).replace("agents:", "x:").encode(),
            "E111 aliases expand to",
            id="alias-bomb",
        ),
        pytest.param(b"steps: &a {s: *a}\n", "E112", id="self-referencing-alias"),
        pytest.param(b"steps: {s: {text: \x00}}\n", "E103 the file is binary", id="binary"),
        pytest.param(f"steps: {{s: {{json: {HUGE}}}}}\n".encode(), "E119", id="huge-integer"),
    ],
)
def test_a_hostile_fixtures_file_is_refused(tmp_path: Path, content: bytes, expected: str) -> None:
    (tmp_path / "fx.yaml").write_bytes(content)
    error = refused(tmp_path, "--mock-fixtures", "fx.yaml")
    assert "fx.yaml" in error
    assert expected in error
