"""report.html's template ships compiled: a run draws the page without compiling it.

Compiling the template cost every `agnoctl run` about a tenth of a second of CPU, so the
package carries Jinja2's compiled module beside the template; it must stay what the template
compiles to, or an edit of the template would not reach the page.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from agnoctl.reports import html
from agnoctl.spec.validate import load_workflow
from tests.observability.conftest import SECRET, ObsRuns

COMPILED = Path(html.__file__).with_name("templates") / "compiled"
REGENERATE = 'python -c "from agnoctl.reports.html import compile_template; compile_template()"'


def test_the_shipped_module_is_the_template_compiled(tmp_path: Path) -> None:
    html.compile_template(tmp_path)
    fresh = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    shipped = {path.name: path.read_bytes() for path in COMPILED.glob("*.py")}
    assert fresh.keys() == shipped.keys(), f"regenerate: {REGENERATE}"
    for name, code in fresh.items():
        assert shipped[name] == code, f"{name} is out of date; regenerate: {REGENERATE}"


def test_the_page_is_drawn_without_compiling_a_template(
    obs_runs: ObsRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    def compile_refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("report.html's template was compiled at run time")

    monkeypatch.setenv("OBS_API_KEY", SECRET)
    workflow = load_workflow(obs_runs.root / "workflow.yaml")
    monkeypatch.setattr(jinja2.Environment, "compile", compile_refused)
    html._template.cache_clear()  # as in a fresh `agnoctl run` process
    page = html.render_html(obs_runs.a.report, workflow)
    assert page == (obs_runs.a.run_dir / "report.html").read_text(encoding="utf-8")
