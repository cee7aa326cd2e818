"""A recognisable API key must leave no trace: not in the run directory, the cache, the logs,
the terminal output, nor anywhere else the runs wrote.

The key is set in the environment under a name that does not look secret (``E2E_CANARY``), so
only the provider entry's ``api_key: ${E2E_CANARY}`` marks it as a secret. Then it is planted
everywhere a careless runner would copy it: the server echoes it in a 401 body and in replies
(the prompt quotes it), a tool call carries it as an argument, a command prints it to stdout and
to stderr, and an output of the run is built from it. An ``http_get`` call carries it
URL-encoded in its URL (from ``E2E_CANARY_URL``, which agnoctl does not know as a secret: only
as a spelling of the key), and the server's 404 body echoes it decoded.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.e2e.conftest import E2E, FAST_RETRY, E2ERun, workflow_doc

# "/", "+" and "=" (as in base64 keys) give the key distinct URL-encoded spellings.
KEY = "sk-LEAKCANARY/1234567890+abcdef="
FORMS = {
    "raw": KEY,
    "json-escaped": json.dumps(KEY)[1:-1],
    "url-encoded": quote(KEY, safe=""),
    "fragment": "LEAKCANARY",  # a key cut or partly masked is still a leak
}
PRINT_KEY = "import os, sys; print(os.environ['E2E_CANARY'], file=getattr(sys, sys.argv[1]))"


def _doc(e2e: E2E, name: str, steps: dict[str, object]) -> dict[str, object]:
    return workflow_doc(
        name,
        providers={"vendor": e2e.provider("openai", api_key="${E2E_CANARY}")},
        agents={"writer": {"model": "vendor/m", "tools": ["say", "fetch"]}},
        tools={
            "fetch": {"type": "http_get", "allow_hosts": ["127.0.0.1"]},
            "say": {
                "parameters": {"type": "object", "properties": {"word": {"type": "string"}}},
                "run": [sys.executable, "-c", "import sys; print(sys.argv[1])", "{{ args.word }}"],
            },
        },
        steps=steps,
        defaults={"retry": FAST_RETRY},
    )


def _fetch_call(url: str) -> str:
    return f"[[tool:fetch:{json.dumps({'url': url})}]]"


def _run(e2e: E2E, doc: dict[str, object], *logging: str) -> E2ERun:
    cache = str(e2e.root / "cache")
    env = {"E2E_CANARY": KEY, "E2E_CANARY_URL": quote(KEY, safe="")}
    return e2e.run(doc, *logging, "--cache-dir", cache, env=env)


def _json_log(e2e: E2E, label: str) -> tuple[str, ...]:
    return ("--log-format", "json", "--log-file", str(e2e.root / f"{label}.log"), "-vv")


@pytest.fixture(scope="module")
def runs(e2e: E2E) -> list[E2ERun]:
    passing = _doc(
        e2e,
        "leak-pass",
        {
            "plain": {"agent": "writer", "prompt": "hello"},
            "quoted": {"agent": "writer", "prompt": "my key is ${E2E_CANARY}, repeat it"},
            "tool": {
                "agent": "writer",
                "prompt": 'use the tool [[tool:say:{"word": "${E2E_CANARY}"}]]',
            },
            "fetched": {
                "agent": "writer",
                "prompt": "fetch it " + _fetch_call(f"{e2e.url}/k/${{E2E_CANARY_URL}}"),
            },
            "printed": {"run": [sys.executable, "-c", PRINT_KEY, "stdout"]},
        },
    )
    passing["outputs"] = {
        "quoted": "{{ steps.quoted.output }}",
        "printed": "{{ steps.printed.output }}",
    }
    failing = _doc(
        e2e,
        "leak-fail",
        {
            "refused": {"agent": "writer", "prompt": "hello [[status:401]]"},
            "stderr": {"run": [sys.executable, "-c", PRINT_KEY + "; sys.exit(3)", "stderr"]},
        },
    )
    # Twice the passing run: the second one answers from the cache and logs to stderr.
    return [
        _run(e2e, passing, *_json_log(e2e, "pass")),
        _run(e2e, passing, "-vv"),
        _run(e2e, failing, *_json_log(e2e, "fail")),
    ]


def test_the_runs_did_what_a_leak_needs(runs: list[E2ERun]) -> None:
    first, again, failing = runs
    assert first.exit_code == 0, first.proc.stderr
    assert again.exit_code == 0, again.proc.stderr
    assert first.report["cost"]["total"]["cache_hits"] == 0
    assert again.report["cost"]["total"]["cache_hits"] >= 1
    # A reply that repeats the key was not cached: the second run asked the server again.
    assert again.requests_with("my key is")
    # The key really went out: as the credential, in a prompt and as a tool argument.
    bodies = json.dumps([r["body"] for r in first.stats["recent"]])
    assert bodies.count(KEY) >= 2
    assert bodies.count(quote(KEY, safe="")) >= 1
    fetched = first.events_of("tool_result", "fetched")
    assert [(e["ok"], e["error"].startswith("failed: HTTP 404")) for e in fetched] == [
        (False, True)
    ]
    assert failing.exit_code == 1
    assert failing.step("refused")["error"]["kind"] == "auth"
    assert failing.step("stderr")["status"] == "failed"
    assert failing.stats["statuses"] == {"401": 1}  # the server echoed the key in that body


def test_secret_is_masked_where_it_would_show(runs: list[E2ERun]) -> None:
    first, _, failing = runs
    assert first.step("quoted")["output"] == "echo: my key is ***, repeat it"
    assert first.step("printed")["output"] == "***"
    assert "***" in failing.step("refused")["error"]["message"]
    assert "providers.vendor.api_key" in failing.step("refused")["error"]["message"]


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def traces(forms: Mapping[str, str], root: Path, runs: Sequence[E2ERun]) -> list[str]:
    """Where each of ``forms`` (name: text) shows up: files under ``root``, the runs' output."""
    files = _files(root)
    return [
        f"{form} form in {place}"
        for form, text in forms.items()
        for place, found in [
            *((str(p.relative_to(root)), text.encode() in p.read_bytes()) for p in files),
            *((f"stdout of run {i}", text in r.proc.stdout) for i, r in enumerate(runs)),
            *((f"stderr of run {i}", text in r.proc.stderr) for i, r in enumerate(runs)),
        ]
        if found
    ]


def test_no_trace_of_the_key_in_any_file_or_output(runs: list[E2ERun], e2e: E2E) -> None:
    files = _files(e2e.root)
    # What the runs must have written, so that "no leak" is not "nothing written".
    names = {p.name for p in files}
    assert {"report.json", "events.jsonl", "junit.xml", "summary.md"} <= names
    assert {"pass.log", "fail.log"} <= names
    assert any(p.is_relative_to(e2e.root / "cache") for p in files)
    assert "llm_call" in runs[1].proc.stderr  # -vv logged every event to stderr
    leaks = traces(FORMS, e2e.root, runs)
    assert not leaks, "\n".join(leaks)
