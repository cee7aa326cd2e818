"""The cost ledger's tables are the sums of its calls: each call under its step, model, agent
and every tag label."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agnoctl.engine.budget import CostLedger, tag_labels

# Every call of a run is one ledger row's worth of counts: the tables must be the sums of the
# calls, each call under its step, model, agent and every tag label.
TAGS: list[Any] = [None, ["team-a", "x"], {"env": "ci"}]
CALLS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "fan"]),
        st.sampled_from([None, "worker", "judge"]),
        st.sampled_from(["mock/echo", "openai/gpt"]),
        st.sampled_from(range(len(TAGS))),
        st.integers(0, 50),
        st.integers(0, 50),
        st.integers(0, 64).map(lambda eighths: eighths / 8),  # exact in binary: any order sums
        st.integers(0, 1),
        st.integers(0, 1),
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(CALLS)
def test_the_ledgers_tables_are_the_sums_of_its_calls(calls: list[tuple[Any, ...]]) -> None:
    ledger = CostLedger()
    expected: dict[str, dict[str, dict[str, Any]]] = {
        "by_step": {},
        "by_agent": {},
        "by_model": {},
        "by_tag": {},
    }
    total = _totals()
    for step, agent, model, tags, tokens_in, tokens_out, cost, count, hits in calls:
        ledger.add(step, agent, model, TAGS[tags], tokens_in, tokens_out, cost, count, hits)
        names = [("by_step", step), ("by_model", model)]
        names += [("by_agent", agent)] if agent is not None else []
        names += [("by_tag", label) for label in tag_labels(TAGS[tags])]
        for table, name in [*names, ("", "")]:
            row = total if not table else expected[table].setdefault(name, _totals())
            row["calls"] += count
            row["cache_hits"] += hits
            row["tokens_in"] += tokens_in
            row["tokens_out"] += tokens_out
            row["tokens"] += tokens_in + tokens_out
            row["cost_usd"] += cost
    tables = {name: dict(sorted(rows.items())) for name, rows in expected.items()}
    assert ledger.as_dict() == {"total": total, **tables}


def _totals() -> dict[str, Any]:
    return dict.fromkeys(["calls", "cache_hits", "tokens_in", "tokens_out", "tokens"], 0) | {
        "cost_usd": 0.0
    }
