"""Did-you-mean for a name whose definition has an error of its own, through the real CLI.

Found by the validate/plan pass: a step naming `agent: writr` where `writer` has a typo in a
field of its own (`temperatur:`) got "define it under `agents`" instead of "did you mean
`writer`?": suggestions came from the entries that validated, and a messy file (the one a
linter meets) has both errors at once. So did a tool an agent lists and a provider a model
names. The name is known (no error is reported for its right spelling); now it is suggested.

Worse, an agent or step with a misspelt field was not checked at all: its unknown provider,
tool or agent appeared only once the typo was fixed, one round of errors after another. An
entry whose only errors are unknown fields is now checked without them.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli

WORKFLOW = """\
version: 1
name: broken-names
providers:
  local: {type: openai, base_url: http://127.0.0.1:9/v1, max_concurency: 2}
tools:
  fetch_page: {type: http_get, allow_host: [example.com]}
agents:
  writer: {model: locl/m, temperatur: 1, tools: [fetch_pge]}
steps:
  a: {agent: writr, prompt: hello}
  b: {agent: nobody, prompt: "{{ steps.a.outptu }}", tag: x, retry: {max_attempt: 2}}
"""


def test_a_name_whose_definition_is_broken_is_still_suggested(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    done = run_cli("validate", "--format", "json", "wf.yaml")
    assert done.returncode == 2
    hints = {d["message"]: d["hint"] for d in json.loads(done.stdout)["diagnostics"]}
    assert hints["unknown agent `writr`"] == "did you mean `writer`?"
    assert hints["unknown tool `fetch_pge`"] == "did you mean `fetch_page`?"
    assert hints["unknown provider `locl` in model `locl/m`"].startswith("did you mean `local`?")
    assert hints["unknown agent `nobody`"] == "define it under `agents`"
    assert "`steps.a.outptu`" in " ".join(hints)
    assert "unknown field `max_attempt` in steps.b.retry" in hints


SETTINGS = """\
version: 1
name: bad-settings
agents:
  w: {model: nowhere/m, temperature: hot}
steps:
  a: {agent: nobody, prompt: "{{ steps.zz.output }}", timeout: forever, retry: {max_attempts: 0}}
  b:
    steps:
      c: {agent: w, prompt: "{{ steps.zq.output }}", priority: high}
"""


def test_a_bad_setting_does_not_hide_the_rest_of_its_entry(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(SETTINGS)
    done = run_cli("validate", "--format", "json", "wf.yaml")
    assert done.returncode == 2
    codes = sorted((d["line"], d["code"]) for d in json.loads(done.stdout)["diagnostics"])
    assert codes == [
        (4, "E203"),  # temperature (the settings' own errors)
        (4, "E401"),  # unknown provider `nowhere`: checked though the agent is broken
        (6, "E204"),  # retry.max_attempts
        (6, "E207"),  # timeout
        (6, "E400"),  # unknown agent `nobody`
        (6, "E407"),  # steps.zz
        (9, "E203"),  # priority
        (9, "E407"),  # steps.zq, in a group's child
    ]


def test_a_misspelt_need_does_not_make_its_reads_errors(run_cli: RunCli, tmp_path: Path) -> None:
    """Checked without a misspelt `need:`, the step's read of steps.a would be an error of its
    own (E406): one typo, two errors. Such an entry is left unchecked, as before."""
    text = (
        "version: 1\nname: n\nsteps:\n  a: {run: [echo, a]}\n"
        '  b: {need: [a], run: [echo, "{{ steps.a.output }}"]}\n'
    )
    (tmp_path / "wf.yaml").write_text(text)
    done = run_cli("validate", "--format", "json", "wf.yaml")
    codes = [d["code"] for d in json.loads(done.stdout)["diagnostics"]]
    assert codes == ["E200"]
