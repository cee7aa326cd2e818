"""Scripted replies for the mock provider: the ``--mock-fixtures`` file.

A fixtures file (YAML, or JSON read as YAML) scripts what the ``mock`` provider answers, so
retries, gates and thresholds can be rehearsed offline::

    steps:
      analyse:                       # full step path ("group.child" for nested steps)
        - json: {summary: weak, confidence: 0.5}     # reply to call 1
        - json: {summary: strong, confidence: 0.9}   # call 2; the last reply repeats after that
      collect:
        items:                       # per for_each item index
          1: [{error: {status: 503, message: upstream down}}, {text: recovered}]
        default: {text: "collected"}  # any item not listed (a single reply or a list)
      review.draft: {text: "first draft", delay: 50ms, usage: {input_tokens: 100}}
      summarize:
        attachments:                 # by the name of a file the call attaches (a glob)
          "*/q1-report.pdf": {text: "Q1: revenue up 12%"}
        default: {text: "a summary"}
      analyse#judge: {json: {score: 0.4, reason: too vague}}   # the judge gate of `analyse`
    agents:                          # fallback by agent name, when no step entry matches
      judge: {json: {score: 0.9, reason: clear and complete}}

A reply is exactly one of ``text``, ``json``, ``error`` or ``tool_calls``, plus optional
``delay`` (a duration) and ``usage`` (``input_tokens``, ``output_tokens``; missing counts are
estimated). A reply that is no error may carry ``finish_reason``: one the server gives a reply it
did not finish (``length``, ``model_context_window_exceeded``, ``content_filter``, ``refusal``),
which fails the step as the real reply would. ``error: {status, message?, retry_after?}``
raises: 429 → RateLimited, 408/409/5xx → ProviderUnavailable, 401/403 → AuthenticationFailed,
other 4xx → BadRequest; ``status: timeout`` → ProviderTimeout, ``malformed`` →
MalformedResponse, ``reset`` → ConnectionFailed.
``tool_calls: [{name, arguments}]`` asks for tool calls. Text is used as written (no templates).

Which script answers a call: for a task call, ``steps.<step path>`` (its ``items`` entry for the
call's for_each index, else its first ``attachments`` pattern, in file order, that matches the
name of a file the call attaches (the path as the workflow gave it, or its last part), else its
``default``); for a judge gate's call, ``steps."<step path>#judge"``; then
``agents.<agent name>``. Calls are counted per (step path, item index, purpose) in the order
they arrive, each tool-loop round and each retry included, so call N gets reply N and the last
reply repeats.
"""

from __future__ import annotations

import http
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, NoReturn

from agnoctl import estimate
from agnoctl.errors import (
    AuthenticationFailed,
    BadRequest,
    ConnectionFailed,
    MalformedResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    SpecError,
    UsageError,
)
from agnoctl.providers.base import UNFINISHED, CallContext
from agnoctl.spec.diagnostics import did_you_mean
from agnoctl.spec.loader import SourceMap, load_data_file
from agnoctl.spec.models import parse_duration

_STEP_KEY = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(#judge)?$")
_REPLY_KINDS = ("text", "json", "error", "tool_calls")
_REPLY_KEYS = (*_REPLY_KINDS, "delay", "usage", "finish_reason")
_ENTRY_KEYS = frozenset({"items", "attachments", "default"})  # a step entry that is no reply
_NAMED_ERRORS: dict[str, tuple[type[ProviderError], str]] = {
    "timeout": (ProviderTimeout, "the request timed out"),
    "malformed": (MalformedResponse, "the reply could not be parsed"),
    "reset": (ConnectionFailed, "the connection was reset"),
}

DataPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ScriptedError:
    """An error a reply raises instead of answering."""

    kind: type[ProviderError]
    message: str
    status: int | None = None
    retry_after: float | None = None

    def exception(self, provider: str, model: str) -> ProviderError:
        # A fresh exception per call: raised exceptions carry their own traceback.
        return self.kind(
            self.message,
            provider=provider,
            model=model,
            status=self.status,
            retry_after=self.retry_after,
        )


@dataclass(frozen=True, slots=True)
class FixtureReply:
    """One scripted reply, prepared at load time so answering a call costs almost nothing."""

    text: str = ""
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()  # (tool name, arguments)
    error: ScriptedError | None = None
    delay: float = 0.0  # seconds
    input_tokens: int | None = None  # None: estimated from the request
    output_tokens: int = 0
    finish_reason: str | None = None  # None: the reply ended as replies do


@dataclass(frozen=True, slots=True)
class Script:
    """Replies for consecutive calls; the last one repeats."""

    replies: tuple[FixtureReply, ...]

    def reply(self, call: int) -> FixtureReply:
        """The reply to call number ``call`` (0-based)."""
        replies = self.replies
        return replies[call] if call < len(replies) else replies[-1]


@dataclass(frozen=True, slots=True)
class StepScripts:
    """A step entry: one script per for_each item index, per attachment name pattern, and one
    for everything else."""

    items: Mapping[int, Script] = field(default_factory=dict)
    default: Script | None = None
    attachments: tuple[tuple[str, Script], ...] = ()  # (glob of a file name, script)

    def for_call(self, index: int | None, names: tuple[str, ...] = ()) -> Script | None:
        if index is not None and self.items:
            script = self.items.get(index)
            if script is not None:
                return script
        if names and self.attachments:
            for pattern, script in self.attachments:
                if any(_names_match(pattern, name) for name in names):
                    return script
        return self.default


def _names_match(pattern: str, name: str) -> bool:
    return fnmatchcase(name, pattern) or fnmatchcase(name.rsplit("/", 1)[-1], pattern)


@dataclass(frozen=True, slots=True)
class Fixtures:
    """A parsed fixtures file. Keys of ``steps`` are step paths, ``path#purpose`` for judges."""

    steps: Mapping[str, StepScripts] = field(default_factory=dict)
    agents: Mapping[str, Script] = field(default_factory=dict)
    source: str = "<fixtures>"
    locations: Mapping[str, str] = field(default_factory=dict)  # step key -> file:line:col
    agent_locations: Mapping[str, str] = field(default_factory=dict)  # name -> file:line:col

    def script_for(self, context: CallContext, attachments: tuple[str, ...] = ()) -> Script | None:
        """The script that answers a call from ``context`` that attaches the files named
        ``attachments``, or None (the mock's default)."""
        purpose = context.purpose
        key = context.step_id if purpose == "task" else f"{context.step_id}#{purpose}"
        entry = self.steps.get(key)
        if entry is not None:
            script = entry.for_call(context.index, attachments)
            if script is not None:
                return script
        if context.agent is not None:
            return self.agents.get(context.agent)
        return None

    def unknown_names(
        self, step_paths: Collection[str], judged: Collection[str], agents: Collection[str]
    ) -> list[str]:
        """One message per entry that names what the run lacks (a likely typo), and so would
        never answer a call: a step of none of its ``step_paths``, the judge of a step not
        ``judged`` (one without a judge gate), an agent of none of its ``agents``."""
        messages = []
        for key in self.steps:
            step, judge, _ = key.partition("#")
            where = self.locations.get(key, self.source)
            if step not in step_paths:
                messages.append(
                    _guessed(f"{where}: mock fixtures name step {step!r}", step, step_paths)
                )
            elif judge and step not in judged:
                messages.append(
                    f"{where}: mock fixtures script the judge of step {step!r}, which has no "
                    "judge gate"
                )
        for name in self.agents:
            where = self.agent_locations.get(name, self.source)
            messages.append(_guessed(f"{where}: mock fixtures name agent {name!r}", name, agents))
        return [message for message in messages if message]


def _guessed(message: str, name: str, known: Collection[str]) -> str:
    """``message`` saying the workflow lacks ``name``, with a guess; "" when it has it."""
    if name in known:
        return ""
    guess = did_you_mean(name, known)
    lacks = f"{message}, which the workflow lacks"
    return f"{lacks} (did you mean {guess!r}?)" if guess else lacks


def load_fixtures(path: Path) -> Fixtures:
    """Read a fixtures file under the workflow loader's bounds; a bad file raises UsageError
    pointing at ``file:line:col``."""
    try:
        data, positions = load_data_file(path, "fixtures file")
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    return parse_fixtures(data, source=str(path), positions=positions)


def parse_fixtures(
    data: Any, *, source: str = "<fixtures>", positions: SourceMap | None = None
) -> Fixtures:
    """Fixtures from already-loaded data (for Python callers); ``positions`` locate errors."""
    return _Parser(source, positions).fixtures(data)


# --------------------------------------------------------------------------- parsing


class _Parser:
    def __init__(self, source: str, positions: SourceMap | None) -> None:
        self._source = source
        self._positions = positions

    def where(self, path: DataPath) -> str:
        """``file:line:col`` of the value at ``path`` (a mapping member's: its key)."""
        if self._positions is None:
            return self._source
        line, col = self._positions.key_position(path)
        return f"{self._source}:{line}:{col}"

    def fail(self, path: DataPath, message: str) -> NoReturn:
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        prefix = f"{self.where(path)}: " + (f"{dotted}: " if dotted else "")
        raise UsageError(prefix + message)

    def mapping(self, value: Any, path: DataPath, what: str) -> dict[Any, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"{what} must be a mapping, not {_kind(value)}")
        return value

    def known_keys(self, value: dict[Any, Any], path: DataPath, allowed: tuple[str, ...]) -> None:
        for key in value:
            if key not in allowed:
                guess = did_you_mean(str(key), allowed)
                hint = f"did you mean {guess!r}?" if guess else f"expected {', '.join(allowed)}"
                self.fail((*path, key), f"unknown key {key!r} ({hint})")

    def fixtures(self, data: Any) -> Fixtures:
        if data is None:
            return Fixtures(source=self._source)
        top = self.mapping(data, (), "a fixtures file")
        self.known_keys(top, (), ("steps", "agents"))
        steps: dict[str, StepScripts] = {}
        locations: dict[str, str] = {}
        raw_steps = self.mapping(top.get("steps") or {}, ("steps",), "`steps`")
        for key, entry in raw_steps.items():
            path: DataPath = ("steps", key)
            if not isinstance(key, str) or not _STEP_KEY.match(key):
                self.fail(
                    path,
                    "a step key is a step path such as analyse or group.child, "
                    "optionally with #judge",
                )
            steps[key] = self.step_entry(entry, path)
            locations[key] = self.where(path)
        agents: dict[str, Script] = {}
        agent_locations: dict[str, str] = {}
        raw_agents = self.mapping(top.get("agents") or {}, ("agents",), "`agents`")
        for name, entry in raw_agents.items():
            agents[str(name)] = self.script(entry, ("agents", name))
            agent_locations[str(name)] = self.where(("agents", name))
        return Fixtures(
            steps=steps,
            agents=agents,
            source=self._source,
            locations=locations,
            agent_locations=agent_locations,
        )

    def step_entry(self, entry: Any, path: DataPath) -> StepScripts:
        if not (isinstance(entry, dict) and _ENTRY_KEYS & entry.keys()):
            return StepScripts(default=self.script(entry, path))
        self.known_keys(entry, path, ("items", "attachments", "default"))
        items: dict[int, Script] = {}
        for index, script in self.mapping(
            entry.get("items") or {}, (*path, "items"), "`items`"
        ).items():
            item_path = (*path, "items", index)
            number = int(index) if isinstance(index, str) and index.isdigit() else index
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                self.fail(item_path, "an item key is a for_each index: 0, 1, 2, ...")
            items[number] = self.script(script, item_path)
        default = self.script(entry["default"], (*path, "default")) if "default" in entry else None
        return StepScripts(items, default, self.by_attachment(entry, path))

    def by_attachment(
        self, entry: dict[Any, Any], path: DataPath
    ) -> tuple[tuple[str, Script], ...]:
        where = (*path, "attachments")
        scripts = self.mapping(entry.get("attachments") or {}, where, "`attachments`")
        found = []
        for pattern, script in scripts.items():
            if not isinstance(pattern, str) or not pattern:
                self.fail((*where, pattern), "an attachments key is a file name or a glob of one")
            found.append((pattern, self.script(script, (*where, pattern))))
        return tuple(found)

    def script(self, value: Any, path: DataPath) -> Script:
        if isinstance(value, list):
            if not value:
                self.fail(path, "a list of replies needs at least one reply")
            return Script(tuple(self.reply(v, (*path, i)) for i, v in enumerate(value)))
        return Script((self.reply(value, path),))

    def reply(self, value: Any, path: DataPath) -> FixtureReply:
        reply = self.mapping(value, path, "a reply")
        self.known_keys(reply, path, _REPLY_KEYS)
        kinds = [k for k in _REPLY_KINDS if k in reply]
        if len(kinds) != 1:
            found = " and ".join(kinds) if kinds else "none"
            self.fail(
                path, f"a reply has exactly one of text, json, error, tool_calls (found {found})"
            )
        text = ""
        calls: tuple[tuple[str, dict[str, Any]], ...] = ()
        error = None
        kind = kinds[0]
        if kind == "text":
            text = self.text(reply["text"], (*path, "text"))
        elif kind == "json":
            text = json.dumps(reply["json"], ensure_ascii=False)
        elif kind == "error":
            error = self.error(reply["error"], (*path, "error"))
        else:
            calls = self.tool_calls(reply["tool_calls"], (*path, "tool_calls"))
        input_tokens, output_tokens = self.usage(reply.get("usage"), (*path, "usage"))
        if output_tokens is None:
            output_tokens = estimate.text_tokens(text) + sum(
                estimate.text_tokens(name + json.dumps(args)) for name, args in calls
            )
        return FixtureReply(
            text=text,
            tool_calls=calls,
            error=error,
            delay=self.duration(reply.get("delay", 0), (*path, "delay")),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            finish_reason=self.finish_reason(reply, path),
        )

    def finish_reason(self, reply: dict[Any, Any], path: DataPath) -> str | None:
        """A reply's ``finish_reason``: only one of an unfinished reply is worth scripting (a
        finished reply's is what the mock says anyway), and an error has none."""
        if "finish_reason" not in reply:
            return None
        where = (*path, "finish_reason")
        if "error" in reply:
            self.fail(where, "an error has no finish_reason: the call failed before any reply")
        reason = reply["finish_reason"]
        if not isinstance(reason, str) or reason not in UNFINISHED:
            self.fail(where, f"finish_reason must be one of {', '.join(sorted(UNFINISHED))}")
        return reason

    def text(self, value: Any, path: DataPath) -> str:
        if not isinstance(value, str):
            self.fail(path, f"text must be a string, not {_kind(value)} (quote it)")
        return value

    def duration(self, value: Any, path: DataPath) -> float:
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(path, str(exc))

    def error(self, value: Any, path: DataPath) -> ScriptedError:
        spec = self.mapping(value, path, "`error`")
        self.known_keys(spec, path, ("status", "message", "retry_after"))
        if "status" not in spec:
            self.fail(
                path, "`error` needs a status: an HTTP status code, timeout, malformed or reset"
            )
        status = spec["status"]
        message = spec.get("message")
        if message is not None and not isinstance(message, str):
            self.fail((*path, "message"), f"message must be a string, not {_kind(message)}")
        retry_after = None
        if spec.get("retry_after") is not None:
            retry_after = self.duration(spec["retry_after"], (*path, "retry_after"))
        where = self.where(path)
        if isinstance(status, str) and status in _NAMED_ERRORS:
            kind, default = _NAMED_ERRORS[status]
            text = f"{message or default} (scripted by {where})"
            return ScriptedError(kind, text, retry_after=retry_after)
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            self.fail(
                (*path, "status"),
                "status must be an HTTP error status (400-599), timeout, malformed or reset",
            )
        reason = message or _reason_phrase(status)
        text = f"HTTP {status}: {reason} (scripted by {where})"
        return ScriptedError(_error_for_status(status), text, status, retry_after)

    def tool_calls(self, value: Any, path: DataPath) -> tuple[tuple[str, dict[str, Any]], ...]:
        if not isinstance(value, list) or not value:
            self.fail(path, "tool_calls must be a non-empty list of {name, arguments}")
        calls = []
        for i, raw in enumerate(value):
            call_path = (*path, i)
            call = self.mapping(raw, call_path, "a tool call")
            self.known_keys(call, call_path, ("name", "arguments"))
            name = call.get("name")
            if not isinstance(name, str) or not name:
                self.fail(call_path, "a tool call needs a `name` (the tool to call)")
            arguments = self.mapping(
                call.get("arguments") or {}, (*call_path, "arguments"), "`arguments`"
            )
            calls.append((name, arguments))
        return tuple(calls)

    def usage(self, value: Any, path: DataPath) -> tuple[int | None, int | None]:
        if value is None:
            return None, None
        usage = self.mapping(value, path, "`usage`")
        self.known_keys(usage, path, ("input_tokens", "output_tokens"))
        counts: list[int | None] = []
        for key in ("input_tokens", "output_tokens"):
            count = usage.get(key)
            if count is not None and (
                isinstance(count, bool) or not isinstance(count, int) or count < 0
            ):
                self.fail((*path, key), f"{key} must be a whole number of tokens (0 or more)")
            counts.append(count)
        return counts[0], counts[1]


def _error_for_status(status: int) -> type[ProviderError]:
    if status == 429:
        return RateLimited
    if status in (408, 409) or status >= 500:
        return ProviderUnavailable
    if status in (401, 403):
        return AuthenticationFailed
    return BadRequest


def _reason_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "error"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), f"a {type(value).__name__}")
