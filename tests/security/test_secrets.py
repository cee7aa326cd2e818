"""A key cut short is still a key: no run of 8 characters of a planted key may leave the process.

Each step below puts a key where a limit cuts the text that holds it: a command's stderr around
its 8 KB tail, past 280 characters on its last line (the error message keeps 300), a provider's
error body around its 500-character cut, a body that is not JSON around the 80 characters an
error quotes, a command tool's output around its ``max_output_chars`` (also what the cache
stores) and its stderr around the 300 characters a ``tool_result`` event keeps. Cut first and
masked after, each left 16 to 30 characters of the key behind. A second key sits only in a
provider's ``base_url`` query string, which a connection error quotes, and a ``base_url`` with
``user:password@`` is refused at validation.

One CLI run holds every case, logging to a file and to stderr; then every file it wrote (run
directory, cache, log) and its terminal output are searched for every 8-character window of
each key.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import RunCli
from tests.e2e.conftest import E2E, FAST_RETRY, E2ERun, workflow_doc
from tests.e2e.test_secrets_leak import traces

# Letters and digits only: the key's JSON-escaped and URL-encoded spellings are itself.
KEY = "sk-proj-Q7vX2mZ9kLwR4tYb8NcJ5hFd3GsA6pEu"
URL_KEY = "uk-Hq3Rz8WmT5yVn2LcX7bJ4dFg9KsPa6Ee"
WINDOW = 8
# Names that do not look secret: only the provider entry's `api_key:` makes KEY one.
ENV = {"SEC_CANARY": KEY, "SEC_URL_CANARY": URL_KEY}


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", "import os, sys; k = os.environ['SEC_CANARY']; " + code]


def _doc(e2e: E2E) -> dict[str, object]:
    closed = "http://127.0.0.1:9/v1?key=${SEC_URL_CANARY}"  # the discard port: nobody listens
    return workflow_doc(
        "secrets-cut",
        providers={
            "vendor": e2e.provider("openai", api_key="${SEC_CANARY}"),
            "leaky": {"type": "openai", "base_url": closed},
        },
        agents={
            "writer": {"model": "vendor/m", "tools": ["long", "noisy"]},
            "far": {"model": "leaky/m"},
        },
        tools={
            "long": {
                "run": _python("print('x' * 70 + k + 'y' * 200)"),
                "max_output_chars": 100,
            },
            "noisy": {"run": _python("sys.stderr.write('z' * 250 + k); sys.exit(1)")},
        },
        steps={
            "stderr_tail": {"run": _python("sys.stderr.write(k + 'x' * 8172); sys.exit(1)")},
            "last_line": {"run": _python("sys.stderr.write('y' * 270 + k); sys.exit(1)")},
            "error_body": {
                "agent": "writer",
                "prompt": "[[status:400]][[body:" + "e" * 480 + "${SEC_CANARY}]]",
            },
            "not_json": {"agent": "writer", "prompt": "[[body:" + "n" * 60 + "${SEC_CANARY}]]"},
            "tool_output": {"agent": "writer", "prompt": "[[tool:long:{}]]"},
            "tool_stderr": {"agent": "writer", "prompt": "[[tool:noisy:{}]]"},
            "base_url": {"agent": "far", "prompt": "hello"},
        },
        defaults={"retry": {**FAST_RETRY, "max_attempts": 1}, "continue_on_error": True},
    )


@pytest.fixture(scope="module")
def run(e2e: E2E) -> E2ERun:
    log = str(e2e.root / "run.log")
    cache = str(e2e.root / "cache")
    logging = ("--log-format", "json", "--log-file", log, "-vv", "--cache-dir", cache)
    return e2e.run(_doc(e2e), *logging, env=ENV)


def windows(key: str) -> dict[str, str]:
    return {f"{key[:3]}[{i}:{i + WINDOW}]": key[i : i + WINDOW] for i in range(len(key) - 7)}


def test_every_cut_happened(run: E2ERun, e2e: E2E) -> None:
    """The cases reached their cuts: "no leak" is not "nothing written"."""
    failing = ["stderr_tail", "last_line", "error_body", "not_json", "base_url"]
    assert [run.step(s)["status"] for s in failing] == ["failed"] * 5, run.proc.stderr
    assert len(run.step("stderr_tail")["stderr"]) >= 8000
    assert "exited with code 1: yyyy" in run.step("last_line")["error"]["message"]
    assert "eeeeeeeeee" in run.step("error_body")["error"]["message"]
    assert "starting 'nnnnnnnn" in run.step("not_json")["error"]["message"]
    assert "[truncated: " in run.step("tool_output")["output"]
    noisy = run.events_of("tool_result", "tool_stderr")
    assert noisy and noisy[0]["error"].startswith("failed: exit code 1")
    message = run.step("base_url")["error"]["message"]
    assert "could not talk to leaky at http://127.0.0.1:9/v1/chat/completions?***: " in message
    assert (e2e.root / "run.log").stat().st_size > 0
    assert any((e2e.root / "cache").rglob("*.db"))


def test_no_eight_characters_of_a_key_anywhere(run: E2ERun, e2e: E2E) -> None:
    leaks = traces({**windows(KEY), **windows(URL_KEY)}, e2e.root, [run])
    assert not leaks, "\n".join(leaks)


def test_a_base_url_with_a_password_is_refused_at_validation(
    run_cli: RunCli, tmp_path: Path
) -> None:
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(
        "version: 1\nname: creds\n"
        "providers:\n  p: {type: openai, base_url: 'https://me:${SEC_CANARY}@example.com/v1'}\n"
        "agents:\n  a: {model: p/m}\nsteps:\n  s: {agent: a, prompt: hi}\n"
    )
    proc = run_cli("validate", workflow, env=ENV)
    assert proc.returncode == 2
    assert "wf.yaml:4:" in proc.stdout
    assert "may not hold a user name or password" in proc.stdout
    assert "api_key" in proc.stdout
    assert not traces(windows(KEY), tmp_path, []), proc.stdout
    assert KEY[:WINDOW] not in proc.stdout + proc.stderr
