"""The loader's tag resolution (cached, and screened by first character) is YAML's own."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from agnoctl.spec.loader import make_loader

BASES = [yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)]
# Scalars that YAML reads as null, booleans, numbers, timestamps, merge keys and values,
# mixed with arbitrary text, so both resolved and screened values are drawn.
TYPED = st.sampled_from(
    [
        "",
        "~",
        "null",
        "Null",
        "yes",
        "No",
        "on",
        "OFF",
        "true",
        "False",
        "0",
        "-1",
        "+0x1F",
        "0o17",
        "1_000",
        "3.5",
        ".inf",
        "-.INF",
        ".nan",
        "1e3",
        "190:20:30",
        "2026-11-26",
        "2026-11-26 09:00:00",
        "<<",
        "=",
        "agent",
        "s12",
    ]
)
VALUES = st.one_of(TYPED, st.text(max_size=12), st.builds(str.__add__, TYPED, st.text(max_size=3)))


@pytest.mark.parametrize("base", BASES, ids=lambda base: base.__name__)
@settings(max_examples=300, deadline=None)
@given(value=VALUES, implicit=st.tuples(st.booleans(), st.booleans()))
def test_scalar_tags_are_the_base_resolvers(
    base: type[yaml.SafeLoader], value: str, implicit: tuple[bool, bool]
) -> None:
    cached = make_loader(base)("")
    plain = base("")
    expected = plain.resolve(yaml.ScalarNode, value, implicit)  # type: ignore[no-untyped-call]
    assert cached.resolve(yaml.ScalarNode, value, implicit) == expected
    assert cached.resolve(yaml.ScalarNode, value, implicit) == expected  # from the cache


def test_collections_get_the_default_tags() -> None:
    cached = make_loader(yaml.SafeLoader)("")
    assert cached.resolve(yaml.MappingNode, None, (True, False)) == "tag:yaml.org,2002:map"
    assert cached.resolve(yaml.SequenceNode, None, (True, False)) == "tag:yaml.org,2002:seq"
