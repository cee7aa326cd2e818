"""fixtures export on a written journal: what is kept, in which order, in the mock's format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agnoctl.errors import UsageError
from agnoctl.providers.base import CallContext
from agnoctl.providers.fixtures import load_fixtures
from agnoctl.reports.fixtures_export import export_fixtures


def _call(step: str, text: str, item: int | None = None, **more: Any) -> dict[str, Any]:
    return {
        "type": "llm_call",
        "step": step,
        "item": item,
        "purpose": "task",
        "tokens_in": 3,
        "tokens_out": 4,
        "reply": {"text": text, "tool_calls": []},
        **more,
    }


def _write(run_dir: Path, events: list[dict[str, Any]]) -> Path:
    run_dir.mkdir(parents=True)
    lines = [json.dumps({"seq": n, **e}) for n, e in enumerate(events, 1)]
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    fixtures = run_dir.parent / "fixtures.yaml"
    text = export_fixtures(run_dir).text
    fixtures.write_text(text, encoding="utf-8")
    return fixtures


def _replies(path: Path, step: str, index: int | None = None, purpose: str = "task") -> list[str]:
    script = load_fixtures(path).script_for(CallContext(step, index=index, purpose=purpose))
    assert script is not None
    return [reply.text for reply in script.replies]


def test_replies_are_kept_per_step_item_and_purpose_in_order(tmp_path: Path) -> None:
    fixtures = _write(
        tmp_path / "run",
        [
            {"type": "run_started"},
            _call("fan", "zero", 0),
            _call("fan", "one (bad)", 1),
            {**_call("fan", "", 1), "reply": None, "error": "unavailable"},
            _call("fan", "one", 1),
            _call("brief", '{"ok": true}'),
            {**_call("brief", '{"score": 1, "reason": "ok"}'), "purpose": "judge"},
            _call("grp[3].child", "child of item 3", 3),
            {
                **_call("agent", ""),
                "reply": {"text": "", "tool_calls": [{"name": "grep", "arguments": {"q": "x"}}]},
            },
        ],
    )
    assert _replies(fixtures, "fan", 0) == ["zero"]
    assert _replies(fixtures, "fan", 1) == ["one (bad)", "one"]
    assert _replies(fixtures, "brief") == ['{"ok": true}']
    assert _replies(fixtures, "brief", purpose="judge") == ['{"score": 1, "reason": "ok"}']
    assert _replies(fixtures, "grp.child", 3) == ["child of item 3"]
    script = load_fixtures(fixtures).script_for(CallContext("agent"))
    assert script is not None
    assert script.replies[0].tool_calls == (("grep", {"q": "x"}),)
    assert script.replies[0].input_tokens == 3


def test_a_task_run_again_keeps_only_its_last_replies(tmp_path: Path) -> None:
    fixtures = _write(
        tmp_path / "run",
        [
            {"type": "run_started"},
            _call("fan", "zero", 0),
            _call("fan", "bad", 1),
            _call("fan", "bad again", 1),
            {"type": "run_finished", "status": "failed"},
            {"type": "run_resumed"},
            _call("fan", "fixed", 1),
        ],
    )
    assert _replies(fixtures, "fan", 0) == ["zero"]
    assert _replies(fixtures, "fan", 1) == ["fixed"]


def test_texts_survive_yaml_exactly(tmp_path: Path) -> None:
    texts = ["true", "1", "", "line one\nline two\n", "  padded  ", "émoji ✓", "- a: b", "null"]
    fixtures = _write(
        tmp_path / "run",
        [{"type": "run_started"}, *(_call("s", t, i) for i, t in enumerate(texts))],
    )
    assert [_replies(fixtures, "s", i)[0] for i in range(len(texts))] == texts


def test_a_run_without_replies_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no model reply"):
        _write(tmp_path / "run", [{"type": "run_started"}, {"type": "run_finished"}])
    with pytest.raises(UsageError, match=r"no events\.jsonl"):
        export_fixtures(tmp_path / "missing")
