"""Webhooks (``notify:`` in the workflow): tell other systems how a run went.

After the report is written, each URL of the matching list receives one JSON POST:

- ``on_failure`` when the run failed or was interrupted, ``on_success`` when it passed;
- ``on_approval`` when it stopped ``waiting`` for an approval step: the body adds a
  Slack-compatible ``text`` (what waits, and the command that approves it) and
  ``approvals`` (each step's message and its approve / reject commands);
- ``on_budget_warning`` once per limit whose use crossed its warning share during the run
  (each ``budget_warning`` event), with the limit, its value and the use.

The body is the run's summary: ``event``, ``run_id``, ``workflow``, ``status``, ``reason``,
``exit_code``, ``duration_s``, ``calls``, ``tokens``, ``cost_usd``, ``failed_steps`` (path and
error), ``report`` (the path of report.json) and, for a budget warning, ``budget``. The
serialised body passes through the run's redactor, so no secret leaves in it. An
``X-Agnoctl-Delivery`` header (``<run id>:<event>[:<n>]``) is the same on every try of one
delivery, so a receiver can drop a duplicate when a reply was lost and the POST was retried.

A delivery is retried on connection errors, timeouts and HTTP 408/409/429/5xx, with the
engine's backoff (``Retry-After`` respected, up to 30 s), up to ``RETRY.max_attempts`` tries
in all. A webhook that keeps failing is logged and reported back; it never changes the run's
result. Only a reply's status and headers are read: its body, which says nothing a delivery
needs, could be of any size (compressed, gigabytes once decoded) or never end; and each try
takes at most ``TIMEOUT`` seconds in all, however slowly the receiver answers.
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import anyio

from agnoctl.engine.retry import Backoff, retryable_status
from agnoctl.engine.rundir import JOURNAL, REPORT_FILE
from agnoctl.events import BudgetWarning, Entry, read_events
from agnoctl.log_config import get_logger
from agnoctl.redact import Redactor
from agnoctl.reports.metrics import session_events
from agnoctl.reports.model import RunReport
from agnoctl.spec.models import NotifySpec, RetrySpec
from agnoctl.version import __version__

if TYPE_CHECKING:
    import httpx

NotifyEvent = Literal["failure", "success", "budget_warning", "approval"]
RETRY = RetrySpec(max_attempts=4, initial_delay=0.5, max_delay=8.0)
"""Tries of one delivery and the waits between them."""
TIMEOUT = 10.0
"""Seconds one POST may take."""
MAX_RETRY_AFTER = 30.0
"""Longest wait a receiver's Retry-After may ask for: the command is waiting to exit."""
MAX_FAILED_STEPS = 20


@dataclass(frozen=True, slots=True)
class Message:
    """One POST to send: which event, where, and the body."""

    event: NotifyEvent
    url: str
    delivery: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one POST went."""

    event: NotifyEvent
    url: str
    delivered: bool
    attempts: int
    error: str | None = None


def messages(
    notify: NotifySpec,
    report: RunReport,
    run_dir: Path,
    events: Iterable[Entry] = (),
) -> list[Message]:
    """Every POST the run calls for, in order: budget warnings first, then the outcome."""
    summary = _summary(report, run_dir)
    found: list[Message] = []
    own = session_events(events, report.run_id)
    warnings = [entry.event for entry in own if isinstance(entry.event, BudgetWarning)]
    for n, warning in enumerate(warnings, start=1):
        budget = {"limit": warning.limit, "value": warning.value, "used": warning.used}
        for url in notify.on_budget_warning:
            body = summary | {"event": "budget_warning", "budget": budget}
            found.append(
                Message("budget_warning", url, f"{report.run_id}:budget_warning:{n}", body)
            )
    if report.status == "waiting":  # neither passed nor failed: a person is to decide
        body = summary | _approval_needed(report)
        # Each segment that stops waiting asks anew (another step, or the same one again).
        delivery = f"{report.run_id}:approval:{len(report.segments)}"
        for url in notify.on_approval:
            found.append(Message("approval", url, delivery, body))
        return found
    outcome: NotifyEvent = "success" if report.status == "passed" else "failure"
    urls = notify.on_success if outcome == "success" else notify.on_failure
    for url in urls:
        found.append(
            Message(outcome, url, f"{report.run_id}:{outcome}", summary | {"event": outcome})
        )
    return found


def _approval_needed(report: RunReport) -> dict[str, Any]:
    """What waits, for people: a Slack-compatible `text` (Slack, Mattermost and Teams
    incoming webhooks show it), and each approval with the commands that decide it."""
    waiting = [a for a in report.approvals if a.waiting]
    lines = [f"agnoctl: {report.workflow.name} is waiting for approval (run {report.run_id})"]
    for approval in waiting:
        lines.append(f"- {approval.step}: approve with `{approval.approve}`")
    return {
        "event": "approval",
        "text": "\n".join(lines),
        "approvals": [
            {"step": a.step, "message": a.message, "approve": a.approve, "reject": a.reject}
            for a in waiting
        ],
    }


def _summary(report: RunReport, run_dir: Path) -> dict[str, Any]:
    failed = [step for step in report.all_steps() if step.status == "failed"]
    total = report.cost.total
    return {
        "run_id": report.run_id,
        "workflow": report.workflow.name,
        "status": report.status,
        "reason": report.reason,
        "exit_code": report.exit_code,
        "duration_s": round(report.duration_ms / 1000, 3),
        "calls": total.calls,
        "tokens": total.tokens,
        "cost_usd": total.cost_usd,
        "failed_steps": [
            {"path": step.path, "error": step.error.message if step.error else None}
            for step in failed[:MAX_FAILED_STEPS]
        ],
        "report": str(run_dir / REPORT_FILE),
    }


Post: TypeAlias = "Callable[[str, bytes, Mapping[str, str]], Awaitable[httpx.Response]]"


async def notify_run(
    notify: NotifySpec, report: RunReport, run_dir: Path, redactor: Redactor
) -> list[Delivery]:
    """What the session sends after the report files: what the workflow's ``notify`` asks for."""
    journal = run_dir / JOURNAL
    events = list(read_events(journal)) if journal.is_file() else []
    return await send(notify, report, run_dir, events=events, redactor=redactor)


async def send(
    notify: NotifySpec,
    report: RunReport,
    run_dir: Path,
    *,
    events: Iterable[Entry] = (),
    redactor: Redactor | None = None,
    rng: random.Random | None = None,
    post: Post | None = None,
) -> list[Delivery]:
    """POST every message the run calls for; each delivery is tried until it lands or gives up."""
    found = messages(notify, report, run_dir, events)
    if not found:
        return []
    backoff = Backoff(RETRY, rng or random.Random())
    clean = redactor or Redactor.from_environment()
    if post is not None:
        return [await _deliver(m, post, backoff, clean) for m in found]
    # Only a run with webhooks to send needs an HTTP client: one without never loads httpx.
    import httpx

    async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client:

        async def via_client(url: str, body: bytes, headers: Mapping[str, str]) -> httpx.Response:
            request = client.build_request("POST", url, content=body, headers=dict(headers))
            response = await client.send(request, stream=True)
            await response.aclose()  # closed unread: the status and headers are what counts
            return response

        return [await _deliver(m, via_client, backoff, clean) for m in found]


async def _deliver(message: Message, post: Post, backoff: Backoff, redactor: Redactor) -> Delivery:
    import httpx  # a delivery's errors are httpx's (see send)

    body = redactor.redact(json.dumps(message.body, ensure_ascii=False, default=str)).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"agnoctl/{__version__}",
        "X-Agnoctl-Delivery": message.delivery,
        "X-Agnoctl-Event": message.event,
    }
    log = get_logger(run_id=message.body["run_id"], webhook=_where(message.url))
    error = "not sent"
    for attempt in range(1, RETRY.max_attempts + 1):
        retry_after: float | None = None
        try:
            # httpx bounds each wait for the receiver's next bytes, not the whole try: a
            # receiver sending a byte now and then would keep the command from ending.
            with anyio.fail_after(TIMEOUT):
                response = await post(message.url, body, headers)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            retryable = isinstance(exc, httpx.TransportError)
        except TimeoutError:
            error, retryable = f"no answer within {TIMEOUT:g}s", True
        else:
            if response.is_success:
                log.info("webhook_delivered", notify_event=message.event, attempt=attempt)
                return Delivery(message.event, message.url, True, attempt)
            error = f"HTTP {response.status_code}"
            retryable = retryable_status(response.status_code)
            retry_after = _retry_after(response)
        if not retryable or attempt == RETRY.max_attempts:
            log.warning("webhook_failed", notify_event=message.event, attempt=attempt, error=error)
            return Delivery(message.event, message.url, False, attempt, redactor.redact(error))
        await anyio.sleep(backoff.delay(attempt - 1, retry_after))
    raise AssertionError("unreachable: the last attempt returns")


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return min(float(response.headers.get("retry-after", "")), MAX_RETRY_AFTER)
    except ValueError:
        return None


def _where(url: str) -> str:
    """Scheme, host and port only: a webhook's path often is its secret (Slack, Teams)."""
    import httpx  # its URL parser, as the client reads the URL (see send)

    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


__all__ = [
    "RETRY",
    "TIMEOUT",
    "Delivery",
    "Message",
    "NotifyEvent",
    "messages",
    "notify_run",
    "send",
]
