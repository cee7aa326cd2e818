"""Structured logs: JSON lines that parse, carry the run's ids, and never a secret."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agnoctl.events import Entry, GateChecked, LlmCall, RunFinished
from agnoctl.logs import (
    ID_KEYS,
    LogOptions,
    configure_logging,
    get_logger,
    level_for,
    log_event,
    run_logging,
)
from agnoctl.redact import Redactor, masking
from tests.conftest import RunCli
from tests.observability.conftest import SECRET, ObsRuns, invoke_run


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_logs_on_stderr_carry_the_ids(obs_runs: ObsRuns, run_cli: RunCli) -> None:
    result = run_cli(
        "run",
        obs_runs.root / "workflow.yaml",
        "--mock",
        "--mock-fixtures",
        obs_runs.root / "fixtures-0.9.yaml",
        "-q",
        "--log-format",
        "json",
        "-vv",
        env={"OBS_API_KEY": SECRET},
    )
    assert result.returncode == 0, result.stderr
    lines = _json_lines(result.stderr)  # every stderr line is a JSON log line
    assert SECRET not in result.stderr and SECRET not in result.stdout
    run_ids = {line["run_id"] for line in lines}
    assert len(run_ids) == 1 and None not in run_ids
    for line in lines:
        assert set(ID_KEYS) <= line.keys()
        assert {"event", "level", "timestamp"} <= line.keys()
    calls = [line for line in lines if line["event"] == "llm_call"]
    assert {(c["step"], c["item"], c["attempt"]) for c in calls} >= {
        ("collect", 0, 1),
        ("collect", 1, 1),
        ("collect", 1, 2),
        ("collect", 2, 1),
        ("score", None, 1),
    }
    retry = next(line for line in lines if line["event"] == "retry_scheduled")
    assert retry["level"] == "warning" and (retry["step"], retry["item"]) == ("collect", 1)
    # A reply echoed the key: the structured fields that carry it are masked too.
    assert any("***" in json.dumps(line) for line in lines)


def test_log_file_gets_info_lines_and_stderr_stays_clean(
    obs_runs: ObsRuns, cli: CliRunner, in_tmp: Path
) -> None:
    log_file = in_tmp / "logs" / "run.jsonl"
    result = invoke_run(cli, obs_runs, "-q", "--log-format", "json", "--log-file", str(log_file))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    lines = _json_lines(log_file.read_text(encoding="utf-8"))
    levels = {line["level"] for line in lines}
    assert "info" in levels and "debug" not in levels
    assert lines[0]["event"] == "run_started" and lines[-1]["event"] == "run_finished"
    assert SECRET not in log_file.read_text(encoding="utf-8")


def test_no_logs_unless_asked(obs_runs: ObsRuns, cli: CliRunner, in_tmp: Path) -> None:
    result = invoke_run(cli, obs_runs, "--progress", "plain")
    assert result.exit_code == 0
    assert result.stderr == ""  # progress is on stdout; logs only when asked for


def test_levels() -> None:
    assert [level_for(v) for v in (0, 1, 2, 5)] == [
        logging.WARNING,
        logging.INFO,
        logging.DEBUG,
        logging.DEBUG,
    ]
    assert not LogOptions().requested
    assert LogOptions(verbosity=1).requested and LogOptions(format="json").requested


def test_logs_in_a_run_mask_the_runs_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    # The run's redactor knows API keys whose variables are not named like secrets
    # (`api_key_env: LLM_PASSPHRASE`); a line logged during the run masks them too.
    with masking(Redactor([SECRET])), configure_logging(log_format="json", verbosity=1):
        get_logger(step="s").info("called", header=f"Bearer {SECRET}", **{SECRET: "as a key"})
    line = json.loads(capsys.readouterr().err)
    assert SECRET not in json.dumps(line)
    assert line["header"] == "Bearer ***" and line["***"] == "as a key"
    assert line["step"] == "s" and line["item"] is None


def test_event_levels_and_console_format(capsys: pytest.CaptureFixture[str]) -> None:
    with configure_logging(log_format="console", verbosity=0):
        call = LlmCall(
            step="a", attempt=1, purpose="task", provider="mock", model="m", duration_ms=1.0
        )
        gate = GateChecked(
            step="a", attempt=1, gate="g", gate_type="contains", passed=False, severity="fail"
        )
        end = RunFinished(status="failed", exit_code=1, duration_ms=1.0, cost=0.0)
        for number, event in enumerate((call, gate, end), 1):
            log_event(Entry(number, "2025-01-31T12:00:00.000Z", "r", event))
    err = capsys.readouterr().err
    assert "llm_call" not in err  # debug, hidden at the default level
    assert "gate_result" in err and "[warning" in err
    assert "run_finished" in err and "[error" in err
    assert "item=" not in err  # ids that do not apply are left off console lines


def test_log_file_is_closed_and_default_restored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "x.log"
    with run_logging(LogOptions(file=target)):
        get_logger().info("inside")
    get_logger().warning("after")  # the quiet default again: warnings to stderr
    assert "inside" in target.read_text(encoding="utf-8")
    assert "after" not in target.read_text(encoding="utf-8")
    assert "after" in capsys.readouterr().err
