"""Every ready-made workflow and every example validates and runs offline, as documented.

What each one must do lives beside it: `workflows/expected.yaml` and `examples/expected.yaml`
hold the exact command a reader is told to run and what the run's report must say (some
examples fail on purpose). Each command runs in its own process through the real CLI, all at
once (forked by tests/forkcli.py, so the imports are paid once), so this file takes about as
long as its slowest run. Two more tests leave the mock provider for agnoctl's fake server on
loopback: a ready workflow over real HTTP, and the cache and resume walkthrough of
examples/12-cache-resume.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from agnoctl.cli import app
from agnoctl.testing.fake_llm import FakeLLMConfig, FakeLLMThread, start_in_thread
from tests import forkcli

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "workflows"
EXAMPLES = ROOT / "examples"
TIMEOUT = 100  # seconds per process; a hung run fails its test instead of the whole suite
# The ready-made workflows read these: unset, so a developer's settings cannot leak in.
_HIDDEN_VARIABLES = (
    *("LLM_BASE_URL", "LLM_MODEL", "LLM_API_KEY", "OPENAI_API_KEY"),
    "GITHUB_STEP_SUMMARY",  # a run appends its summary there: keep test runs off the CI page
)
FAKE_KEY = "sk-test-not-a-real-key-4f1d"
# A ```yaml block, then a blank line and `([name](source path))`.
_SNIPPET = re.compile(r"```yaml\n((?:(?!```).)*)```\n\n\(\[[^]]*\]\(([^)]+)\)", re.DOTALL)


@dataclass(frozen=True)
class Case:
    """One documented command and what its run must produce."""

    id: str
    """`workflows/<name>` or `examples/<folder>`."""
    command: str
    expect: dict[str, Any]

    @property
    def workflow(self) -> Path:
        return ROOT / shlex.split(self.command)[2]


def _table(path: Path, prefix: str) -> list[Case]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Case(f"{prefix}/{key}", entry["command"], entry) for key, entry in data.items()]


CASES = _table(WORKFLOWS / "expected.yaml", "workflows") + _table(
    EXAMPLES / "expected.yaml", "examples"
)


def workflow_files() -> list[Path]:
    """Every workflow a reader can open: workflows/*.yaml and examples/*/workflow.yaml."""
    ready = [
        path
        for path in sorted(WORKFLOWS.glob("*.yaml"))
        if not path.name.endswith(".fixtures.yaml") and path.name != "expected.yaml"
    ]
    return ready + sorted(EXAMPLES.glob("*/workflow.yaml"))


# --------------------------------------------------------------------------- running


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _HIDDEN_VARIABLES}
    env["NO_COLOR"] = "1"
    # examples/14-mcp-tools starts its MCP server with the Python that has the `mcp` package.
    env["MCP_PYTHON"] = sys.executable
    return env


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def make_git_repo(path: Path) -> Path:
    """A repository with two commits: the second changes one file and adds another."""
    path.mkdir()
    _git(path, "init", "-q")
    _git(path, "config", "user.email", "dev@example.com")
    _git(path, "config", "user.name", "Dev")
    (path / "app.py").write_text("def load(path):\n    return open(path).read()\n")
    _git(path, "add", ".")
    _git(path, "commit", "-q", "-m", "Initial commit")
    (path / "app.py").write_text(
        "def load(path):\n    try:\n        return open(path).read()\n"
        "    except OSError:\n        return ''\n"
    )
    (path / "util.py").write_text("def add(a, b):\n    return a + b\n")
    _git(path, "add", ".")
    _git(path, "commit", "-q", "-m", "Handle unreadable files")
    return path


@dataclass(frozen=True)
class Run:
    exit_code: int
    log: str
    """What the run printed (stdout and stderr)."""
    run_dir: Path

    def report(self) -> dict[str, Any]:
        report_file = self.run_dir / "report.json"
        assert report_file.exists(), f"no report.json; the run printed:\n{self.log}"
        report: dict[str, Any] = json.loads(report_file.read_text(encoding="utf-8"))
        return report

    def events(self) -> Iterator[dict[str, Any]]:
        with (self.run_dir / "events.jsonl").open(encoding="utf-8") as lines:
            for line in lines:
                yield json.loads(line)


def agnoctl(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return forkcli.run(args, cwd=cwd, env=_environment() | (env or {}), timeout=TIMEOUT)


def _argv(case: Case, run_dir: Path, repo: Path | None) -> list[str]:
    """The documented command, plus where to write and, for git workflows, which repository."""
    argv = shlex.split(case.command)[1:]
    argv += ["--report-dir", str(run_dir), "--progress", "plain", *case.expect.get("args", [])]
    argv += ["--cache-dir", str(run_dir.with_suffix(".cache"))]  # not the repository's
    if case.expect.get("git_repo"):
        assert repo is not None
        argv += ["-i", f"repo={repo}"]
    return argv


def _start(argv: list[str], log: Path) -> forkcli.Process:
    """``agnoctl ARGV`` started, what it prints (stdout and stderr) going to ``log``."""
    with log.open("w", encoding="utf-8") as out:
        return forkcli.start(argv, cwd=ROOT, env=_environment(), stdout=out, stderr=out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every documented command, run once, all at the same time."""
    workdir = tmp_path_factory.mktemp("runs")
    repo = make_git_repo(workdir / "repo") if shutil.which("git") else None
    cases = [case for case in CASES if repo is not None or not case.expect.get("git_repo")]
    run_dirs = [workdir / case.id.replace("/", "-") for case in cases]
    processes = [
        _start(_argv(case, run_dir, repo), run_dir.with_suffix(".log"))
        for case, run_dir in zip(cases, run_dirs, strict=True)
    ]
    codes = [process.wait(timeout=TIMEOUT) for process in processes]
    return {
        case.id: Run(code, run_dir.with_suffix(".log").read_text(encoding="utf-8"), run_dir)
        for case, code, run_dir in zip(cases, codes, run_dirs, strict=True)
    }


# --------------------------------------------------------------------------- checks


def check_step(step: dict[str, Any], expected: str | dict[str, Any]) -> None:
    if isinstance(expected, str):
        status, _, reason = expected.partition(": ")
        expected = {"status": status, **({"reason": reason} if reason else {})}
    where = f"step {step['path']}: {step.get('error')}"
    assert step["status"] == expected["status"], where
    if "reason" in expected:
        assert step["reason"] == expected["reason"], where
    if "attempts" in expected:
        assert len(step["attempts"]) == expected["attempts"], where
    if "items" in expected:
        assert f"{step['succeeded']}/{step['total']}" == expected["items"], where
    if "iterations" in expected:
        assert step["loop"]["iterations"] == expected["iterations"], where
    if "model" in expected:
        assert step["model"] == expected["model"], where


def find_step(report: dict[str, Any], path: str) -> dict[str, Any]:
    steps = report["steps"]
    parts = path.split(".")
    step: dict[str, Any] = steps[parts[0]]
    for part in parts[1:]:
        step = step["steps"][part]
    return step


def tool_results(run: Run) -> list[str]:
    results = []
    for event in run.events():
        if event["type"] == "tool_result":
            refused = str(event.get("error", "")).startswith("refused")
            outcome = "ok" if event["ok"] else "refused" if refused else "failed"
            results.append(f"{event['name']} {outcome}")
    return results


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_documented_run(case: Case, runs: dict[str, Run]) -> None:
    if case.id not in runs:
        pytest.skip("git is not installed")
    run, expect = runs[case.id], case.expect
    report = run.report()
    assert (run.exit_code, report["status"]) == (expect["exit_code"], expect["status"]), (
        f"{report['reason']}\n{run.log}"
    )
    assert report["exit_code"] == run.exit_code
    for path, expected in expect.get("steps", {}).items():
        check_step(find_step(report, path), expected)
    for name, value in expect.get("outputs", {}).items():
        assert report["outputs"].get(name) == value, name
    for name, text in expect.get("outputs_contain", {}).items():
        assert text in report["outputs"].get(name, ""), name
    assert not report["output_errors"]
    if "tool_results" in expect:
        assert tool_results(run) == expect["tool_results"]
    for artefact in ("junit.xml", "summary.md", "events.jsonl"):
        assert (run.run_dir / artefact).stat().st_size > 0, artefact


def test_every_workflow_and_example_has_an_expectation() -> None:
    documented = sorted(case.workflow for case in CASES)
    assert documented == sorted(workflow_files())


@pytest.mark.parametrize(
    "path", workflow_files(), ids=lambda path: path.parent.name + "/" + path.name
)
def test_every_workflow_names_its_schema(path: Path) -> None:
    """The modeline editors read for completion, pointing at the committed schema."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    schema = (path.parent / first.removeprefix(prefix)).resolve()
    assert schema == ROOT / "schemas" / "workflow.schema.json"


def test_every_workflow_validates_strictly() -> None:
    files = [str(path.relative_to(ROOT)) for path in workflow_files()]
    result = agnoctl("validate", "--strict", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(files)} files checked, 0 error(s), 0 warning(s)" in result.stderr


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_command_is_the_documented_one(case: Case) -> None:
    """The command a reader copies is the one the test suite runs."""
    if case.id.startswith("examples/"):
        assert case.command in (EXAMPLES / "README.md").read_text(encoding="utf-8")
    else:
        assert case.command in (WORKFLOWS / "README.md").read_text(encoding="utf-8")
    assert case.command in case.workflow.read_text(encoding="utf-8")


def guide_snippets(guide: Path) -> Iterator[tuple[str, Path]]:
    """Each ```yaml block of a guide that is followed by a `([name](path))` source line."""
    text = guide.read_text(encoding="utf-8")
    for match in _SNIPPET.finditer(text):
        yield match.group(1), (guide.parent / match.group(2)).resolve()


@pytest.mark.parametrize("guide", [ROOT / "docs" / "writing-workflows.md"], ids=["guide"])
def test_guide_snippets_are_copies_of_the_examples(guide: Path) -> None:
    """A snippet's lines appear in its source file, in order (lines may be left out)."""
    snippets = list(guide_snippets(guide))
    assert len(snippets) >= 10
    for snippet, source in snippets:
        lines = iter(source.read_text(encoding="utf-8").splitlines())
        for line in snippet.splitlines():
            if line.strip():
                assert any(candidate == line for candidate in lines), (
                    f"{guide.name}: {line.strip()!r} is not in {source.name} (in this order)"
                )


def _serve(api_key: str | None) -> Iterator[FakeLLMThread]:
    server = start_in_thread(FakeLLMConfig(api_key=api_key))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_server() -> Iterator[FakeLLMThread]:
    """agnoctl's fake OpenAI-compatible server on loopback, accepting only FAKE_KEY."""
    yield from _serve(FAKE_KEY)


@pytest.fixture
def keyless_server() -> Iterator[FakeLLMThread]:
    """The same server as a local one usually is: no key needed."""
    yield from _serve(None)


def test_a_ready_workflow_runs_against_a_real_server(
    fake_server: FakeLLMThread, tmp_path: Path
) -> None:
    """Setting the documented variables is all it takes to leave the mock: real HTTP calls."""
    env = {
        "LLM_BASE_URL": f"{fake_server.url}/v1",
        "LLM_MODEL": "served-model",
        "OPENAI_API_KEY": FAKE_KEY,
    }
    run_dir = ["--report-dir", str(tmp_path), "--progress", "plain"]
    run_dir += ["--cache-dir", str(tmp_path.with_name(tmp_path.name + "-cache"))]
    result = agnoctl("run", "workflows/summarize-docs.yaml", *run_dir, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    stats = fake_server.stats()
    assert stats["models"] == {"served-model": 4}  # three documents, then the digest
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["mock"] is False
    assert report["outputs"]["digest"].startswith("echo: Summaries of 3 documents")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert FAKE_KEY not in path.read_text(encoding="utf-8", errors="replace"), path


def test_cache_and_resume_walkthrough(
    keyless_server: FakeLLMThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """examples/12-cache-resume/README.md, step by step, against a real (loopback) server.

    In-process (four runs in a row; the documented runs above cover the subprocess path).
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLM_BASE_URL", f"{keyless_server.url}/v1")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    workflow = str(EXAMPLES / "12-cache-resume" / "workflow.yaml")

    def run(*args: str) -> tuple[Result, dict[str, Any]]:
        result = CliRunner().invoke(app, ["run", workflow, "-q", *args])
        report = tmp_path / ".agnoctl" / "runs" / "latest" / "report.json"
        return result, json.loads(report.read_text(encoding="utf-8"))

    first, report = run()
    assert first.exit_code == 1, first.output
    assert report["steps"]["publish"]["status"] == "failed"
    assert keyless_server.stats()["requests"] == 4

    (tmp_path / "approved.txt").touch()
    resumed, report = run("--resume", "latest")
    assert resumed.exit_code == 0, resumed.output
    assert "4 task(s) reused, 0 model call(s) made" in resumed.output
    assert keyless_server.stats()["requests"] == 4

    again, report = run()
    assert again.exit_code == 0, again.output
    assert (report["cost"]["total"]["cache_hits"], report["cost"]["total"]["calls"]) == (4, 0)
    assert keyless_server.stats()["requests"] == 4

    offline, report = run("--cache-only", "-i", "product=wind-up radio")
    assert offline.exit_code == 1
    assert report["steps"]["research"]["items"][0]["error"]["kind"] == "cache_miss"
    assert keyless_server.stats()["requests"] == 4


GUIDES = [
    "docs/writing-workflows.md",
    "docs/providers.md",
    "docs/ci.md",
    "examples/README.md",
    "examples/12-cache-resume/README.md",
    "workflows/README.md",
]


@pytest.mark.parametrize("guide", GUIDES)
def test_relative_links_resolve(guide: str) -> None:
    page = ROOT / guide
    targets = re.findall(r"\]\(([^)#\s]+)", page.read_text(encoding="utf-8"))
    local = [target for target in targets if "://" not in target]
    assert local, "no links found: has the link syntax changed?"
    missing = [target for target in local if not (page.parent / target).exists()]
    assert not missing
