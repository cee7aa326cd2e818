"""Gates that decide nothing, through `agnoctl validate`.

Found by trying them: a `length` or `threshold` gate with `min` above `max` (bounds swapped)
was valid and failed every output, each retry under `on_gate_failure: retry` paid for in vain;
`contains` with an empty list or an empty text passed whatever the output said (and
`not_contains` failed it); a judge with a blank rubric was asked to score against nothing.
Now each is an error naming the gate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_found3_threshold_without_items import validate

BROKEN: dict[str, tuple[dict[str, Any], str, str]] = {
    "length_swapped": (
        {"type": "length", "min": 10, "max": 2},
        "E206",
        "min 10 above max 2 fails every output",
    ),
    "threshold_swapped": (
        {"type": "threshold", "field": "x", "min": 0.9, "max": 0.1},
        "E206",
        "min 0.9 above max 0.1 fails every output",
    ),
    "contains_nothing": ({"type": "contains", "value": []}, "E206", "empty list checks nothing"),
    "contains_empty": ({"type": "contains", "value": ""}, "E206", "appears in every output"),
    "not_contains_empty": (
        {"type": "not_contains", "value": ["TODO", ""]},
        "E206",
        "appears in every output",
    ),
    "blank_rubric": (
        {"type": "judge", "agent": "w", "rubric": "  ", "min": 0.5},
        "E206",
        "the judge needs a rubric",
    ),
}
FINE = [
    {"type": "length", "min": 2, "max": 2},
    {"type": "threshold", "field": "x", "min": 0.5, "max": 0.5},
    {"type": "contains", "value": ["a", " "]},
    {"type": "judge", "agent": "w", "rubric": "Concrete.", "min": 0.5},
]


def _diagnostics(folder: Path, gates: list[dict[str, Any]]) -> tuple[int, list[dict[str, object]]]:
    return validate(folder, {"agent": "w", "prompt": "hi", "gates": gates})


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_gate_that_decides_nothing_is_an_error(tmp_path: Path, case: str) -> None:
    gate, code, says = BROKEN[case]
    exit_code, errors = _diagnostics(tmp_path, [gate])
    assert exit_code == 2
    [found] = errors
    assert found["code"] == code and says in found["message"], found
    assert "gates[0]" in found["message"]


def test_gates_at_their_edges_are_valid(tmp_path: Path) -> None:
    assert _diagnostics(tmp_path, FINE) == (0, [])
