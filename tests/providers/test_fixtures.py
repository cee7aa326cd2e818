"""The mock fixtures file: format, error mapping, routing, errors that point at file:line:col."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agnoctl.errors import (
    AuthenticationFailed,
    BadRequest,
    ConnectionFailed,
    MalformedResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    UsageError,
)
from agnoctl.providers.base import CallContext
from agnoctl.providers.fixtures import Fixtures, load_fixtures, parse_fixtures

EXAMPLE = """\
steps:
  analyse:                       # full step path
    - json: {summary: weak, confidence: 0.5}
    - json: {summary: strong, confidence: 0.9}
  collect:
    items:
      1: [{error: {status: 503, message: upstream down}}, {text: recovered}]
    default: {text: "collected"}
  review.draft: {text: "first draft", delay: 50ms, usage: {input_tokens: 100, output_tokens: 20}}
  analyse#judge: {json: {score: 0.4, reason: vague}}
agents:
  judge: {json: {score: 0.9, reason: clear and complete}}
"""


def write(tmp_path: Path, text: str, name: str = "fixtures.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(UsageError) as caught:
        load_fixtures(write(tmp_path, text))
    return str(caught.value)


def test_the_documented_example_loads(tmp_path: Path) -> None:
    fixtures = load_fixtures(write(tmp_path, EXAMPLE))
    analyse = fixtures.steps["analyse"].default
    assert analyse is not None
    assert [json.loads(r.text) for r in analyse.replies] == [
        {"summary": "weak", "confidence": 0.5},
        {"summary": "strong", "confidence": 0.9},
    ]
    collect = fixtures.steps["collect"]
    assert set(collect.items) == {1}
    first, second = collect.items[1].replies
    assert first.error is not None and first.error.kind is ProviderUnavailable
    assert second.text == "recovered"
    draft = fixtures.steps["review.draft"].default
    assert draft is not None
    (reply,) = draft.replies
    assert (reply.text, reply.delay, reply.input_tokens, reply.output_tokens) == (
        "first draft",
        0.05,
        100,
        20,
    )
    assert fixtures.locations["collect"] == f"{tmp_path / 'fixtures.yaml'}:5:3"
    assert set(fixtures.agents) == {"judge"}


def test_json_files_load_too(tmp_path: Path) -> None:
    data = {"steps": {"a": {"items": {"0": {"text": "zero"}}, "default": [{"text": "d"}]}}}
    fixtures = load_fixtures(write(tmp_path, json.dumps(data), "fixtures.json"))
    assert fixtures.steps["a"].items[0].replies[0].text == "zero"


def test_an_empty_file_scripts_nothing(tmp_path: Path) -> None:
    fixtures = load_fixtures(write(tmp_path, "# nothing scripted yet\n"))
    assert fixtures == Fixtures(source=str(tmp_path / "fixtures.yaml"))


def test_the_last_reply_repeats() -> None:
    fixtures = parse_fixtures({"steps": {"a": [{"text": "1"}, {"text": "2"}]}})
    script = fixtures.steps["a"].default
    assert script is not None
    assert [script.reply(n).text for n in range(4)] == ["1", "2", "2", "2"]


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (429, RateLimited, True),
        (408, ProviderUnavailable, True),
        (409, ProviderUnavailable, True),
        (500, ProviderUnavailable, True),
        (502, ProviderUnavailable, True),
        (503, ProviderUnavailable, True),
        (599, ProviderUnavailable, True),
        (401, AuthenticationFailed, False),
        (403, AuthenticationFailed, False),
        (400, BadRequest, False),
        (404, BadRequest, False),
        (422, BadRequest, False),
        ("timeout", ProviderTimeout, True),
        ("malformed", MalformedResponse, True),
        ("reset", ConnectionFailed, True),
    ],
)
def test_error_statuses_map_to_the_error_tree(
    status: int | str, kind: type[ProviderError], retryable: bool
) -> None:
    fixtures = parse_fixtures({"steps": {"a": {"error": {"status": status}}}})
    script = fixtures.steps["a"].default
    assert script is not None
    scripted = script.reply(0).error
    assert scripted is not None
    error = scripted.exception("mock", "echo")
    assert type(error) is kind
    assert error.retryable is retryable
    assert (error.provider, error.model) == ("mock", "echo")
    assert error.status == (status if isinstance(status, int) else None)
    assert "scripted by <fixtures>" in error.message


def test_an_error_carries_its_message_and_retry_after() -> None:
    data = {"steps": {"a": {"error": {"status": 429, "message": "slow down", "retry_after": "2s"}}}}
    script = parse_fixtures(data).steps["a"].default
    assert script is not None
    scripted = script.reply(0).error
    assert scripted is not None
    error = scripted.exception("p", "m")
    assert error.retry_after == 2.0
    assert error.message.startswith("HTTP 429: slow down")


def test_tool_call_replies() -> None:
    data = {
        "steps": {"a": {"tool_calls": [{"name": "grep", "arguments": {"q": "x"}}, {"name": "t"}]}}
    }
    script = parse_fixtures(data).steps["a"].default
    assert script is not None
    assert script.reply(0).tool_calls == (("grep", {"q": "x"}), ("t", {}))


def ctx(
    step: str, index: int | None = None, agent: str | None = None, purpose: str = "task"
) -> CallContext:
    return CallContext(step_id=step, index=index, agent=agent, purpose=purpose)


def first_text(fixtures: Fixtures, context: CallContext) -> str | None:
    script = fixtures.script_for(context)
    return None if script is None else script.reply(0).text


def test_routing_by_step_item_purpose_and_agent(tmp_path: Path) -> None:
    fixtures = load_fixtures(write(tmp_path, EXAMPLE))
    assert first_text(fixtures, ctx("collect", 1)) == ""  # the scripted 503
    assert first_text(fixtures, ctx("collect", 0)) == "collected"  # default for other items
    assert first_text(fixtures, ctx("collect")) == "collected"
    assert first_text(fixtures, ctx("review.draft")) == "first draft"
    # A judge call uses "<step>#judge", then the judge agent, never the step's own replies.
    assert first_text(fixtures, ctx("analyse", agent="judge", purpose="judge")) == (
        '{"score": 0.4, "reason": "vague"}'
    )
    assert first_text(fixtures, ctx("collect", agent="judge", purpose="judge")) == (
        '{"score": 0.9, "reason": "clear and complete"}'
    )
    assert first_text(fixtures, ctx("collect", agent="critic", purpose="judge")) is None
    # Task calls fall back to their agent too; nothing scripted means the mock's default.
    assert first_text(fixtures, ctx("other", agent="judge")) is not None
    assert first_text(fixtures, ctx("other", agent="writer")) is None


def test_items_without_a_default_fall_back_to_the_agent() -> None:
    fixtures = parse_fixtures(
        {"steps": {"s": {"items": {2: {"text": "two"}}}}, "agents": {"w": {"text": "agent"}}}
    )
    assert first_text(fixtures, ctx("s", 2, agent="w")) == "two"
    assert first_text(fixtures, ctx("s", 0, agent="w")) == "agent"
    assert first_text(fixtures, ctx("s", 0)) is None


def test_unknown_steps_are_reported_with_a_suggestion(tmp_path: Path) -> None:
    fixtures = load_fixtures(write(tmp_path, EXAMPLE))
    messages = fixtures.unknown_names(
        {"analyse", "collect", "review.drafts"}, {"analyse"}, {"judge"}
    )
    assert messages == [
        f"{tmp_path / 'fixtures.yaml'}:9:3: mock fixtures name step 'review.draft', "
        "which the workflow lacks (did you mean 'review.drafts'?)"
    ]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "steps:\n  a: [\n",
            "3:1",
            "E104 YAML syntax error: did not find expected node content",
        ),
        (
            "steps:\n  a:\n    - txt: hi\n",
            "3:7",
            "steps.a[0].txt: unknown key 'txt' (did you mean 'text'?)",
        ),
        (
            "steps:\n  a: {text: x, json: 1}\n",
            "2:3",
            "exactly one of text, json, error, tool_calls (found text and json)",
        ),
        ("steps:\n  a: {delay: 1s}\n", "2:3", "(found none)"),
        (
            "steps:\n  a:\n    text: 42\n",
            "3:5",
            "steps.a.text: text must be a string, not a number (quote it)",
        ),
        (
            "steps:\n  a: {error: {status: 200}}\n",
            "2:15",
            "status must be an HTTP error status (400-599)",
        ),
        (
            "steps:\n  a: {error: {status: sometimes}}\n",
            "2:15",
            "status must be an HTTP error status",
        ),
        ("steps:\n  a: {error: {message: x}}\n", "2:7", "`error` needs a status"),
        ("steps:\n  a: {text: x, delay: soon}\n", "2:16", "'soon' is not a duration"),
        (
            "steps:\n  a: {text: x, usage: {input_tokens: -1}}\n",
            "2:24",
            "input_tokens must be a whole number",
        ),
        ("steps:\n  a: {text: x, usage: {tokens: 1}}\n", "2:24", "unknown key 'tokens'"),
        ("steps:\n  a: []\n", "2:3", "a list of replies needs at least one reply"),
        ("steps:\n  a: hello\n", "2:3", "a reply must be a mapping, not a string"),
        ("steps:\n  a: {tool_calls: []}\n", "2:7", "tool_calls must be a non-empty list"),
        ("steps:\n  a: {tool_calls: [{arguments: {}}]}\n", "2:20", "a tool call needs a `name`"),
        (
            "steps:\n  a: {tool_calls: [{name: t, arguments: [1]}]}\n",
            "2:30",
            "`arguments` must be a mapping",
        ),
        (
            "steps:\n  a:\n    items: {first: {text: x}}\n",
            "3:13",
            "an item key is a for_each index",
        ),
        ("steps:\n  a:\n    items: {0: {text: x}}\n    extra: 1\n", "4:5", "unknown key 'extra'"),
        ("steps:\n  bad-step: {text: x}\n", "2:3", "a step key is a step path"),
        ("steps:\n  a: {text: x}\n  a: {text: y}\n", "3:3", "duplicate key 'a'"),
        ("stepz: {}\n", "1:1", "unknown key 'stepz' (did you mean 'steps'?)"),
        ("- 1\n", "1:1", "a fixtures file must be a mapping, not a list"),
        ("steps: [1]\n", "1:1", "`steps` must be a mapping"),
        (
            "steps: {a: {text: x}}\n---\nsteps: {}\n",
            "2:1",
            "E109 the file holds more than one YAML document",
        ),
    ],
)
def test_bad_files_point_at_file_line_col(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    error = load_error(tmp_path, text)
    assert error.startswith(f"{tmp_path / 'fixtures.yaml'}:{where}: "), error
    assert message in error
    assert "\n" not in error


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    lines.append("steps: {s: {json: *a8}}")
    error = load_error(tmp_path, "\n".join(lines) + "\n")
    assert "E111 aliases expand to" in error


def test_a_missing_or_binary_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the fixtures file"):
        load_fixtures(tmp_path / "absent.yaml")
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UsageError, match="E103 the file is binary"):
        load_fixtures(path)


def test_python_data_errors_name_the_path() -> None:
    with pytest.raises(UsageError) as caught:
        parse_fixtures({"steps": {"a": [{"text": "ok"}, {"error": {"status": 999}}]}})
    assert str(caught.value).startswith("<fixtures>: steps.a[1].error.status: status must be")


def test_merge_keys_share_reply_settings(tmp_path: Path) -> None:
    text = (
        "steps:\n"
        "  a: &common {text: hi, usage: {input_tokens: 1, output_tokens: 2}}\n"
        "  b: {<<: *common, text: bye}\n"
        "  c: {json: {when: 2024-01-02, n: null, ok: yes}}\n"
    )
    fixtures = load_fixtures(write(tmp_path, text))
    b = fixtures.steps["b"].default
    c = fixtures.steps["c"].default
    assert b is not None and c is not None
    assert (b.reply(0).text, b.reply(0).input_tokens, b.reply(0).output_tokens) == ("bye", 1, 2)
    # Timestamps stay the text that was written; JSON has no date type.
    assert json.loads(c.reply(0).text) == {"when": "2024-01-02", "n": None, "ok": True}
