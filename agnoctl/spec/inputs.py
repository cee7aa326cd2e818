"""Run inputs: `-i key=value` and `--inputs-file`, typed by the workflow's `inputs` declaration.

Precedence, lowest first: the declared default, the inputs file, `-i`. Every problem is a
``UsageError`` raised before anything runs: an unknown name (with a did-you-mean), a value that
is not of the declared type, a required input without a value.

Inputs come from whoever starts the run (a CI job, a pull request's metadata), so they are
read as hostile: the inputs file goes through the workflow loader's bounds
(``load_data_file``), and a `-i` value is strict JSON (no NaN or Infinity) whose integers
must be readable and whose nesting is bounded as the workflow's is (``spec.nesting``).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from agnoctl.errors import SpecError, UsageError
from agnoctl.printable import not_utf8_at
from agnoctl.redact import strings_in
from agnoctl.spec.diagnostics import did_you_mean
from agnoctl.spec.loader import load_data_file
from agnoctl.spec.models import InputSpec
from agnoctl.spec.nesting import read_json


def resolve_inputs(
    declared: Mapping[str, InputSpec],
    pairs: Sequence[str] = (),
    inputs_file: Path | None = None,
    given: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The run's input values: defaults, then the file, then ``given``, then ``-i`` pairs."""
    values: dict[str, Any] = {}
    if inputs_file is not None:
        for name, value in read_inputs_file(inputs_file).items():
            values[name] = check_value(_known(name, declared), name, value)
    for name, value in (given or {}).items():
        values[name] = check_value(_known(name, declared), name, value)
    paired: set[str] = set()
    for pair in pairs:
        name, value = parse_pair(pair, declared)
        if name in paired:  # fail closed: one of the two would be dropped without a word
            raise UsageError(f"input {name!r} is given twice with -i: give it once")
        paired.add(name)
        values[name] = value
    for name, spec in declared.items():
        if name not in values:
            if spec.required:
                raise UsageError(
                    f"input {name!r} is required and has no value: "
                    f"pass -i {name}=... or put it in --inputs-file"
                )
            values[name] = spec.default
    for name, value in values.items():
        _refuse_surrogates(name, value)
    return {name: values[name] for name in declared}


def _refuse_surrogates(name: str, value: Any) -> None:
    """A byte of an argument that is not UTF-8 reaches Python as a lone surrogate (as a JSON
    `"\\ud800"` does): no report, event or fingerprint could hold the run's inputs."""
    for text in strings_in(value):
        at = not_utf8_at(text)
        if at is not None:
            raise UsageError(
                f"input {name!r} is not UTF-8 text: it holds {text[at]!r} (a byte that "
                "is no UTF-8, or a lone surrogate escape); give it as UTF-8"
            )


def parse_pair(pair: str, declared: Mapping[str, InputSpec]) -> tuple[str, Any]:
    """``key=value`` typed by the declaration of ``key``."""
    name, sep, text = pair.partition("=")
    name = name.strip()
    if not sep or not name:
        raise UsageError(f"-i {pair!r}: expected key=value, e.g. -i topic=fintech")
    spec = _known(name, declared)
    return name, convert(name, spec, text)


def convert(name: str, spec: InputSpec, text: str) -> Any:
    """Text from the command line as a value of the declared type (JSON for arrays, objects)."""
    type_ = spec.type
    if type_ == "string":
        return text
    if type_ == "boolean":
        lowered = text.strip().lower()
        if lowered in {"true", "yes", "1", "on"}:
            return True
        if lowered in {"false", "no", "0", "off"}:
            return False
        raise UsageError(f"input {name!r} is a boolean: use true or false, not {text!r}")
    if type_ in {"number", "integer"}:
        try:
            number = _json(name, text)
        except ValueError:  # not a number: check_value says what is expected
            number = None
        return check_value(spec, name, number if number is not None else text)
    try:
        value = _json(name, text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"input {name!r} is an {type_}: give it as JSON ({exc.msg} at character {exc.pos})"
        ) from None
    except ValueError as exc:
        raise UsageError(f"input {name!r} is an {type_}: give it as JSON ({exc})") from None
    return check_value(spec, name, value)


def _json(name: str, text: str) -> Any:
    """``text`` as strict JSON; ValueError when it is not."""
    return read_json(text, parse_int=partial(_integer, name))


def _integer(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:  # longer than Python reads from text (4,300 digits)
        digits = len(text.lstrip("-"))
        raise UsageError(
            f"input {name!r} holds an integer of {digits:,} digits, more than the "
            f"{sys.get_int_max_str_digits():,} that can be read"
        ) from None


def check_value(spec: InputSpec, name: str, value: Any) -> Any:
    """``value`` if it is of the declared type (ints are numbers; bools are not)."""
    if not spec.accepts(value):
        raise UsageError(f"input {name!r} must be {_article(spec.type)}, got {_shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"input {name!r} must be a finite number, got {value!r}")
    return value


def _shown(value: Any) -> str:
    """A refused value as the error line quotes it: a long one is cut, so the line stays one
    a reader can take in (a `-i` value may be 100 KB)."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def read_inputs_file(path: Path) -> dict[str, Any]:
    """A YAML (or JSON, which is YAML) map of input values, read under the workflow
    loader's bounds."""
    try:
        data = load_data_file(path, "inputs file").data
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"inputs file {path} must hold a map of input names to values")
    return data


def _known(name: str, declared: Mapping[str, InputSpec]) -> InputSpec:
    spec = declared.get(name)
    if spec is None:
        guess = did_you_mean(name, declared)
        hint = f"; did you mean {guess!r}?" if guess else ""
        names = ", ".join(sorted(declared)) or "none"
        raise UsageError(f"unknown input {name!r} (declared: {names}){hint}")
    return spec


def _article(type_: str) -> str:
    return f"an {type_}" if type_[0] in "aeiou" else f"a {type_}"
