"""A template on one line takes the template reader's short path: it finds exactly the
accesses of the general path."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agnoctl.spec.refs import Access, _dotted, reads

_NAMES = st.sampled_from(["steps.a.output", "inputs.topic", "item", "x.y.z", "true", "none.x"])


@given(st.lists(st.one_of(_NAMES.map(lambda n: "{{ " + n + " }}"), st.just(" text ")), max_size=6))
def test_one_line_templates_give_the_accesses_of_the_general_path(parts: list[str]) -> None:
    template = "".join(parts)
    found = reads.__wrapped__(template, False).accesses
    # The same template on two lines goes through the general path (line numbers aside).
    general = reads.__wrapped__(template + "\n", False).accesses
    assert found == general
    assert all(type(access) is Access for access in found)
    for access in found:
        assert access == _dotted(access.text if access.keys else access.root, 1)
