"""Masks secret values (API keys, tokens, passwords) wherever text leaves the process.

A ``Redactor`` holds the secrets of a run (provider ``api_key`` values, secrets found in the
environment) and replaces each occurrence with ``***`` in a string or in any JSON-like structure
(dicts, lists, tuples; keys too). Events, logs, reports and the cache go through it.

One compiled alternation of the escaped secrets does the work, longest first so a secret that
contains another is masked whole. Each secret is also matched in its JSON-escaped and
URL-encoded spellings, the forms it takes inside a serialised body or a URL. Values shorter
than ``MIN_SECRET_LENGTH`` are ignored: masking ``"1"`` or ``"true"`` everywhere would wreck
every output while protecting nothing.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

MASK = "***"
MIN_SECRET_LENGTH = 6
# Environment variables whose values are secrets by their name: OPENAI_API_KEY, GITHUB_TOKEN,
# AWS_SECRET_ACCESS_KEY, DB_PASSWORD, ... Whole words only, so GIT_AUTHOR_NAME stays visible.
SECRET_NAME = re.compile(
    r"(?:^|_)(?:KEY|APIKEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|AUTH)(?:_|$)",
    re.IGNORECASE,
)

T = TypeVar("T")


class Redactor:
    """Replaces every known secret with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, extra: Iterable[str] = ()
    ) -> Redactor:
        """A redactor for the values of every variable named like a secret, plus ``extra``."""
        env = os.environ if environ is None else environ
        found = [value for name, value in env.items() if SECRET_NAME.search(name)]
        return cls([*found, *extra])

    def add(self, *secrets: str | None) -> None:
        """Add secrets (``None`` and short values are ignored)."""
        fresh = {
            form
            for secret in secrets
            if secret and len(secret) >= MIN_SECRET_LENGTH
            for form in _spellings(secret)
        }
        if fresh <= self._secrets:
            return
        self._secrets |= fresh
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def __bool__(self) -> bool:
        return self._pattern is not None

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def redact_obj(self, value: T) -> T:
        """A copy of a JSON-like ``value`` with every string (keys included) redacted."""
        if self._pattern is None:
            return value
        return cast("T", self._walk(value))

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self._walk(k): self._walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self._walk(v) for v in value)
        return value


def _spellings(secret: str) -> set[str]:
    return {secret, json.dumps(secret)[1:-1], quote(secret, safe="")}
