"""Token and time estimates made without a tokenizer or a network call.

Planning must answer "how big is this run?" offline and fast, for any model, so it uses a
documented heuristic instead of a model-specific tokenizer (tiktoken and friends know only
some vendors' models and pull in large downloads):

- **Tokens**: about four characters of English text per token (OpenAI's and Anthropic's own
  rule of thumb), rounded up, plus a few tokens of framing per chat message.
- **Output**: a plan counts a call's output at the agent's ``max_tokens`` (the most the call may
  produce), or ``DEFAULT_OUTPUT_TOKENS`` when the agent sets none. Budgets and rate limits,
  which hold a call's worst case before it is sent, reserve ``max_tokens`` or
  ``RESERVED_OUTPUT_TOKENS``: more than the plan's typical reply, so that calls running at once
  rarely overshoot a limit together (see each constant for why they differ).
- **The mock provider** counts the tokens of what it is sent and what it answers by the same
  characters-per-token rule (``chars_tokens``), so offline rehearsals price like the plan.
- **Attachments**: an image counts ``IMAGE_TOKENS``; a PDF ``PDF_TOKENS_PER_KIB`` per KiB of
  file, or ``PDF_TOKENS`` when its size is not known yet (a plan of a templated path). Models
  count images by their pixels and PDFs by their pages' text and pictures, which only the
  provider sees, so these are rough middle figures, not bounds.
- **Time**: a call takes a fixed overhead plus its output tokens at a steady generation speed;
  a command step takes ``COMMAND_SECONDS``. These are rough figures meant for ordering steps
  (the critical path) and for comparing against ``limits.max_duration``, not for scheduling.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

CHARS_PER_TOKEN = 4
"""Characters of text per token: the common rule of thumb for English with BPE tokenizers."""

MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens of framing per chat message (role markers, separators)."""

DEFAULT_OUTPUT_TOKENS = 512
"""Output tokens a plan counts per call when the agent sets no ``max_tokens``: a typical
reply of a few paragraphs, so that an estimate reads as what a run will likely spend."""

RESERVED_OUTPUT_TOKENS = 1024
"""Output tokens a call reserves against budgets and rate limits, before it is sent, when the
agent sets no ``max_tokens``. Twice the plan's typical reply: a reservation is a worst case
that calls running at once must not overshoot together (what the call really used replaces it
when the reply comes), and 1,024 is the reply budget the Anthropic protocol, which requires
one, gets by default."""

JUDGE_FRAME_TOKENS = 140
"""Tokens of a judge call besides its rubric and the output it scores: the fixed judging text
with the markers fencing the output (about 410 characters) and the {score, reason} reply
schema (about 150)."""

IMAGE_TOKENS = 1_000
"""Input tokens of one attached image: between OpenAI's 765 for a 1024x1024 image at high
detail and Anthropic's ~1,600 for the largest image it does not scale down."""

PDF_TOKENS_PER_KIB = 60
"""Input tokens per KiB of an attached PDF: a page of text costs providers about 1,500 to
3,000 tokens (its text, and its picture on vision models), and such a page is about 50 KiB."""

PDF_TOKENS = 3_000
"""Input tokens of an attached PDF whose size is not known: about one page."""

CALL_OVERHEAD_SECONDS = 0.5
"""Latency of one model call before it produces output (network, queueing, prompt reading)."""

OUTPUT_TOKENS_PER_SECOND = 50.0
"""Generation speed assumed for every model."""

COMMAND_SECONDS = 1.0
"""Duration assumed for one run of a command step."""


def chars_tokens(count: int) -> int:
    """Estimated tokens of ``count`` characters of text: ``ceil(count / CHARS_PER_TOKEN)``."""
    return -(-count // CHARS_PER_TOKEN)  # ceil in integers: exact for any count


def text_tokens(text: str) -> int:
    """Estimated tokens of a text."""
    return chars_tokens(len(text))


def json_tokens(value: Any) -> int:
    """Estimated tokens of a value sent as compact JSON (schemas, tool definitions)."""
    return text_tokens(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str))


def messages_tokens(texts: Iterable[str]) -> int:
    """Estimated input tokens of a chat made of these message texts."""
    return sum(text_tokens(text) + MESSAGE_OVERHEAD_TOKENS for text in texts)


def tools_tokens(tools: Mapping[str, Mapping[str, Any]]) -> int:
    """Estimated tokens of tool definitions (name → description and parameters) in a request."""
    return sum(text_tokens(name) + json_tokens(spec) for name, spec in tools.items())


def attachment_tokens(media_type: str, size: int | None = None) -> int:
    """Estimated input tokens of one attached file (``size`` in bytes, None when unknown or a
    URL: the provider fetches it)."""
    if media_type != "application/pdf":
        return IMAGE_TOKENS
    if not size:
        return PDF_TOKENS
    return max(1, -(-size * PDF_TOKENS_PER_KIB // 1024))


def output_tokens(max_tokens: int | None) -> int:
    """Output tokens a plan counts for one call of an agent with this ``max_tokens``."""
    return max_tokens if max_tokens is not None else DEFAULT_OUTPUT_TOKENS


def reserved_output_tokens(max_tokens: int | None) -> int:
    """Output tokens one call with this ``max_tokens`` reserves against budgets and rate
    limits before it is sent."""
    return max_tokens if max_tokens is not None else RESERVED_OUTPUT_TOKENS


def call_seconds(output: int) -> float:
    """Estimated duration of one model call producing ``output`` tokens."""
    return CALL_OVERHEAD_SECONDS + output / OUTPUT_TOKENS_PER_SECOND


__all__ = [
    "CALL_OVERHEAD_SECONDS",
    "CHARS_PER_TOKEN",
    "COMMAND_SECONDS",
    "DEFAULT_OUTPUT_TOKENS",
    "IMAGE_TOKENS",
    "JUDGE_FRAME_TOKENS",
    "MESSAGE_OVERHEAD_TOKENS",
    "OUTPUT_TOKENS_PER_SECOND",
    "PDF_TOKENS",
    "PDF_TOKENS_PER_KIB",
    "RESERVED_OUTPUT_TOKENS",
    "attachment_tokens",
    "call_seconds",
    "chars_tokens",
    "json_tokens",
    "messages_tokens",
    "output_tokens",
    "reserved_output_tokens",
    "text_tokens",
    "tools_tokens",
]
