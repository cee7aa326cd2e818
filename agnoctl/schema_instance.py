"""A deterministic, minimal value that validates against a JSON Schema.

The mock provider answers a call that has an ``output_schema`` with ``minimal_instance(schema)``,
so an offline run produces output of the right shape. "Minimal" means: ``null`` only when
nothing else is allowed, ``false``, ``0`` (or the nearest allowed number), ``""`` (or the
shortest allowed string), the fewest array items, and objects with only their required
properties.

Understood: ``type`` (a list of types picks the first non-null one), ``enum``, ``const``,
``minimum``/``maximum`` and their exclusive forms (draft 4 booleans too), ``multipleOf``,
``minLength``, string ``format`` (date, date-time, time, email, uri, uuid, hostname, ipv4,
ipv6), ``minItems``, ``items``/``prefixItems`` (and draft 4-7 item lists), ``contains``,
``uniqueItems`` for scalar items, ``minProperties``, ``$ref`` into the same document (``$defs``,
``definitions``), ``allOf`` (merged), ``anyOf``/``oneOf`` (the first branch). ``pattern`` and
``not`` are not considered: the value may not match them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

_MAX_DEPTH = 64

_FORMATS: dict[str, str] = {
    "date": "2000-01-01",
    "date-time": "2000-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "uri": "https://example.com",
    "iri": "https://example.com",
    "uri-reference": "https://example.com",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
}

# Keywords that imply a type when `type` is absent, in the order they are tried.
_IMPLIED_TYPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("object", ("properties", "required", "additionalProperties", "minProperties")),
    ("array", ("items", "prefixItems", "minItems", "contains")),
    ("string", ("minLength", "maxLength", "format", "pattern")),
    ("number", ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")),
)


class SchemaInstanceError(ValueError):
    """The schema cannot be satisfied or uses a reference this module cannot follow."""


def minimal_instance(schema: Mapping[str, Any] | bool) -> Any:
    """A minimal value valid for ``schema``; raises SchemaInstanceError when there is none."""
    return _Builder(schema).build(schema, 0)


class _Builder:
    def __init__(self, root: Mapping[str, Any] | bool) -> None:
        self._root = root

    def build(self, schema: Mapping[str, Any] | bool, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise SchemaInstanceError("the schema nests or recurses too deeply for a value")
        if schema is True:
            return None
        if schema is False:
            raise SchemaInstanceError("the schema `false` accepts no value")
        if not isinstance(schema, Mapping):
            raise SchemaInstanceError(f"a schema is an object or a boolean, not {schema!r}")
        schema = self._flatten(schema, depth)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            if not schema["enum"]:
                raise SchemaInstanceError("an empty `enum` accepts no value")
            return schema["enum"][0]
        return self._typed(schema, _pick_type(schema), depth)

    def _flatten(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        """Resolve $ref, allOf and the first anyOf/oneOf branch into one plain schema."""
        if depth > _MAX_DEPTH:
            raise SchemaInstanceError("the schema nests or recurses too deeply for a value")
        merged = {k: v for k, v in schema.items() if k not in ("$ref", "allOf", "anyOf", "oneOf")}
        parts: list[Mapping[str, Any] | bool] = []
        if "$ref" in schema:
            parts.append(self._resolve(schema["$ref"]))
        parts.extend(schema.get("allOf", ()))
        for keyword in ("anyOf", "oneOf"):
            if schema.get(keyword):
                parts.append(schema[keyword][0])
        for part in parts:
            if part is False:
                raise SchemaInstanceError("the schema `false` accepts no value")
            if isinstance(part, Mapping):
                merged = _merge(merged, self._flatten(part, depth + 1))
        return merged

    def _resolve(self, ref: str) -> Mapping[str, Any] | bool:
        if not ref.startswith("#"):
            raise SchemaInstanceError(f"cannot follow $ref {ref!r}: only #/... references")
        node: Any = self._root
        for raw in ref[1:].lstrip("/").split("/") if ref != "#" else ():
            key = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                raise SchemaInstanceError(f"$ref {ref!r} points at nothing")
        if not isinstance(node, Mapping | bool):
            raise SchemaInstanceError(f"$ref {ref!r} does not point at a schema")
        return node

    def _typed(self, schema: dict[str, Any], kind: str | None, depth: int) -> Any:
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, depth)
        if kind == "string":
            return _string(schema)
        if kind in ("integer", "number"):
            return _number(schema, integer=kind == "integer")
        if kind == "boolean":
            return False
        return None  # "null", or no constraint at all

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties: Mapping[str, Any] = schema.get("properties", {})
        names = list(dict.fromkeys(schema.get("required", ())))
        # minProperties: add declared optional properties, in order, until there are enough.
        optional = (name for name in properties if name not in names)
        while len(names) < schema.get("minProperties", 0):
            name = next(optional, None)
            if name is None:
                raise SchemaInstanceError("minProperties is larger than the declared properties")
            names.append(name)
        extra = schema.get("additionalProperties", True)
        return {name: self.build(properties.get(name, extra), depth + 1) for name in names}

    def _array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        items = schema.get("items", True)
        if isinstance(items, list):  # draft 4-7 tuple form
            prefix, items = items, schema.get("additionalItems", True)
        values = [self.build(s, depth + 1) for s in prefix or ()]
        if "contains" in schema:
            wanted = schema.get("minContains", 1)
            values.extend(self.build(schema["contains"], depth + 1) for _ in range(wanted))
        missing = schema.get("minItems", 0) - len(values)
        if missing > 0:
            if schema.get("uniqueItems") and missing + len(values) > 1:
                values.extend(self._distinct(items, missing, depth))
            else:
                values.extend(self.build(items, depth + 1) for _ in range(missing))
        return values

    def _distinct(self, schema: Mapping[str, Any] | bool, count: int, depth: int) -> list[Any]:
        """``count`` different values for uniqueItems (scalars only)."""
        flat = self._flatten(schema, depth + 1) if isinstance(schema, Mapping) else {}
        if "enum" in flat:
            if len(flat["enum"]) < count:
                raise SchemaInstanceError("uniqueItems needs more items than the enum has")
            return list(flat["enum"][:count])
        kind = _pick_type(flat) if flat else "integer"
        if kind == "string":
            text = _string(flat)
            return [text + "a" * n for n in range(count)]
        if kind in ("integer", "number"):
            step = flat.get("multipleOf", 1)
            number = _number(flat, integer=kind == "integer")
            return [number + step * n for n in range(count)]
        raise SchemaInstanceError(f"cannot make {count} distinct {kind} items for uniqueItems")


def _pick_type(schema: Mapping[str, Any]) -> str | None:
    declared = schema.get("type")
    if isinstance(declared, str):
        return declared
    if isinstance(declared, list) and declared:
        non_null = [t for t in declared if t != "null"]
        return str(non_null[0]) if non_null else "null"
    for kind, keywords in _IMPLIED_TYPES:
        if any(k in schema for k in keywords):
            return kind
    return None


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Combine two schemas that must both hold (allOf); the stricter bound wins."""
    merged = dict(base)
    for key, value in extra.items():
        if key not in merged:
            merged[key] = value
        elif key == "properties":
            both = merged[key]
            merged[key] = {
                name: {"allOf": [both[name], schema]} if name in both else schema
                for name, schema in value.items()
            } | {name: schema for name, schema in both.items() if name not in value}
        elif key == "required":
            merged[key] = list(dict.fromkeys([*merged[key], *value]))
        elif key in ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"):
            merged[key] = max(merged[key], value)
        elif key in ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"):
            merged[key] = min(merged[key], value)
        elif key == "type":
            merged[key] = _merge_types(merged[key], value)
    return merged


def _merge_types(left: str | list[str], right: str | list[str]) -> str | list[str]:
    lefts = [left] if isinstance(left, str) else left
    rights = [right] if isinstance(right, str) else right
    both = [t for t in lefts if t in rights or (t == "integer" and "number" in rights)]
    both += [t for t in rights if t == "integer" and "number" in lefts and t not in both]
    if not both:
        raise SchemaInstanceError(f"allOf asks for type {left} and type {right}")
    return both[0] if len(both) == 1 else both


def _string(schema: Mapping[str, Any]) -> str:
    text_format = schema.get("format", "")
    sample = _FORMATS.get(text_format, "")
    length = schema.get("minLength", 0)
    if len(sample) < length:
        padding = "a" * (length - len(sample))
        # "aaauser@example.com" and "aaaexample.com" keep their format; URIs take a suffix.
        prefixed = text_format in ("email", "idn-email", "hostname")
        sample = padding + sample if prefixed else sample + padding
    if "maxLength" in schema and len(sample) > schema["maxLength"]:
        if length > schema["maxLength"]:
            raise SchemaInstanceError("minLength is larger than maxLength")
        sample = "a" * length  # a format sample that does not fit: drop the format
    return sample


def _number(schema: Mapping[str, Any], *, integer: bool) -> int | float:
    low, low_open = _bound(schema, "minimum", "exclusiveMinimum")
    high, high_open = _bound(schema, "maximum", "exclusiveMaximum")
    step = schema.get("multipleOf")

    def fits(value: float) -> bool:
        above = low is None or value > low or (value == low and not low_open)
        below = high is None or value < high or (value == high and not high_open)
        return above and below

    # The multiple of `unit` closest to 0 inside the bounds; plain numbers prefer integers too.
    unit: int | float = step if isinstance(step, int | float) and step > 0 else 1
    candidate: int | float = 0
    if not fits(0) and low is not None and (low > 0 or (low == 0 and low_open)):
        candidate = math.ceil(low / unit) * unit
        candidate += unit if low_open and candidate <= low else 0
    elif not fits(0) and high is not None:
        candidate = math.floor(high / unit) * unit
        candidate -= unit if high_open and candidate >= high else 0
    if fits(candidate):
        return candidate
    if integer or step is not None:
        raise SchemaInstanceError("no integer (or multiple of multipleOf) fits the bounds")
    # No integer between the bounds: a fraction still may be.
    if low is not None and not low_open:
        return low
    if high is not None and not high_open:
        return high
    if low is not None and high is not None and low < high:
        return (low + high) / 2
    raise SchemaInstanceError("no number fits the bounds")


def _bound(schema: Mapping[str, Any], inclusive: str, exclusive: str) -> tuple[float | None, bool]:
    """The effective bound and whether it is open, from draft 6+ numbers or draft 4 booleans."""
    closed = schema.get(inclusive)
    opened = schema.get(exclusive)
    if isinstance(opened, bool):  # draft 4: `exclusiveMinimum: true` modifies `minimum`
        return closed, opened and closed is not None
    if opened is None:
        return closed, False
    if closed is None:
        return opened, True
    stricter = closed > opened if inclusive == "minimum" else closed < opened
    return (closed, False) if stricter else (opened, True)
