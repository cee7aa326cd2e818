"""A listener of some event types (``Subscription``) is told of those alone, masked as every
listener is."""

from __future__ import annotations

from pathlib import Path

from agnoctl.events import (
    Entry,
    EventSink,
    Failed,
    ItemStarted,
    LlmCall,
    SegmentStarted,
    StepFailed,
    Subscription,
    Succeeded,
)


def test_a_subscription_is_told_of_its_types_and_their_subclasses(tmp_path: Path) -> None:
    every: list[Entry] = []
    some: list[Entry] = []
    sink = EventSink(
        tmp_path / "events.jsonl",
        "run",
        redact=lambda text: text.replace("s3cret", "***"),
        mask=lambda entry: entry.masked(
            lambda value: value.replace("s3cret", "***") if isinstance(value, str) else value
        ),
        listeners=(every.append, Subscription((Succeeded, Failed), some.append)),
    )
    sink.emit(ItemStarted(step="fan", item=0))
    sink.emit(
        LlmCall(
            step="fan", item=0, attempt=1, purpose="task", provider="p", model="m", duration_ms=1.0
        )
    )
    sink.emit(StepFailed(step="fan", error="key s3cret refused", kind="auth"))
    sink.emit(ItemStarted(step="fan", item=1))
    sink.close()
    assert [type(entry.event).__name__ for entry in every] == [
        "ItemStarted",
        "LlmCall",
        "StepFailed",
        "ItemStarted",
    ]
    [failed] = some
    assert isinstance(failed.event, StepFailed) and failed.event.error == "key *** refused"
    assert failed.seq == 3


def test_a_subscription_called_directly_passes_over_other_types() -> None:
    told: list[Entry] = []
    listener = Subscription((SegmentStarted,), told.append)
    listener(Entry(1, "", "run", ItemStarted(step="fan", item=0)))
    assert told == []
