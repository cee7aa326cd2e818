"""Plan output, as text, JSON and Markdown, compared with committed golden files.

Workflows: every `tests/plan/fixtures/*.yaml`, and every workflow under `examples/` and
`workflows/` (files with a top-level `version:`), planned with their default inputs. After an
intended change, regenerate the files and review the diff:

    AGNOCTL_UPDATE_GOLDEN=1 pytest tests/plan/test_golden.py
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from agnoctl.plan import Plan, render_plan

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("AGNOCTL_UPDATE_GOLDEN") == "1"
FORMATS = {"text": "txt", "json": "json", "markdown": "md"}


def _workflows() -> list[Path]:
    found = sorted((REPO / "tests/plan/fixtures").glob("*.yaml"))
    for folder in ("examples", "workflows"):
        for path in sorted((REPO / folder).rglob("*.yaml")):
            if re.search(r"^version:", path.read_text(encoding="utf-8"), re.MULTILINE):
                found.append(path)
    return [path.relative_to(REPO) for path in found]


def _golden(workflow: Path, fmt: str) -> Path:
    return GOLDEN / f"{'__'.join(workflow.with_suffix('').parts)}.{FORMATS[fmt]}"


@pytest.mark.parametrize("workflow", _workflows(), ids=str)
def test_plan_matches_golden(workflow: Path, in_repo: Path, plan_of: Callable[..., Plan]) -> None:
    plan = plan_of(workflow)
    for fmt in FORMATS:
        golden = _golden(workflow, fmt)
        output = render_plan(plan, fmt)  # type: ignore[arg-type]
        if UPDATE:
            golden.parent.mkdir(exist_ok=True)
            golden.write_text(output, encoding="utf-8")
        assert golden.exists(), f"no golden file {golden}: run with AGNOCTL_UPDATE_GOLDEN=1"
        assert output == golden.read_text(encoding="utf-8"), (
            f"{workflow} --format {fmt} differs from {golden.relative_to(REPO)}; if the change "
            "is intended, regenerate with AGNOCTL_UPDATE_GOLDEN=1 and review the diff"
        )


def test_no_stale_golden_files() -> None:
    expected = {_golden(workflow, fmt) for workflow in _workflows() for fmt in FORMATS}
    stale = sorted(path.name for path in GOLDEN.iterdir() if path not in expected)
    assert not stale, f"golden files of workflows that no longer exist: {stale}"
