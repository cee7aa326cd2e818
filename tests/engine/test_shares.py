"""Success shares: rounded half up to two decimals before comparison, exactly as SPEC."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agnoctl.engine.shares import meets, share, share_text


@pytest.mark.parametrize(
    ("succeeded", "total", "expected"),
    [
        (2, 3, 0.67),
        (1, 3, 0.33),
        (0, 0, 1.0),
        (1, 1, 1.0),
        (0, 1, 0.0),
        (1, 8, 0.13),  # 0.125: Python's round() gives 0.12
        (3, 8, 0.38),
        (5, 8, 0.63),
        (7, 8, 0.88),
        (1, 200, 0.01),  # 0.005
        (199, 200, 1.0),  # 0.995
        (1, 2, 0.5),
    ],
)
def test_share_rounds_half_up(succeeded: int, total: int, expected: float) -> None:
    assert share(succeeded, total) == expected


def test_binary_rounding_would_get_halves_wrong() -> None:
    assert round(1 / 8, 2) == 0.12 and share(1, 8) == 0.13
    assert round(0.005, 2) == 0.01 and round(1.005, 2) == 1.0  # the trap decimal avoids


@pytest.mark.parametrize(
    ("succeeded", "total", "threshold", "passes"),
    [
        (2, 3, 0.67, True),  # SPEC: 2 of 3 is 0.67 and passes 0.67
        (1, 3, 0.67, False),  # SPEC: 1 of 3 is 0.33 and fails it
        (3, 3, 0.67, True),
        (2, 3, 0.68, False),
        (1, 3, 0.33, True),
        (0, 0, 1.0, True),  # nothing to count: an empty for_each passes
        (1, 1, 1.0, True),
        (0, 1, 0.0, True),
        (0, 5, 0.01, False),
        (1, 8, 0.13, True),
        (1, 8, 0.125, True),
        (199, 200, 1.0, False),  # SPEC: 1 means every one, though 0.995 rounds to 1.00
        (199, 200, 0.99, True),
        (200, 200, 1.0, True),
        (99, 100, 1.0, False),
    ],
)
def test_meets(succeeded: int, total: int, threshold: float, passes: bool) -> None:
    assert meets(succeeded, total, threshold) is passes


@pytest.mark.parametrize(
    ("succeeded", "total", "text"),
    [
        (2, 3, "0.67"),
        (3, 3, "1.00"),
        (0, 0, "1.00"),
        (199, 200, "0.995"),
        (2999, 3000, "0.999"),
        (99999, 100000, "0.999"),
    ],
)
def test_share_text_never_reads_one_when_one_failed(succeeded: int, total: int, text: str) -> None:
    assert share_text(succeeded, total) == text


@pytest.mark.parametrize(("succeeded", "total"), [(-1, 3), (4, 3), (0, -1)])
def test_impossible_counts_are_refused(succeeded: int, total: int) -> None:
    with pytest.raises(ValueError, match="cannot take a share"):
        share(succeeded, total)


@given(total=st.integers(1, 10_000), data=st.data())
def test_share_is_the_exact_ratio_rounded_half_up(total: int, data: st.DataObject) -> None:
    succeeded = data.draw(st.integers(0, total))
    exact = Fraction(succeeded, total)
    hundredths = int(exact * 100 + Fraction(1, 2))  # floor(x + 1/2): half up, for x >= 0
    assert share(succeeded, total) == hundredths / 100
    assert meets(succeeded, total, hundredths / 100) is (hundredths < 100 or succeeded == total)
    assert not meets(succeeded, total, (hundredths + 1) / 100)
