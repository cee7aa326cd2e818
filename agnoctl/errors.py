"""Every error agnoctl raises, in one tree.

    AgnoctlError
    ├── SpecError                 the workflow file is wrong; always carries file:line:col
    │   └── SpecInvalid           validation found problems; carries every Diagnostic
    ├── UsageError                the command line is wrong (bad -i value, unknown run id, ...)
    │   └── CacheDamaged          the response cache's database cannot be read
    ├── ProviderError             a model call failed; says which provider/model
    │   ├── TransientProviderError    worth retrying: 408/409/429/5xx, timeouts, resets,
    │   │   │                         malformed replies; may carry retry_after (seconds)
    │   │   ├── RateLimited
    │   │   ├── ProviderUnavailable
    │   │   ├── ProviderTimeout
    │   │   ├── ConnectionFailed
    │   │   └── MalformedResponse
    │   ├── PermanentProviderError    retrying cannot help: other 4xx
    │   │   ├── AuthenticationFailed  401/403; names the environment variable to set
    │   │   ├── BadRequest
    │   │   ├── QuotaExhausted        a used-up quota or credit (a 429, retried as one)
    │   │   └── RetryAfterTooLong     the provider asked to wait past MAX_RETRY_AFTER
    │   └── CircuitOpen               the provider's breaker is open: fail fast, try fallbacks
    ├── StepFailed                a step's own work failed (command exit code, template, tool)
    │   ├── OutputInvalid         structured output does not parse or validate (retried)
    │   └── ToolServerFailed      an MCP server would not start, crashed or stopped answering
    ├── CacheMiss                 --cache-only and no cached reply for a step
    ├── RunLocked                 another process writes this run directory
    ├── RunDirUnwritable          a run file could not be written (a full disk): the run stopped,
    │                             resumable; also an OSError (exit 1)
    └── NothingToResume           --resume of a run whose journal recorded its end: passed
                                  and unchanged (exit 0), or its lost reports made again
                                  (the run's exit code)

A message says what happened, the likely cause and what to do. Only ``cli.py`` turns these
into exit codes and terminal output; the library never prints. ``ExitCode`` is the one list
of the codes (SPEC "Exit codes"): a run's report carries its own, the command line the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal

Severity = Literal["error", "warning"]


class ExitCode(IntEnum):
    """What the process tells its caller (a CI step): SPEC "Exit codes"."""

    PASSED = 0
    FAILED = 1
    """The run failed (a step, a gate, a threshold, a limit), or a write the system refused."""
    USAGE = 2
    """An invalid workflow or command line."""
    WAITING = 75
    """The run stopped for a person's decision (an `approval:` step): sysexits' EX_TEMPFAIL,
    "try again later", with `--resume latest --approve STEP` (or `--reject STEP`)."""
    INTERRUPTED = 130


class AgnoctlError(Exception):
    """Base of every error agnoctl raises on purpose."""


class SpecError(AgnoctlError):
    """The workflow file cannot be used; points at ``file:line:col``."""

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int = 1,
        col: int = 1,
        code: str = "E000",
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.col = col
        self.code = code
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.col}: {self.code} {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a workflow file, at ``file:line:col``: what ``SpecInvalid``
    carries (every one found), and what ``agnoctl.spec.diagnostics`` prints."""

    file: str
    line: int
    col: int
    severity: Severity
    code: str
    message: str
    hint: str | None = None

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.col, self.code)


class SpecInvalid(AgnoctlError):
    """Validation found at least one error; ``diagnostics`` holds every problem found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        errors = [d for d in diagnostics if d.severity == "error"]
        super().__init__(f"the workflow has {len(errors)} error(s)")


class UsageError(AgnoctlError):
    """The command line or its inputs are wrong."""


class CacheDamaged(UsageError):
    """The response cache's database cannot be read (garbage written over it, cut short).

    A cache is disposable: a run passes over it (``--cache-only`` cannot), and ``agnoctl
    cache clear`` deletes it. ``reason`` is SQLite's ("file is not a database").
    """

    def __init__(self, directory: str, reason: str) -> None:
        super().__init__(
            f"the response cache {directory} cannot be read ({reason}): "
            f"`agnoctl cache clear --cache-dir {directory}` deletes it"
        )
        self.directory = directory
        self.reason = reason


class ProviderError(AgnoctlError):
    """A model call failed."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        model: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.model = model
        self.status = status
        self.retry_after = retry_after

    @property
    def kind(self) -> str:
        """Stable short name for reports and events (``rate_limited``, ``timeout``, ...)."""
        return _KINDS.get(type(self), "provider_error")


class TransientProviderError(ProviderError):
    retryable = True


class RateLimited(TransientProviderError):
    pass


class ProviderUnavailable(TransientProviderError):
    pass


class ProviderTimeout(TransientProviderError):
    pass


class ConnectionFailed(TransientProviderError):
    pass


class MalformedResponse(TransientProviderError):
    # The tokens the reply reported (``Usage``'s input, output, cache read and cache write),
    # when it was read that far: the server answered and bills them, whatever is wrong with
    # the rest of it.
    tokens: tuple[int, int, int, int] | None = None


class PermanentProviderError(ProviderError):
    pass


class AuthenticationFailed(PermanentProviderError):
    pass


class BadRequest(PermanentProviderError):
    pass


class QuotaExhausted(PermanentProviderError):
    """The account's quota or credit is used up (OpenAI's ``insufficient_quota``). It comes as
    a 429, which SPEC retries, and it is; what sets it apart is its message (the key's plan
    and billing, not a rate to slow down to), and that it neither trips the breaker nor
    narrows the provider's window."""


MAX_RETRY_AFTER = 3600.0
"""Longest wait a provider may ask for; beyond it the attempt fails (RetryAfterTooLong)."""


class RetryAfterTooLong(PermanentProviderError):
    """The provider asked to wait longer than agnoctl ever waits: for a retry, or (a pause of
    the whole provider) before any new call."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the provider asked to wait {seconds:.0f} s before it takes another call, more "
            f"than the {MAX_RETRY_AFTER:.0f} s agnoctl waits at most; try again later or use "
            "a fallback model"
        )
        self.requested_wait = seconds


class CircuitOpen(ProviderError):
    pass


_KINDS: dict[type[ProviderError], str] = {
    RateLimited: "rate_limited",
    ProviderUnavailable: "unavailable",
    ProviderTimeout: "timeout",
    ConnectionFailed: "connection_error",
    MalformedResponse: "malformed_response",
    AuthenticationFailed: "auth",
    BadRequest: "bad_request",
    QuotaExhausted: "quota_exhausted",
    CircuitOpen: "circuit_open",
}


class StepFailed(AgnoctlError):
    """A step's own work failed; ``retryable`` says whether another attempt may help."""

    def __init__(self, message: str, *, kind: str = "step_error", retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.retryable = retryable


class OutputInvalid(StepFailed):
    """A reply's structured output does not parse or validate against its schema.

    SPEC counts it as a malformed reply, so it is retried; ``errors`` holds the validation
    messages, which the retry appends to the prompt.
    """

    def __init__(self, message: str, *, errors: tuple[str, ...] = ()) -> None:
        super().__init__(message, kind="output_invalid", retryable=True)
        self.errors = errors


class ToolServerFailed(StepFailed):
    """An MCP server the step's agent uses would not start, crashed, or did not answer a call
    in time: the attempt fails (retried when ``retryable``), since the model cannot act on a
    tool that is not there."""


class CacheMiss(AgnoctlError):
    """``--cache-only`` found no cached reply."""


class RunLocked(AgnoctlError):
    """Another agnoctl process holds the run directory."""


class RunDirUnwritable(AgnoctlError, OSError):
    """A write to the run directory failed (a full disk, a quota): the run stopped at once.

    What was written stays valid (the journal up to the failed write, the last checkpoint), so
    ``--resume`` carries on once there is room; the message says so. It is an OSError too: the
    command line ends it as it ends any write the system refused (one line, exit 1).
    """


class NothingToResume(AgnoctlError):
    """``--resume`` named a run whose journal recorded its end and nothing it depends on
    changed: it passed, or its report files were lost and have just been made again from the
    journal and report.json. ``exit_code`` is that run's (0 for one that passed)."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.PASSED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def kind_of(value: Any) -> str:
    """`value` named as a workflow's author knows values (YAML's and JSON's kinds, not Python
    types): `null (an empty value)`, `a number (42)`, `a string ('abc')`, `a list`..."""
    if value is None:
        return "null (an empty value)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
