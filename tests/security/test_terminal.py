"""Escape sequences never reach the terminal (#19 item 8).

A step's stderr `ESC]0;title BEL ESC[32mPASSED` was printed raw in the progress lines, the
final table and the `::error` annotations: it retitled the terminal, painted a failure green
and could spoof a CI log. Everything printed now shows control characters as visible escapes
(`\\x1b`), whichever way the text came in: a command's output, a model's reply, a workflow
file, a log line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from tests.conftest import RunCli

ESC, BEL = "\x1b", "\x07"
HOSTILE = f"{ESC}]0;title{BEL}{ESC}[32mPASSED"
SHOWN = "\\x1b]0;title\\x07\\x1b[32mPASSED"
# The command writes the hostile text without holding it raw in the workflow file.
WRITE_IT = "import sys; sys.stderr.write(chr(27)+']0;title'+chr(7)+chr(27)+'[32mPASSED'); exit(1)"


def _obeyable(text: str) -> list[str]:
    """Control characters a terminal would act on (newline and tab are text)."""
    return sorted({c for c in text if (ord(c) < 0x20 and c not in "\n\t") or ord(c) == 0x7F})


def _write(folder: Path, name: str, doc: object) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _command_flow(folder: Path) -> Path:
    return _write(
        folder,
        "flow.yaml",
        {
            "version": 1,
            "name": "hostile",
            "steps": {"spoof": {"run": [sys.executable, "-c", WRITE_IT], "retry": None}},
        },
    )


def test_a_commands_stderr_is_shown_not_obeyed(run_cli: RunCli, tmp_path: Path) -> None:
    flow = _command_flow(tmp_path)
    result = run_cli(
        "run", flow, "--progress", "plain", "--format", "github", "--report-dir", tmp_path / "r"
    )
    assert result.returncode == 1, result.stderr
    assert _obeyable(result.stdout) == [] and _obeyable(result.stderr) == []
    progress = [line for line in result.stdout.splitlines() if "step_failed" in line]
    assert progress and SHOWN in progress[0]
    table = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert any("\\x1b]0;title" in line for line in table)
    [error] = [line for line in result.stdout.splitlines() if line.startswith("::error file=")]
    assert SHOWN in error
    # the report keeps what the step wrote, exactly: only what is printed is neutralised
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert HOSTILE in report["steps"]["spoof"]["error"]["message"]


def _reply_flow(folder: Path) -> Path:
    """A model's reply that a command then writes to its stderr, and fails."""
    return _write(
        folder,
        "flow.yaml",
        {
            "version": 1,
            "name": "reply",
            "agents": {"a": {"model": "mock/m"}},
            "steps": {
                "say": {"agent": "a", "prompt": "hi"},
                "echo": {
                    "needs": ["say"],
                    "run": ["sh", "-c", 'printf "%s" "$0" >&2; exit 3', "{{ steps.say.output }}"],
                    "retry": None,
                },
            },
        },
    )


def test_a_models_reply_and_the_logs_are_shown_not_obeyed(run_cli: RunCli, tmp_path: Path) -> None:
    flow = _reply_flow(tmp_path)
    first = _write(tmp_path, "first.yaml", {"steps": {"say": [{"text": HOSTILE}]}})
    second = _write(tmp_path, "second.yaml", {"steps": {"say": [{"text": HOSTILE + "!"}]}})
    result = run_cli(
        "run",
        flow,
        "--mock-fixtures",
        first,
        "--report-dir",
        tmp_path / "r",
        "--progress",
        "plain",
        "--format",
        "github",
        "-vv",
    )
    assert result.returncode == 1, result.stderr
    assert _obeyable(result.stdout) == [] and _obeyable(result.stderr) == []
    assert SHOWN in result.stdout
    shown = run_cli("report", "show", tmp_path / "r")
    assert _obeyable(shown.stdout) == [] and SHOWN in shown.stdout
    as_json = run_cli("report", "show", tmp_path / "r", "--format", "json").stdout
    assert json.loads(as_json) == json.loads((tmp_path / "r" / "report.json").read_text())
    run_cli("run", flow, "--mock-fixtures", second, "--report-dir", tmp_path / "r2", "-q")
    diff = run_cli("report", "diff", tmp_path / "r", tmp_path / "r2")
    assert diff.returncode == 0 and _obeyable(diff.stdout) == [], diff.stdout
    assert SHOWN in diff.stdout


def test_a_workflow_files_text_is_shown_not_obeyed(run_cli: RunCli, tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        'version: 1\nname: x\nsteps:\n  a: {run: [echo], "\\e]0;title\\a\\e[32mPASSED": 1}\n',
        encoding="utf-8",
    )
    for output in ("text", "github"):
        result = run_cli("validate", flow, "--format", output)
        assert result.returncode == 2
        assert _obeyable(result.stdout) == [] and "\\x1b]0;title" in result.stdout
    planned = run_cli("plan", flow)
    assert _obeyable(planned.stderr) == [] and planned.returncode == 2
