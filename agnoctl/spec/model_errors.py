"""pydantic's validation errors as diagnostics: located in the file, coded, with a fix hint.

pydantic locates an error by model path (`loc`), which also holds union branch names
(`str`, `list[str]`, a gate's `threshold` tag). The data path is the part of `loc` that
indexes the data; the rest says which branch failed. Failures of every branch of one union
become one diagnostic ("must be a string or a list").
"""

from __future__ import annotations

import json
import math
import re
import shlex
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic_core import ErrorDetails

from agnoctl.errors import kind_of
from agnoctl.spec import models
from agnoctl.spec.diagnostics import Diagnostic, did_you_mean
from agnoctl.spec.loader import WHOLE_INTERPOLATION, PathKey, SourceMap

Loc = tuple[int | str, ...]

_TYPE_ERRORS = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "list_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
_RANGE_ERRORS = {
    "greater_than": "greater than {gt}",
    "greater_than_equal": "at least {ge}",
    "less_than": "less than {lt}",
    "less_than_equal": "at most {le}",
    "too_short": "at least {min_length} long",
    "too_long": "at most {max_length} long",
}
_PATTERN_HINTS = {
    models.NAME_PATTERN: "lowercase letters, digits, _ and -, starting with a letter or digit",
    models.ID_PATTERN: "a letter or _ then letters, digits or _",
}


def path_text(path: Sequence[PathKey]) -> str:
    """("steps", "a", "gates", 0) → `steps.a.gates[0]`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the top level"


def data_path(loc: Loc, data: Any) -> tuple[tuple[PathKey, ...], list[str]]:
    """Split `loc` into the path that indexes `data` and the branch names skipped on the way."""
    path: list[PathKey] = []
    skipped: list[str] = []
    current = data
    for part in loc:
        if _indexes(current, part):
            current = current[part]
            path.append(part)
        else:
            skipped.append(str(part))
    return tuple(path), skipped


def _indexes(data: Any, part: int | str) -> bool:
    if isinstance(data, dict):
        return part in data
    return isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)


def model_diagnostics(
    errors: Iterable[ErrorDetails], data: Any, source: SourceMap
) -> list[Diagnostic]:
    """One diagnostic per problem; union branch failures are merged per union."""
    translator = _Translator(data, source)
    groups: dict[tuple[PathKey, ...], list[ErrorDetails]] = {}
    for error in errors:
        if _is_step_id_error(error):
            continue  # checks.py reports bad step ids at the offending key, at every level
        _, skipped = data_path(error["loc"], data)
        if skipped and error["type"] not in ("missing", "extra_forbidden"):
            groups.setdefault(_union_point(error["loc"], data), []).append(error)
        else:
            translator.add(error)
    for point, group in groups.items():
        translator.add_union(point, group)
    return translator.diagnostics


def _is_step_id_error(error: ErrorDetails) -> bool:
    return error["type"] == "value_error" and str(error["msg"]).startswith("Value error, step id")


def _union_point(loc: Loc, data: Any) -> tuple[PathKey, ...]:
    """The data path at which `loc` first takes a branch name."""
    path: list[PathKey] = []
    current = data
    for part in loc:
        if not _indexes(current, part):
            break
        current = current[part]
        path.append(part)
    return tuple(path)


class _Translator:
    def __init__(self, data: Any, source: SourceMap) -> None:
        self.data = data
        self.source = source
        self.diagnostics: list[Diagnostic] = []

    def emit(
        self,
        path: Sequence[PathKey],
        code: str,
        message: str,
        hint: str | None,
        *,
        at_key: bool = False,
    ) -> None:
        line, col = self.source.key_position(path) if at_key else self.source.position(path)
        self.diagnostics.append(
            Diagnostic(self.source.file, line, col, "error", code, message, hint)
        )

    def add(self, error: ErrorDetails) -> None:
        loc = error["loc"]
        path, _ = data_path(loc, self.data)
        kind = error["type"]
        if kind == "extra_forbidden":
            self._unknown_field(loc, path)
        elif kind == "missing":
            self._missing(loc, path)
        elif kind in ("literal_error", "union_tag_invalid"):
            self._not_allowed(error, loc, path)
        elif kind == "union_tag_not_found":
            allowed = _literal_values(_annotation_at(loc), "type")
            hint = f"add `type:` ({_or_list(allowed)})" if allowed else "add `type:`"
            self.emit(path, "E201", f"{path_text(path)} has no `type`", hint, at_key=True)
        elif kind in _TYPE_ERRORS:
            self._wrong_type(path, [_TYPE_ERRORS[kind]], error["input"])
        elif kind in _RANGE_ERRORS:
            bound = _RANGE_ERRORS[kind].format(**(error.get("ctx") or {}))
            self.emit(path, "E204", f"{_name(path)} must be {bound}, not {error['input']!r}", None)
        elif kind == "string_pattern_mismatch":
            pattern = str((error.get("ctx") or {}).get("pattern", ""))
            rule = _PATTERN_HINTS.get(pattern, f"match {pattern}")
            self.emit(
                path, "E205", f"{_name(path)} {error['input']!r} is not allowed: use {rule}", None
            )
        else:
            self._value_error(error, path)

    def _unknown_field(self, loc: Loc, path: tuple[PathKey, ...]) -> None:
        field = str(loc[-1])
        allowed = _field_names(_model_at(loc[:-1]))
        where = path_text(path[:-1])
        guess = did_you_mean(field, allowed or _all_field_names())
        if guess:
            hint = f"did you mean `{guess}`?"
        elif allowed:
            hint = f"fields allowed in {where}: {', '.join(sorted(allowed))}"
        else:
            hint = None
        self.emit(path, "E200", f"unknown field `{field}` in {where}", hint, at_key=True)

    def _missing(self, loc: Loc, path: tuple[PathKey, ...]) -> None:
        field = str(loc[-1])
        where = path_text(path)
        description = _field_description(_model_at(loc[:-1]), field)
        hint = f"add `{field}:` ({description})" if description else f"add `{field}:`"
        self.emit(
            path, "E201", f"missing required field `{field}` in {where}", hint, at_key=bool(path)
        )

    def _not_allowed(self, error: ErrorDetails, loc: Loc, path: tuple[PathKey, ...]) -> None:
        ctx = error.get("ctx") or {}
        expected = str(ctx.get("expected") or ctx.get("expected_tags") or "")
        allowed = re.findall(r"'([^']*)'", expected) or [expected]
        given = ctx.get("tag", error["input"])
        if error["type"] == "union_tag_invalid":
            path = (*path, "type")
        if path and path[-1] == "version":
            self._version(path, given)
            return
        guess = did_you_mean(str(given), allowed)
        hint = f"did you mean {guess!r}?" if guess else None
        if isinstance(given, bool) and not guess:  # YAML's `no`, not Python's False
            written = self._written(path, given)
            hint = f"YAML reads `{written}` as a boolean: write one of {_or_list(allowed)}"
            given_text = written
        else:
            given_text = repr(given)
        message = f"{_name(path)} must be {_or_list(allowed)}, not {given_text}"
        self.emit(path, "E202", message, hint)

    def _version(self, path: tuple[PathKey, ...], given: Any) -> None:
        """`version:` as the file writes it: `"1"` is the right number, quoted; `yes` is no
        `True`."""
        if isinstance(given, str) and given.strip() == "1":
            message = f'version "{given}" is a string: the version is the number 1'
            self.emit(path, "E202", message, "write `version: 1`, without quotes")
            return
        written = self._written(path, given) if not isinstance(given, str) else repr(given)
        message = f"version {written} is not supported: this agnoctl reads version 1"
        if given is None:
            message = "`version` is empty: this agnoctl reads version 1"
        elif isinstance(given, float) and given == 1:
            message = f"version {written} is not the integer 1: the version is the number 1"
        self.emit(path, "E202", message, "write `version: 1`")

    def _wrong_type(self, path: Sequence[PathKey], expected: list[str], given: Any) -> None:
        code = "E208" if path and path[-1] == "for_each" else "E203"
        wanted = " or ".join(dict.fromkeys(expected))
        message = f"{_name(path)} must be {wanted}, not {kind_of(given)}"
        if code == "E208":
            message = f"for_each must be an expression (a string) or a list, not {kind_of(given)}"
            hint: str | None = (
                "write a list (`[a, b]`) or an expression giving one (`inputs.items`)"
            )
        else:
            hint = self._quoted_variable(path, expected) or _type_hint(
                path, expected, given, self._written(path, given)
            )
        self.emit(path, code, message, hint, at_key=isinstance(given, dict | list))

    def _quoted_variable(self, path: Sequence[PathKey], expected: list[str]) -> str | None:
        """A number or boolean written as a quoted `${...}`: quoted, it stays text; the fix
        keeps the variable (loader.py reads an unquoted one as the value it holds)."""
        node = self.source.node(path)
        if "a string" in expected or not isinstance(node, yaml.ScalarNode) or not node.style:
            return None
        if not WHOLE_INTERPOLATION.fullmatch(node.value):
            return None
        field = path[-1] if path else "value"
        kind = "a number" if {"a number", "an integer"} & set(expected) else "its value"
        return f"write the variable without quotes, `{field}: {node.value}`, to read it as {kind}"

    def _written(self, path: Sequence[PathKey], given: Any) -> str:
        """``given`` as the file spells it: YAML reads `yes`, `on` as true and `1.10` as 1.1,
        and a hint to quote the value must quote what the author wrote."""
        if not isinstance(given, bool | int | float):
            return str(given)
        node = self.source.node(path)
        # Plain only: a quoted scalar is a string already.
        if isinstance(node, yaml.ScalarNode) and not node.style and node.value.strip():
            return str(node.value)
        return _yaml_text(given)

    def _value_error(self, error: ErrorDetails, path: tuple[PathKey, ...]) -> None:
        message = str(error["msg"]).removeprefix("Value error, ")
        code = "E207" if "duration" in message else "E206"
        where = path
        # A rule of a mapping about one of its fields ("`loop` belongs to groups") is said
        # where that field is: the fix is there, and the mapping may span many lines.
        field = _LEADING_FIELD.match(message)
        if field and isinstance(error["input"], dict) and field.group(1) in error["input"]:
            where = (*path, field.group(1))
        self.emit(
            where,
            code,
            f"{_name(path)}: {message}" if path else message,
            None,
            at_key=isinstance(error["input"], dict | list),
        )

    def add_union(self, point: tuple[PathKey, ...], group: list[ErrorDetails]) -> None:
        """Failures of a union's branches: keep the branch that got furthest into the data,
        or say which kinds of value would do."""
        deepest = max(len(data_path(e["loc"], self.data)[0]) for e in group)
        if deepest > len(point):
            for error in group:
                if len(data_path(error["loc"], self.data)[0]) == deepest:
                    self.add(error)
            return
        if all(e["type"] in _TYPE_ERRORS for e in group):
            self._wrong_type(point, [_TYPE_ERRORS[e["type"]] for e in group], group[0]["input"])
            return
        for error in group:
            self.add(error)


_LEADING_FIELD = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


def _type_hint(
    path: Sequence[PathKey], expected: list[str], given: Any, written: str
) -> str | None:
    """What to write instead of ``given`` (``written`` in the file), when a likely intent
    shows."""
    if {"a number", "an integer"} & set(expected):
        hint = _number_hint(path, "an integer" in expected, given, written)
        if hint is not None:
            return hint
    if "a string" in expected and isinstance(given, bool | int | float):
        return f'quote the value to keep it a string: "{written}"'
    if isinstance(given, str) and given.strip() == "":
        return "the value is empty; give one, or remove the field"
    if isinstance(given, str) and "a list" in expected and path:
        # `needs: b` is valid in GitHub Actions, `run: echo hi` in a shell script.
        return f"write it as a list: `{path[-1]}: {_as_list(str(path[-1]), given)}`"
    return None


def _number_hint(path: Sequence[PathKey], integer: bool, given: Any, written: str) -> str | None:
    """How to write as a number a value that YAML read as something else (numbers are
    strict: ``agnoctl.spec.models.Integer``), if it is one."""
    field = path[-1] if path else "value"
    if isinstance(given, bool):
        return f"write a number: YAML's {written} is a boolean, not {int(given)}"
    if isinstance(given, float) and integer and given.is_integer():
        return f"write it without a fraction: `{field}: {int(given)}`"
    number = _number(given) if isinstance(given, str) else None
    if number is None or (integer and not number.is_integer()):
        return None
    text = str(int(number)) if number.is_integer() else repr(number)
    if text == given.strip():
        return f"write the number without quotes: `{field}: {text}`"
    # YAML 1.1 reads `1e3` (no dot, no sign in the exponent) as text, quoted or not.
    return f"YAML reads `{given.strip()}` as text, not a number: write `{field}: {text}`"


def _number(text: str) -> float | None:
    """The finite number ``text`` spells, if it spells one."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _as_list(field: PathKey, text: str) -> str:
    """A string given where a list goes, as the flow list it likely meant: the words of a
    command (`echo hi` -> `[echo, hi]`), the names of needs (`a, b` -> `[a, b]`)."""
    if field == "run":
        try:
            words = shlex.split(text)
        except ValueError:  # an unbalanced quote: words as written
            words = text.split()
    else:
        words = [word for word in re.split(r"[,\s]+", text) if word]
    return "[" + ", ".join(w if _PLAIN.fullmatch(w) else json.dumps(w) for w in words) + "]"


_PLAIN = re.compile(r"[A-Za-z0-9_./@%+=-]+")  # YAML reads these as they are in a flow list


def _name(path: Sequence[PathKey]) -> str:
    return f"`{path_text(path)}`"


def _or_list(values: Sequence[str]) -> str:
    quoted = [repr(v) for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _yaml_text(value: bool | int | float) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


# ---------------------------------------------------------------------------- model walking


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and `| None`."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _annotation_at(loc: Loc) -> Any:
    """The type that `loc` (a pydantic location) points into, unwrapped; None if unknown."""
    current: Any = models.Workflow
    for part in loc:
        current = _unwrap(current)
        origin = get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            current = _field(current, str(part))
        elif origin in (dict, list):
            current = get_args(current)[-1]
        elif origin in (typing.Union, types.UnionType):
            current = _branch(current, str(part))
        else:
            return None
        if current is None:
            return None
    return _unwrap(current)


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model class that `loc` points into, when it is one."""
    current = _annotation_at(loc)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _field(model: type[BaseModel], name: str) -> Any:
    for field_name, info in model.model_fields.items():
        if name in (field_name, info.alias):
            return info.annotation
    return None


def _branch(union: Any, tag: str) -> Any:
    for member in get_args(union):
        if tag in (_literal_values(member, "type") or []):
            return member
    return None


def _literal_values(model: Any, field: str) -> list[str] | None:
    if get_origin(_unwrap(model)) in (typing.Union, types.UnionType):
        values = [v for m in get_args(_unwrap(model)) for v in _literal_values(m, field) or []]
        return values or None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    annotation = _field(model, field)
    if get_origin(annotation) is Literal:
        return [str(v) for v in get_args(annotation)]
    return None


def _field_names(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _field_description(model: type[BaseModel] | None, field: str) -> str | None:
    if model is None:
        return None
    for name, info in model.model_fields.items():
        if field in (name, info.alias) and info.description:
            return info.description.split("\n")[0].rstrip(".")
    return None


def _all_field_names() -> set[str]:
    names: set[str] = set()
    for value in vars(models).values():
        if isinstance(value, type) and issubclass(value, models.Strict):
            names.update(_field_names(value))
    return names


__all__ = ["data_path", "model_diagnostics", "path_text"]
