"""A filter that goes through its value item by item spends those items from the render's
work budget: a loop whose body runs `xs | max` over a large list is as much work as two
nested loops (`range(1000000) | max` in a loop took 0.2 s a turn while spending a few steps,
hours of a blocked event loop within the budget). The budget is made small here."""

from __future__ import annotations

import pytest

from agnoctl.spec import sandbox
from agnoctl.spec.template_bounds import TemplateError
from agnoctl.spec.templates import evaluate, render

BUDGET = 1000
SAYS = f"the template ran past {BUDGET:,} steps of work in one render"


@pytest.fixture(autouse=True)
def small_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "MAX_TEMPLATE_WORK", BUDGET)


@pytest.mark.parametrize(
    "source",
    [
        "{% for i in range(3) %}{{ xs | max }}{% endfor %}",
        "{% for i in range(3) %}{{ xs | map('string') | join }}{% endfor %}",
        "{% for i in range(3) %}{{ xs | sort | first }}{% endfor %}",
        "{% for i in range(3) %}{{ xs | select('odd') | list | length }}{% endfor %}",
        "{% for i in range(3) %}{{ xs | unique | list | length }}{% endfor %}",
    ],
)
def test_a_filter_in_a_loop_spends_the_items_it_goes_through(source: str) -> None:
    with pytest.raises(TemplateError, match=SAYS):
        render(source, {"xs": list(range(400))})
    render(source, {"xs": list(range(40))})


def test_a_filter_without_a_loop_spends_from_a_fresh_budget() -> None:
    """A loopless template with an iterating filter starts its own budget: an earlier render that
    spent nearly all of its own does not fail it."""
    render("{% for i in range(n) %}{% endfor %}", {"n": BUDGET - 5})
    assert render("{{ xs | max }}", {"xs": list(range(BUDGET - 1))}) == str(BUDGET - 2)
    assert evaluate("xs | min", {"xs": list(range(BUDGET - 1))}) == 0
    with pytest.raises(TemplateError, match=SAYS):
        render("{{ xs | max }}", {"xs": list(range(BUDGET + 1))})


def test_a_filter_that_does_not_iterate_spends_nothing_for_its_items() -> None:
    text = "x" * (BUDGET * 2)
    assert render("{% for i in range(3) %}{{ text | length }}{% endfor %}", {"text": text}) == (
        str(BUDGET * 2) * 3
    )
    assert render("{{ text | upper | length }}", {"text": text}) == str(BUDGET * 2)
