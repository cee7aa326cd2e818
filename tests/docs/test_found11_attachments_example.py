"""docs/attachments.md's first example, run as a reader copies it: its command step printed a
JSON list, which is text without an `output_schema`, so `for_each: steps.shots.output` failed
the step ("for_each must give a list"). The snippet is taken from the page, so it cannot drift
again."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from tests.conftest import RunCli

ROOT = Path(__file__).resolve().parents[2]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _first_yaml_block(page: Path) -> str:
    found = re.search(r"```yaml\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL)
    assert found, f"{page.name} has no ```yaml block"
    return found.group(1)


def test_the_screenshot_review_example_runs(tmp_path: Path, run_cli: RunCli) -> None:
    snippet = _first_yaml_block(ROOT / "docs" / "attachments.md")
    (tmp_path / "flow.yaml").write_text(f"version: 1\nname: shots\n{snippet}", encoding="utf-8")
    (tmp_path / "shots").mkdir()
    for name in ("home.png", "about.png"):
        (tmp_path / "shots" / name).write_bytes(PNG)
    (tmp_path / "design").mkdir()
    (tmp_path / "design" / "style-guide.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    done = run_cli("run", "flow.yaml", "--mock", "--report-dir", "out", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    items = report["steps"]["review"]["items"]
    assert [item["item"] for item in items] == ["shots/about.png", "shots/home.png"]
    sent = [a["name"] for a in items[0]["attempts"][0]["attachments"]]
    assert sent == ["design/style-guide.pdf", "shots/about.png"]  # the agent's own first
