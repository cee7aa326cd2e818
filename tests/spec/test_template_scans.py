"""What goes through a whole value in one operation spends its size from a render's work:
`x in xs` and `x is in(xs)`, a method of a text or a list, a filter that does not iterate in
Python. Each is one expression where it runs, yet as slow as a loop over the value, so a loop
that runs one over a large list on each turn is as slow as two nested loops (it used to take
23 s at 30,000 items, inside the budget). The budget is made small here, except in the last
test, so each case ends in milliseconds."""

from __future__ import annotations

from typing import Any

import pytest

from agnoctl.spec import sandbox
from agnoctl.spec.template_bounds import TemplateError
from agnoctl.spec.templates import render

BUDGET = 10_000
SAYS = f"the template ran past {BUDGET:,} steps of work in one render"
LARGE = list(range(100 * sandbox.SCANNED_ITEMS))  # a scan of it spends 101
TEXT = "ab" * 50 * sandbox.SCANNED_ITEMS  # 100 * SCANNED_ITEMS characters: 101 as well
TURNS = 200  # 200 turns of a scan of LARGE pass the budget; of a small value, they do not


@pytest.fixture(autouse=True)
def small_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "MAX_TEMPLATE_WORK", BUDGET)


def looped(body: str) -> str:
    return "{% for i in range(turns) %}" + body + "{% endfor %}done"


@pytest.mark.parametrize(
    "body",
    [
        "{% if -1 in xs %}{% endif %}",
        "{% if -1 not in xs %}{% endif %}",
        "{% if -1 is in(xs) %}{% endif %}",
        "{{ xs.count(-1) }}",
        "{{ xs.index(0) }}",
        "{{ text.count('z') }}",
        "{{ text.find('z') }}",
        "{{ 'z' in text }}",
        "{{ text | replace('z', 'y') | length }}",
        "{{ text | upper | length }}",
    ],
)
def test_a_scan_in_a_loop_spends_the_size_of_what_it_goes_through(body: str) -> None:
    small: dict[str, Any] = {"turns": TURNS, "xs": LARGE[:3], "text": TEXT[:3]}
    assert render(looped(body), small).endswith("done")
    with pytest.raises(TemplateError, match=SAYS):
        render(looped(body), {"turns": TURNS, "xs": LARGE, "text": TEXT})


@pytest.mark.parametrize(
    "body",
    [
        "{{ xs | length }}{{ xs | first }}{{ xs | last }}",
        "{{ text.startswith('a') }}{{ text.endswith('b') }}",
        "{% if 1 in table %}{% endif %}{{ table.get(1) }}",
    ],
)
def test_what_does_not_go_through_the_value_spends_no_more_for_a_large_one(body: str) -> None:
    table = dict.fromkeys(LARGE)
    data = {"turns": TURNS, "xs": LARGE, "text": TEXT, "table": table}
    assert render(looped(body), data).endswith("done")


def test_a_scan_that_runs_once_spends_nothing() -> None:
    """A template that runs no code again has no budget: each operation in it runs once."""
    many = list(range(BUDGET * sandbox.SCANNED_ITEMS * 4))
    assert render("{{ -1 in xs }} {{ xs.count(3) }}", {"xs": many}) == "False 1"


def test_the_loop_that_took_23_seconds_fails_with_the_budget_it_has(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox, "MAX_TEMPLATE_WORK", 10_000_000)
    with pytest.raises(TemplateError, match="ran past 10,000,000 steps of work"):
        render(
            "{% for a in xs %}{% if -1 in xs %}{% endif %}{% endfor %}",
            {"xs": list(range(30_000))},
        )
