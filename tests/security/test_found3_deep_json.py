"""JSON nested hundreds of levels deep, from a model or an input, through the real CLI.

Found by trying it: a model's structured reply of 600 bytes, ``[`` 300 times then ``]`` 300
times, passed the step's output_schema (``type: array``), and the run ended in a traceback
(``PydanticSerializationError: Maximum serialization depth exceeded``) with no final report:
no report can hold a value nested past about 250 levels. Nested 100,000 deep, the reply failed
its step as an ``internal_error`` ("maximum recursion depth exceeded"), never retried. A `-i`
value nested 300 deep ended in the same traceback. Such JSON is now refused as it is read,
deeper than 200 levels as the workflow's YAML is: the reply is an invalid output (retried), the
input a usage error. And `runs list` ended in a RecursionError traceback on a report.json
nested 100,000 deep in the runs folder; it lists that run as incomplete now, as it lists a
report.json that is not JSON.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from agnoctl.testing.fake_llm import (
    FakeLLMConfig,
    FakeLLMThread,
    FakeReply,
    FakeRequest,
    start_in_thread,
)
from tests.security.cli import agnoctl


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


class Deep:
    """The first reply to each model is an array nested as deep as the model's name says
    (``deep-300``); the next ones are a flat array."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def __call__(self, request: FakeRequest) -> FakeReply | None:
        self.seen[request.model] += 1
        depth = int(request.model.removeprefix("deep-"))
        return FakeReply(text=_nested(depth) if self.seen[request.model] == 1 else "[1]")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMThread]:
    with start_in_thread(FakeLLMConfig(responder=Deep())) as running:
        yield running


WORKFLOW = """\
version: 1
name: deep
providers:
  local: {{type: openai, base_url: "{url}/v1", api_key: sk-deep-test}}
agents:
  a: {{model: "local/deep-{depth}", output_schema: {{type: array}}}}
steps:
  s: {{agent: a, prompt: nest, retry: {{max_attempts: 2, initial_delay: 10ms}}}}
outputs:
  o: "{{{{ steps.s.output }}}}"
"""


@pytest.mark.parametrize("depth", [300, 100_000])
def test_a_reply_nested_too_deep_is_an_invalid_output(
    tmp_path: Path, server: FakeLLMThread, depth: int
) -> None:
    workflow = WORKFLOW.format(url=server.url, depth=depth)
    (tmp_path / "wf.yaml").write_text(workflow, encoding="utf-8")
    result = agnoctl(tmp_path, "run", "wf.yaml", "--progress", "plain", "--report-dir", "out")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert (
        "attempt_failed   s reason=output_invalid attempt=1 the reply is JSON no report can "
        "hold: it nests deeper than 200 levels"
    ) in result.stdout
    assert (tmp_path / "out" / "outputs" / "o.json").read_text() == "[\n  1\n]\n"


def test_a_reply_within_the_bound_is_kept(tmp_path: Path, server: FakeLLMThread) -> None:
    workflow = WORKFLOW.format(url=server.url, depth=200)
    (tmp_path / "wf.yaml").write_text(workflow, encoding="utf-8")
    result = agnoctl(tmp_path, "run", "wf.yaml", "-q", "--report-dir", "out")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "".join((tmp_path / "out" / "outputs" / "o.json").read_text().split()) == _nested(200)


def test_an_input_nested_too_deep_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "wf.yaml").write_text(
        "version: 1\nname: deep\ninputs:\n  x: {type: array}\nsteps:\n  s: {run: [echo]}\n",
        encoding="utf-8",
    )
    result = agnoctl(tmp_path, "run", "wf.yaml", "-q", "-i", f"x={_nested(300)}")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "error: input 'x' is an array: give it as JSON (it nests deeper than 200 levels)" in (
        result.stderr
    )


def test_runs_list_takes_a_report_nested_too_deep_for_a_bad_one(tmp_path: Path) -> None:
    run_dir = tmp_path / ".agnoctl" / "runs" / "20990101T000000Z-aaaaaa"
    run_dir.mkdir(parents=True)
    (run_dir / "report.json").write_text(f'{{"x": {_nested(100_000)}}}', encoding="utf-8")
    result = agnoctl(tmp_path, "runs", "list")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "20990101T000000Z-aaaaaa" in result.stdout
    assert "incomplete" in result.stdout
