"""Masks secret values (API keys, tokens, passwords) wherever text leaves the process.

A ``Redactor`` holds the secrets of a run (provider ``api_key`` values, secrets found in the
environment) and replaces each occurrence with ``***`` in a string or in any JSON-like structure
(dicts, lists, tuples; keys too). Events, logs, reports and the cache go through it.

One compiled alternation of the escaped secrets does the work, longest first so a secret that
contains another is masked whole. Each secret is also matched in its JSON-escaped and
URL-encoded spellings, the forms it takes inside a serialised body or a URL. Values shorter
than ``MIN_SECRET_LENGTH`` are ignored: masking ``"1"`` or ``"true"`` everywhere would wreck
every output while protecting nothing.

Masking must come before any cut: a secret split by a cut is no longer a secret the redactor
can find, and the part left on the kept side would leak as it is. ``head`` and ``tail`` are
the one way text is shortened before it leaves the process: they mask first, cut, and drop
a cut edge that is the beginning (or end) of a secret, the piece of a secret that an earlier
cut (a byte-bounded capture of a process's output) had already split off. They use the
redactor of the run in progress (``masking``), or outside a run one for the environment's
secrets.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

MASK = "***"
MIN_SECRET_LENGTH = 6
# Environment variables whose values are secrets by their name: OPENAI_API_KEY, GITHUB_TOKEN,
# AWS_SECRET_ACCESS_KEY, DB_PASSWORD, ... Whole words only, so GIT_AUTHOR_NAME stays visible.
SECRET_NAME = re.compile(
    r"(?:^|_)(?:KEY|APIKEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|AUTH)(?:_|$)",
    re.IGNORECASE,
)

T = TypeVar("T")


def strings_in(value: object) -> Iterator[str]:
    """Every string of a JSON-like ``value``: itself, or its items', keys included."""
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, str):
            yield current
        elif isinstance(current, dict):
            pending.extend(current.keys())
            pending.extend(current.values())
        elif isinstance(current, list | tuple):
            pending.extend(current)


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

    def including(self, *secrets: str | None) -> Redactor:
        """A redactor for these secrets as well as this one's."""
        wider = Redactor()
        wider._secrets, wider._pattern = set(self._secrets), self._pattern
        wider.add(*secrets)
        return wider

    def __bool__(self) -> bool:
        return self._pattern is not None

    @property
    def escapes(self) -> bool:
        """Whether JSON escapes some spelling of a secret (a secret with a quote, a backslash,
        a control or a non-ASCII character): a text holding that spelling is serialised with
        one escape more, which may be past the spellings known, so a serialised line left
        alone does not show that the text held no secret."""
        return any(json.dumps(s, ensure_ascii=False)[1:-1] != s for s in self._secrets)

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def head(self, text: str, limit: int, *, cut: bool = False) -> tuple[str, bool]:
        """The start of ``text``, masked, in at most ``limit`` characters; and whether it was cut.

        A cut end that is the beginning of a secret is dropped too. ``cut`` says ``text`` is
        already the start of a longer text (a bounded read), so its end is a cut end.
        """
        masked = self.redact(text)
        if not cut and len(masked) <= limit:
            return masked, False
        shown = masked[:limit]
        return shown[: len(shown) - self._open_end(shown)], True

    def tail(self, text: str, limit: int, *, cut: bool = False) -> tuple[str, bool]:
        """The end of ``text``, masked, in at most ``limit`` characters; and whether it was cut.

        A cut start that is the end of a secret is dropped too. ``cut`` says ``text`` is
        already the end of a longer text (the tail of a process's stderr).
        """
        masked = self.redact(text)
        if not cut and len(masked) <= limit:
            return masked, False
        shown = masked[len(masked) - limit :] if limit > 0 else ""
        return shown[self._open_start(shown) :], True

    def _open_end(self, text: str) -> int:
        """How many characters at the end of ``text`` begin a secret (the longest match)."""
        return max((_overlap(text, secret) for secret in self._secrets), default=0)

    def _open_start(self, text: str) -> int:
        """How many characters at the start of ``text`` end a secret (the longest match)."""
        reversed_text = text[::-1]
        return max((_overlap(reversed_text, s[::-1]) for s in self._secrets), default=0)

    def holds_secret(self, value: object) -> bool:
        """Whether a string of a JSON-like ``value`` (keys included) holds a secret: its
        masked copy is not the value."""
        pattern = self._pattern
        return pattern is not None and any(map(pattern.search, strings_in(value)))

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


_ACTIVE: ContextVar[Redactor | None] = ContextVar("agnoctl_redactor", default=None)


@contextmanager
def masking(redactor: Redactor) -> Iterator[None]:
    """Make ``redactor`` the one ``active`` returns for the code run inside (a run)."""
    token = _ACTIVE.set(redactor)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active() -> Redactor:
    """The redactor of the run in progress, or outside a run one for the environment's secrets."""
    current = _ACTIVE.get()
    return Redactor.from_environment() if current is None else current


def head(text: str, limit: int, *, cut: bool = False) -> tuple[str, bool]:
    """``Redactor.head`` with the ``active`` redactor."""
    return active().head(text, limit, cut=cut)


def tail(text: str, limit: int, *, cut: bool = False) -> tuple[str, bool]:
    """``Redactor.tail`` with the ``active`` redactor."""
    return active().tail(text, limit, cut=cut)


def _overlap(text: str, secret: str) -> int:
    """The length of the longest beginning of ``secret`` that ``text`` ends with."""
    for size in range(min(len(secret), len(text)), 0, -1):
        if text.endswith(secret[:size]):
            return size
    return 0


def _spellings(secret: str) -> set[str]:
    # JSON escapes character by character, so a secret inside a serialised string is one of
    # these: ASCII-only (json's default) or with its other characters as they are (orjson,
    # the journal's encoder). Escaped twice too: a command that prints JSON holding the
    # secret gives an output that a journal line or a report escapes again.
    escaped = {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    twice = {
        json.dumps(form, ensure_ascii=only)[1:-1] for form in escaped for only in (True, False)
    }
    return {secret, *escaped, *twice, quote(secret, safe="")}
