"""Offline means offline: the commands that send no request need no provider key.

`--mock`, `--cache-only`, `--dry-run`, `plan`, `graph` and `validate` run with every key
variable unset and the project's fake server counting: exit 0 and zero requests. A real run
still refuses an unset key variable (E117), and `--mock-fixtures` without `--mock` is a usage
error rather than a silent run against the real providers.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from agnoctl.testing.fake_llm import FakeLLMConfig, FakeLLMThread, start_in_thread
from tests import forkcli

KEY = "sk-offline-test"
KEY_VARIABLES = ("AGNOCTL_TEST_OFFLINE_KEY_A", "AGNOCTL_TEST_OFFLINE_KEY_B")
_SCRUBBED_PREFIXES = ("OPENAI_", "ANTHROPIC_", "OLLAMA_", "AGNOCTL_", "GITHUB_")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMThread]:
    # The server refuses any request without the key: a request made anyway would fail loudly.
    with start_in_thread(FakeLLMConfig(api_key=KEY)) as fake:
        yield fake


def workflow(folder: Path, server: FakeLLMThread, **extra: object) -> Path:
    doc = {
        "version": 1,
        "name": "offline",
        "providers": {
            "remote": {
                "type": "openai",
                "base_url": f"{server.url}/v1",
                "api_key": "${AGNOCTL_TEST_OFFLINE_KEY_A}",
            },
            "claude": {
                "type": "anthropic",
                "base_url": server.url,
                "api_key": "${AGNOCTL_TEST_OFFLINE_KEY_B}",
            },
        },
        "agents": {
            "writer": {"model": "remote/gpt-4o-mini"},
            "critic": {"model": "claude/claude-3-5-haiku-latest"},
        },
        "steps": {
            "draft": {"agent": "writer", "prompt": "Write one line."},
            "review": {"agent": "critic", "needs": ["draft"], "prompt": "{{ steps.draft.output }}"},
        },
        **extra,
    }
    path = folder / "offline.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def agnoctl(*args: str | Path, cwd: Path, keys: bool = False) -> subprocess.CompletedProcess[str]:
    """The real CLI with no provider settings in its environment (the keys only if asked)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env["NO_COLOR"] = "1"
    if keys:
        env.update(dict.fromkeys(KEY_VARIABLES, KEY))
    return forkcli.run(args, cwd=cwd, env=env, timeout=60)


def requests_during(
    server: FakeLLMThread, *args: str | Path, cwd: Path, keys: bool = False
) -> tuple[subprocess.CompletedProcess[str], int]:
    server.reset()
    done = agnoctl(*args, cwd=cwd, keys=keys)
    return done, int(server.stats()["requests"])


@pytest.mark.parametrize(
    "command",
    [
        ["run", "--mock", "--no-cache"],
        ["run", "--dry-run"],
        ["plan"],
        ["graph"],
        ["validate", "--strict"],
    ],
    ids=["mock", "dry-run", "plan", "graph", "validate"],
)
def test_offline_commands_need_no_key_and_send_no_request(
    server: FakeLLMThread, tmp_path: Path, command: list[str]
) -> None:
    path = workflow(tmp_path, server)
    done, requests = requests_during(server, *command, path, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert requests == 0
    assert "E117" not in done.stderr and "Traceback" not in done.stderr


def test_validate_notes_each_unset_key_and_where(server: FakeLLMThread, tmp_path: Path) -> None:
    path = workflow(tmp_path, server)
    done = agnoctl("validate", path, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if ": note: " in line]
    assert len(notes) == 2
    assert notes[0].startswith(f"{path}:7:14: note: ")
    assert "AGNOCTL_TEST_OFFLINE_KEY_A is not set (providers.remote.api_key)" in notes[0]
    assert "providers.claude.api_key" in notes[1]


def test_cache_only_replays_without_keys(server: FakeLLMThread, tmp_path: Path) -> None:
    path = workflow(tmp_path, server)
    warm, requests = requests_during(
        server, "run", path, "--report-dir", "warm", cwd=tmp_path, keys=True
    )
    assert warm.returncode == 0, warm.stderr
    assert requests == 2  # the cache is filled by a real run with the keys
    done, requests = requests_during(
        server, "run", path, "--cache-only", "--report-dir", "replay", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert requests == 0


def test_a_real_run_still_needs_its_key(server: FakeLLMThread, tmp_path: Path) -> None:
    path = workflow(tmp_path, server)
    done, requests = requests_during(server, "run", path, "--no-cache", cwd=tmp_path)
    assert done.returncode == 2
    assert "E117 environment variable AGNOCTL_TEST_OFFLINE_KEY_A is not set" in done.stderr
    assert requests == 0


def test_any_other_unset_variable_is_still_an_error_offline(
    server: FakeLLMThread, tmp_path: Path
) -> None:
    path = workflow(tmp_path, server, env={"REGION": "${AGNOCTL_TEST_OFFLINE_REGION}"})
    done, requests = requests_during(server, "run", path, "--mock", "--no-cache", cwd=tmp_path)
    assert done.returncode == 2
    assert "E117 environment variable AGNOCTL_TEST_OFFLINE_REGION is not set" in done.stderr
    assert requests == 0


def test_mock_fixtures_without_mock_is_a_usage_error(server: FakeLLMThread, tmp_path: Path) -> None:
    path = workflow(tmp_path, server)
    fixtures = tmp_path / "fixtures.yaml"
    fixtures.write_text("steps:\n  draft: {default: {text: scripted}}\n", encoding="utf-8")
    done, requests = requests_during(
        server, "run", path, "--mock-fixtures", fixtures, "--no-cache", cwd=tmp_path, keys=True
    )
    assert done.returncode == 2
    assert "add --mock" in done.stderr
    assert requests == 0
    assert not (tmp_path / ".agnoctl" / "runs").exists()
