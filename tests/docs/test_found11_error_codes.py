"""Every diagnostic code agnoctl can print has its entry in docs/errors.md, which says its
codes are "listed below" (found by the docs-core pass: `agnoctl plan`'s E501, E502 and E503
were named only in docs/plan.md)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# SpecError's default, never printed: every raise names its code.
UNPRINTED = {"E000"}


def test_every_code_in_the_source_is_documented() -> None:
    used = {
        code
        for path in (ROOT / "agnoctl").rglob("*.py")
        for code in re.findall(r"\"([EW]\d{3})\"", path.read_text(encoding="utf-8"))
    }
    errors_md = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^### ([EW]\d{3})$", errors_md, re.MULTILINE))
    assert used - UNPRINTED - documented == set()
