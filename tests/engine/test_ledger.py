"""The cost ledger keeps each call's counts as they come and sums its tables from them, bit for
bit as when it added each call to its row (step, agent, model, tags) at once."""

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


# Costs that are not exact in binary: the sums depend on their order. The ledger used to add
# each call to its row when it was made and to sum the tables from the rows, in the order of
# each row's first call; it keeps the calls and sums later, and must give the same floats.
REAL_CALLS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "fan"]),
        st.sampled_from([None, "worker", "judge"]),
        st.sampled_from(["mock/echo", "openai/gpt"]),
        st.sampled_from(range(len(TAGS))),
        st.floats(0, 1e12, allow_nan=False),  # large: rounding to 6 decimals keeps the last bits
    ),
    max_size=16,
)


@settings(max_examples=200, deadline=None)
@given(REAL_CALLS)
def test_the_ledgers_sums_are_those_of_rows_added_to_call_by_call(
    calls: list[tuple[Any, ...]],
) -> None:
    ledger = CostLedger()
    rows: dict[tuple[Any, ...], list[Any]] = {}  # the rows as they were kept before
    for step, agent, model, tags, cost in calls:
        ledger.add(step, agent, model, TAGS[tags], 1, 2, cost)
        row = rows.setdefault((step, agent, model, tags), [0.0, TAGS[tags]])
        row[0] += cost
    expected: dict[str, dict[str, float]] = {"by_step": {}, "by_agent": {}, "by_model": {}}
    expected["by_tag"] = {}
    total = 0.0
    for (step, agent, model, _), (cost, tags) in rows.items():
        total += cost
        names = [("by_step", step), ("by_model", model)]
        names += [("by_agent", agent)] if agent is not None else []
        names += [("by_tag", label) for label in tag_labels(tags)]
        for table, name in names:
            expected[table][name] = expected[table].get(name, 0.0) + cost
    tables = ledger.as_dict()
    assert tables["total"]["cost_usd"] == round(total, 6)
    for table, sums in expected.items():
        assert {name: row["cost_usd"] for name, row in tables[table].items()} == {
            name: round(value, 6) for name, value in sums.items()
        }


def _totals() -> dict[str, Any]:
    return dict.fromkeys(["calls", "cache_hits", "tokens_in", "tokens_out", "tokens"], 0) | {
        "cost_usd": 0.0
    }
