"""The loader: positions, interpolation, bounds, encodings; on both YAML parsers."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from agnoctl.errors import SpecError
from agnoctl.spec.loader import MAX_FILE_BYTES, SourceMap, load_file, load_text

pytestmark = pytest.mark.usefixtures("parser")


def load(text: str | bytes, **environ: str) -> tuple[object, SourceMap]:
    data, source = load_text(text, "w.yaml", environ)
    return data, source


def error(text: str | bytes, **environ: str) -> SpecError:
    with pytest.raises(SpecError) as caught:
        load_text(text, "w.yaml", environ)
    return caught.value


# ---------------------------------------------------------------------------- source map

DOC = """\
version: 1
steps:
  collect:
    run: [echo, hi]
    gates:
      - {type: length, min: 3}
  report:
    prompt: |
      first line
      second {{ steps.collect.output }}
"""


def test_positions_of_values_and_keys() -> None:
    _, source = load(DOC)
    assert source.position(("version",)) == (1, 10)
    assert source.key_position(("steps", "collect")) == (3, 3)
    assert source.position(("steps", "collect", "run", 1)) == (4, 17)
    assert source.position(("steps", "collect", "gates", 0, "min")) == (6, 29)
    assert source.key_position(("steps", "collect", "gates", 0, "min")) == (6, 24)


def test_a_missing_path_falls_back_to_its_nearest_parent_key() -> None:
    _, source = load(DOC)
    assert source.position(("steps", "collect", "agent")) == (3, 3)
    assert source.position(("steps", "nope", "prompt")) == (2, 1)
    assert source.position(("steps", "collect", "run", 9)) == (4, 5)


def test_text_position_counts_lines_inside_a_block_scalar() -> None:
    _, source = load(DOC)
    path = ("steps", "report", "prompt")
    assert source.text_position(path, 1) == (9, 7)
    assert source.text_position(path, 2, "steps.collect") == (10, 17)


def test_text_position_of_a_quoted_value_is_inside_the_quote() -> None:
    _, source = load("a: 'x {{ y }}'\n")
    assert source.text_position(("a",), 1) == (1, 5)
    assert source.text_position(("a",), 1, "y") == (1, 10)


def test_an_empty_source_map_points_at_the_first_line() -> None:
    assert SourceMap.empty("x").position(("steps", "a")) == (1, 1)


def test_merge_keys_are_followed_for_data_and_positions() -> None:
    data, source = load(
        "base: &base {timeout: 5s, retry: {max_attempts: 2}}\nstep:\n  <<: *base\n  timeout: 9s\n"
    )
    assert data == {
        "base": {"timeout": "5s", "retry": {"max_attempts": 2}},
        "step": {"timeout": "9s", "retry": {"max_attempts": 2}},
    }
    assert source.position(("step", "timeout")) == (4, 12)
    assert source.position(("step", "retry", "max_attempts")) == (1, 49)


# ---------------------------------------------------------------------------- values


def test_keys_stay_as_written_and_dates_stay_text() -> None:
    data, _ = load("on: 1\n2024-01-01: x\nwhen: 2024-01-01\nyes: no\n")
    assert data == {"on": 1, "2024-01-01": "x", "when": "2024-01-01", "yes": False}


def test_interpolation_forms() -> None:
    data, _ = load(
        "a: ${N}\n"
        "b: '${N}'\n"
        "c: ${N}s\n"
        "d: $${N}\n"
        "e: ${UNSET:-}\n"
        "f: ${UNSET:-true}\n"
        "g: ${UNSET:-2.5}\n"
        'h: "${N}"\n'
        "i: ${EMPTY:-fallback}\n"
        "j: cost $5, ${N} items\n",
        N="4",
        EMPTY="",
    )
    assert data == {
        "a": 4,
        "b": "4",
        "c": "4s",
        "d": "${N}",
        "e": "",
        "f": True,
        "g": 2.5,
        "h": "4",
        "i": "fallback",
        "j": "cost $5, 4 items",
    }


def test_keys_are_not_interpolated() -> None:
    data, _ = load("${KEY}: ${VALUE}\n", KEY="k", VALUE="v")
    assert data == {"${KEY}": "v"}


def test_a_set_but_empty_variable_without_default_is_empty() -> None:
    data, _ = load("a: x${EMPTY}y\n", EMPTY="")
    assert data == {"a": "xy"}


def test_a_missing_variable_names_itself_and_its_position() -> None:
    problem = error("a: 1\nb: |\n  line one\n  then ${MISSING_ONE} here\n")
    assert (problem.code, problem.line, problem.col) == ("E117", 4, 8)
    assert "MISSING_ONE" in problem.message


def test_a_malformed_interpolation_is_an_error() -> None:
    problem = error("a: ok\nb: x ${not valid}\n")
    assert (problem.code, problem.line, problem.col) == ("E118", 2, 6)


# ---------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("text", "code", "line", "col"),
    [
        ("", "E107", 1, 1),
        ("# only a comment\n", "E107", 1, 1),
        ("- a\n- b\n", "E108", 1, 1),
        ("plain\n", "E108", 1, 1),
        ("a: 1\n\tb: 2\n", "E105", 2, 1),
        ("a: 1\nb: 'open\nc: 3\n", "E106", 2, 4),
        ('a: "open\n', "E106", 1, 4),
        ("a: 1\na: 2\n", "E110", 2, 1),
        ("m:\n  k: 1\n  k: 1\n", "E110", 3, 3),
        ("a: 1\n---\nb: 2\n", "E109", 2, 1),
        ("a: *nothing\n", "E116", 1, 4),
        ("a: &x [1, *x]\n", "E112", 1, 4),
        ("a: !!binary aGk=\n", "E114", 1, 4),
        ("a: !Ref x\n", "E114", 1, 4),
        ("x: &s [1]\ny:\n  <<: *s\n", "E114", 1, 8),
        ("? [a]\n: 1\n", "E115", 1, 3),
        ("a: \x07\n", "E103", 1, 4),
        ("a: b: c\n", "E104", 1, 5),
    ],
)
def test_one_line_errors_with_positions(text: str, code: str, line: int, col: int) -> None:
    problem = error(text)
    assert (problem.code, problem.line, problem.col) == (code, line, col)
    assert "\n" not in str(problem)
    assert str(problem).startswith(f"w.yaml:{line}:{col}: {code} ")


def test_bytes_must_be_utf8_and_a_bom_is_fine() -> None:
    data, _ = load("\ufeffa: é\n".encode())
    assert data == {"a": "é"}
    problem = error(b"a: 1\nb: caf\xe9\n")
    assert (problem.code, problem.line, problem.col) == ("E102", 2, 7)
    problem = error(b"a: 1\n\x00\x01binary")
    assert (problem.code, problem.line, problem.col) == ("E103", 2, 1)


def test_lone_surrogates_in_text_are_an_error() -> None:
    assert error("a: \ud800\n").code == "E102"


def test_nesting_is_bounded_in_flow_and_block_style() -> None:
    assert error("a: " + "[" * 300 + "]" * 300).code == "E113"
    block = "".join("  " * i + f"k{i}:\n" for i in range(250)) + "  " * 250 + "v\n"
    assert error(block).code == "E113"
    # with an anchor in the file, the bounds pass measures the depth
    assert error("x: &a 1\ny: " + "[" * 300 + "]" * 300).code == "E113"


def _billion_laughs() -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        text += f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
    return text


def test_an_alias_bomb_is_refused_with_bounded_memory() -> None:
    tracemalloc.start()
    try:
        problem = error(_billion_laughs())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problem.code == "E111"
    assert "billion laughs" in (problem.hint or "")
    assert peak < 5 * 1024 * 1024


def test_modest_aliases_are_expanded() -> None:
    data, _ = load("base: &b {x: 1}\nuse: [*b, *b]\n")
    assert data == {"base": {"x": 1}, "use": [{"x": 1}, {"x": 1}]}


def test_files_larger_than_the_cap_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    with pytest.raises(SpecError) as caught:
        load_file(big)
    assert caught.value.code == "E101"
    assert "5 MiB" in caught.value.message


def test_unreadable_paths_are_refused(tmp_path: Path) -> None:
    for path in (tmp_path, tmp_path / "missing.yaml"):
        with pytest.raises(SpecError) as caught:
            load_file(path)
        assert caught.value.code == "E100"
