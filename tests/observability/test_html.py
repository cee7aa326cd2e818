"""report.html: self-contained, escaped, and working in a real headless Chromium."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from markupsafe import escape

from agnoctl.reports.html import render_html
from agnoctl.reports.html_view import MAX_TEXT
from agnoctl.reports.model import RunReport
from agnoctl.spec.validate import load_workflow
from tests.observability.conftest import SECRET, XSS, ObsRuns

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
)


def _page(obs_runs: ObsRuns) -> str:
    return (obs_runs.a.run_dir / "report.html").read_text(encoding="utf-8")


def test_written_beside_report_json(obs_runs: ObsRuns) -> None:
    page = _page(obs_runs)
    assert page.startswith("<!DOCTYPE html>")
    for step in ("collect", "score", "publish"):
        assert f'id="step-{step}"' in page
    assert SECRET not in page


def test_self_contained_no_network(obs_runs: ObsRuns) -> None:
    page = _page(obs_runs)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "@import" not in page and "url(http" not in page
    assert "default-src 'none'" in page


def test_script_pinned_by_csp_hash(obs_runs: ObsRuns) -> None:
    page = _page(obs_runs)
    [script] = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page


def test_untrusted_text_is_escaped(obs_runs: ObsRuns) -> None:
    page = _page(obs_runs)
    assert XSS not in page
    assert str(escape(XSS)) in page  # shown, as text
    assert page.count("<script>") == 1  # the page's own script only


def test_dag_and_timeline_from_the_workflow(
    obs_runs: ObsRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OBS_API_KEY", SECRET)
    report = obs_runs.a.report
    page = render_html(report, load_workflow(obs_runs.root / "workflow.yaml"))
    assert page.count('class="edge') == 2  # collect -> score -> publish
    assert 'data-retried="1"' in page  # collect[1] was retried
    assert "Collect {{ item }}" in page  # the prompt template
    without = render_html(report)
    assert 'class="edge' not in without and "dependencies not drawn" in without


def test_long_output_is_cut(obs_runs: ObsRuns) -> None:
    data = obs_runs.a.report.model_dump(mode="json")
    data["steps"]["score"]["output"] = "x" * (MAX_TEXT + 500)
    page = render_html(RunReport.model_validate(data))
    assert "500 more characters in report.json" in page


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        "Chromium is not installed and could not be: .ci/run installs Debian's `chromium` "
        "with apt-get; locally run `apt-get install -y chromium`"
    )


def _browse(page: Path, profile: Path, *action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *action, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_in_headless_chromium(obs_runs: ObsRuns, tmp_path: Path) -> None:
    page = obs_runs.b.run_dir / "report.html"  # the run with a failed gate
    dom = _browse(page, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []  # no script error, no CSP violation, no failed load
    assert 'data-ready="1"' in dom.stdout  # the page's script ran to its end
    assert "data-pwned" not in dom.stdout.split("<body", 1)[0]  # the payload never ran
    for step in ("collect", "score", "publish"):
        assert f'id="step-{step}"' in dom.stdout
    assert "3 of 3 steps shown" in dom.stdout  # the filter script counted the steps
    shot = tmp_path / "report.png"
    taken = _browse(page, tmp_path / "profile", "--window-size=1280,1600", f"--screenshot={shot}")
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
