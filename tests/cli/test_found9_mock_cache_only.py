"""`run --mock --cache-only` answered every model call with the mock, never reading the cache
(the mock is never cached), so a replay meant to come from a real run's cached replies printed
the mock's echoes and passed (found by the offline pass). The pair is refused, saying which
option does what."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RunCli


def test_mock_and_cache_only_are_refused_together(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(
        "version: 1\nname: w\n"
        "providers:\n  p: {type: openai, base_url: 'http://127.0.0.1:9/v1', api_key: x}\n"
        "agents:\n  a: {model: p/m}\nsteps:\n  s: {agent: a, prompt: hi}\n",
        encoding="utf-8",
    )
    done = run_cli("run", "wf.yaml", "--mock", "--cache-only", "-q")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == (
        "error: --mock answers every model call with the mock, whose replies are never cached, "
        "so --cache-only would replay none: drop --mock to replay the cache offline, or "
        "--cache-only to rehearse with the mock\n"
    )
    assert not (tmp_path / ".agnoctl" / "runs").exists()
