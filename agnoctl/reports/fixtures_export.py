"""``agnoctl fixtures export``: a run's model replies as a ``--mock-fixtures`` file.

A workflow that ran once against a real model then replays offline, deterministically:
``agnoctl run FILE --mock --mock-fixtures fixtures.yaml``. The replies come from the run's
journal (each ``llm_call`` event carries its reply, redacted as everything in the journal).

The mock answers call N of a (step, item, purpose) with reply N (see
``agnoctl.providers.fixtures``), so each one's replies are written in the order they arrived,
a reply the server did not finish with its ``finish_reason`` (it failed the step, so it fails
the replay). A provider error that a later reply recovered from is left out (a replay need not
wait through the retries it caused); when a call's errors never ended in a reply, the last of
them is written after its replies, and the mock repeats it, so the step fails in the replay as
it did in the run. When the run was resumed, a task that ran again keeps only the replies of
the last segment that called the model for it: the earlier ones belong to an execution that
did not produce the run's result.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agnoctl.errors import UsageError
from agnoctl.events import Event, LlmCall, SegmentStarted, read_events

_ITEM_SUFFIX = re.compile(r"\[\d+\]")

# A failed call's reason in the journal (`engine.retry.reason`) -> the fixture error status that
# raises the same provider error. Other reasons (a cancelled call, an internal error) are no
# provider's answer: the fixture format cannot script them, and they are left out.
_ERROR_STATUS: dict[str, int | str] = {
    "rate_limited": 429,
    "unavailable": 503,
    "conflict": 409,
    "auth": 401,
    "bad_request": 400,
    "timeout": "timeout",
    "malformed_response": "malformed",
    "connection_error": "reset",
}

Key = tuple[str, int | None, str]  # (fixtures step key, for_each index, purpose)


@dataclass(frozen=True, slots=True)
class Export:
    """A run's replies as a fixtures file."""

    text: str  # the YAML
    data: dict[str, Any]  # what it holds
    replies: int
    run_id: str  # as the journal names it: a --report-dir folder may be named anything


def export_fixtures(run_dir: Path) -> Export:
    """The fixtures file for the run in ``run_dir``."""
    journal = run_dir / "events.jsonl"
    if not journal.is_file():
        raise UsageError(f"{run_dir} has no events.jsonl to export replies from")
    entries = list(read_events(journal))
    run_id = next((entry.run_id for entry in entries if entry.run_id), run_dir.name)
    calls = _replies(entry.event for entry in entries)
    count = sum(len(replies) for replies in calls.values())
    if count == 0:
        raise UsageError(f"run {run_id} recorded no model reply to export")
    header = (
        f"# Model replies of run {run_id}, exported by `agnoctl fixtures export`.\n"
        "# Replay offline: agnoctl run <workflow> --mock --mock-fixtures <this file>\n"
    )
    data = {"steps": _steps(calls)}
    _check_replayable(data, journal)
    return Export(header + _dump(data), data, count, run_id)


def _check_replayable(data: dict[str, Any], journal: Path) -> None:
    """A journal agnoctl wrote makes valid fixtures; a damaged one (a reply of the wrong
    shape, an unknown purpose) is refused here rather than written as a file that
    ``--mock-fixtures`` refuses."""
    from agnoctl.providers.fixtures import parse_fixtures

    try:
        parse_fixtures(data, source="the export")
    except UsageError as exc:
        raise UsageError(f"{journal} holds a reply that makes no valid fixture ({exc})") from None


def _replies(run: Iterable[Event]) -> dict[Key, list[dict[str, Any]]]:
    """Replies per call key, from the last segment that called for each key, then the error
    its calls ended with, if they ended failing."""
    segment = 0
    calls: dict[Key, list[dict[str, Any]]] = {}
    failed: dict[Key, dict[str, Any]] = {}  # the error after a key's last reply
    made_in: dict[Key, int] = {}
    for event in run:
        if isinstance(event, SegmentStarted):
            segment += 1
            continue
        if not isinstance(event, LlmCall):
            continue
        fixture = _fixture(event)
        if fixture is None:
            continue
        key = _key(event)
        if made_in.get(key) != segment:
            made_in[key] = segment
            calls[key] = []
            failed.pop(key, None)
        if "error" in fixture:
            failed[key] = fixture
        else:
            calls[key].append(fixture)
            failed.pop(key, None)
    for key, error in failed.items():
        calls[key].append(error)
    return calls


def _key(call: LlmCall) -> Key:
    # Reports name an item's child `fan[2].child`; fixtures address it as `fan.child`.
    step = _ITEM_SUFFIX.sub("", call.step)
    purpose = call.purpose or "task"
    return (step if purpose == "task" else f"{step}#{purpose}", call.item, purpose)


def _fixture(call: LlmCall) -> dict[str, Any] | None:
    """The fixture reply that answers as ``call`` was answered, or None if none can."""
    if call.reply is not None:
        return _fixture_reply(call, call.reply)
    status = _ERROR_STATUS.get(call.error or "")
    return None if status is None else {"error": {"status": status}}


def _fixture_reply(call: LlmCall, reply: dict[str, Any]) -> dict[str, Any]:
    tool_calls = reply.get("tool_calls") or []
    fixture: dict[str, Any]
    if tool_calls:
        fixture = {"tool_calls": _tool_calls(tool_calls)}
    else:
        fixture = {"text": str(reply.get("text") or "")}
    if reply.get("finish_reason"):
        fixture["finish_reason"] = reply["finish_reason"]
    tokens_in, tokens_out = call.tokens_in, call.tokens_out
    if tokens_in is not None and tokens_out is not None:
        fixture["usage"] = {"input_tokens": tokens_in, "output_tokens": tokens_out}
    return fixture


def _tool_calls(journal: Any) -> Any:
    """The fixture's tool calls; what is not the list of mappings the journal is written with
    is kept as it is, for ``_check_replayable`` to name."""
    if not isinstance(journal, list):
        return journal
    return [
        {"name": call.get("name"), "arguments": call.get("arguments") or {}}
        if isinstance(call, dict)
        else call
        for call in journal
    ]


def _steps(calls: Mapping[Key, list[dict[str, Any]]]) -> dict[str, Any]:
    by_step: dict[str, dict[int | None, list[dict[str, Any]]]] = {}
    for (step, index, _), replies in sorted(calls.items(), key=_order):
        by_step.setdefault(step, {})[index] = replies
    steps: dict[str, Any] = {}
    for step, scripts in by_step.items():
        items = {index: replies for index, replies in scripts.items() if index is not None}
        if not items:
            steps[step] = scripts[None]
            continue
        steps[step] = {"items": items}
        if None in scripts:
            steps[step]["default"] = scripts[None]
    return steps


def _order(entry: tuple[Key, Any]) -> tuple[str, int]:
    (step, index, _), _ = entry
    return step, -1 if index is None else index


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
