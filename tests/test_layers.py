"""The layers of docs/architecture.md, enforced by import-linter's contracts (pyproject.toml).

grimp, import-linter's graph, counts every import: at module level, inside a function, and
under ``TYPE_CHECKING``. A broken contract fails this test with import-linter's report, which
names each offending chain of imports and its line numbers.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
ARCHITECTURE = REPO / "docs" / "architecture.md"


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def test_the_layer_contracts_are_kept() -> None:
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in done.stdout, done.stdout


def test_the_architecture_diagram_is_the_layers_the_contracts_enforce() -> None:
    """docs/architecture.md draws the layers in the contract's order and with its names."""
    (layers,) = [c["layers"] for c in _contracts() if c.get("type") == "layers"]
    assert isinstance(layers, list)
    text = ARCHITECTURE.read_text(encoding="utf-8")
    drawn = re.search(r"```text\n(?P<diagram>.*?)```", text, re.DOTALL)
    assert drawn is not None, "docs/architecture.md has no ```text layer diagram"
    rows = [line.strip() for line in drawn["diagram"].splitlines() if line.strip()]
    assert [row for row in rows if not set(row) <= set("│▼ ")] == layers
