"""YAML text → plain data, plus a SourceMap that points every value back into the file.

PyYAML composes the node tree (libyaml's C parser when present, else the pure-Python one);
this module builds the data itself so it can:

* bound the work: files above MAX_FILE_BYTES, alias expansion above MAX_ALIAS_NODES ("billion
  laughs") and nesting deeper than MAX_DEPTH are refused before any data is built;
* refuse duplicate keys, recursive aliases and tags other than YAML's core ones;
* keep keys as written (`on:` stays "on", never YAML 1.1's True) and timestamps as text;
* interpolate `${VAR}` / `${VAR:-default}` from the environment in string values (never in
  keys); `$${` is a literal `${`. A value is data: a string that holds one is an
  `Interpolated`, and the fields rendered as templates render it as a literal (a pull
  request's title `{{ env }}` stays that text). An unquoted value that is exactly one
  `${...}` is read again as a YAML scalar after substitution, as if its value had been
  written there: with N=4, `max_concurrency: ${N}` is the integer 4 and `flag: ${ON:-true}`
  the boolean true (an empty result stays ""). Quote it (`"${N}"`) to keep a string.

The offline commands (validate, plan, graph, `run --mock`, `run --cache-only`) send no request,
so they need no provider key: given an `unset_keys` list, an unset variable in a
`providers.<name>.api_key` value reads as empty and is noted there instead of refused. A
variable used anywhere else (or an api_key an alias also uses elsewhere) stays an error.

Every failure is a SpecError with `file:line:col`, never a traceback.
"""

from __future__ import annotations

import errno
import gc
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import yaml

from agnoctl.errors import SpecError
from agnoctl.printable import not_utf8_at
from agnoctl.spec.templates import Interpolated

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ALIAS_NODES = 200_000
"""Nodes that aliases may add on top of the file's own; beyond this the file is refused."""
MAX_DEPTH = 200

_TAG = "tag:yaml.org,2002:"
_MERGE = _TAG + "merge"
_STR = _TAG + "str"
_SCALAR = yaml.ScalarNode
_INTERPOLATION = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")
WHOLE_INTERPOLATION = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}")
_RERESOLVED = {_TAG + "int", _TAG + "float", _TAG + "bool"}

PathKey = str | int
Position = tuple[int, int]
_LoaderClass = type[yaml.SafeLoader] | type[yaml.CSafeLoader]


def make_loader(base: _LoaderClass) -> _LoaderClass:
    """A safe loader whose tag resolution is cached: a large file repeats its keys and values
    thousands of times, and quoted scalars are always strings.

    The composer asks for the tag of every node, and steps into and out of the resolver's path
    state around it; without path resolvers (the YAML path API, which agnoctl never uses)
    mappings and lists get the default tags and there is no path state to follow.

    Implicit resolvers are filed by the first character they can match (YAML's own have no
    catch-all); a plain scalar that starts with none of those characters (most keys and
    names) is a string without matching any pattern or filling the cache."""
    resolved: dict[str, str] = {}
    base_resolve: Callable[..., object] = base.resolve
    scalar, string = yaml.ScalarNode, _TAG + "str"
    collections: dict[type[yaml.Node], str] = {
        yaml.MappingNode: _TAG + "map",
        yaml.SequenceNode: _TAG + "seq",
    }
    firsts = frozenset(base.yaml_implicit_resolvers)  # "" for the empty scalar (null)

    def resolve(self: Any, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is not scalar:
            return collections[kind] if no_paths else str(base_resolve(self, kind, value, implicit))
        # Quoted, tagged `!`, or starting as no pattern can: a string (Resolver.resolve agrees).
        if not implicit[0] or value[:1] not in firsts:
            return string
        tag = resolved.get(value)
        if tag is None:
            tag = str(base_resolve(self, kind, value, implicit))
            if len(resolved) < 100_000:
                resolved[value] = tag
        return tag

    no_paths = not base.yaml_path_resolvers
    methods: dict[str, Any] = {"resolve": resolve}
    if no_paths:
        # Nothing to do, twice per node: built-in methods that ignore what they are given
        # cost a fraction of a Python function's call. `descend_resolver(parent, index)`
        # looks `parent` up in an empty dict; `ascend_resolver()` clears an empty list.
        methods["descend_resolver"] = staticmethod({}.get)
        methods["ascend_resolver"] = staticmethod([].clear)
    return type(f"Cached{base.__name__}", (base,), methods)


# libyaml's C parser when present; the pure-Python one gives the same nodes, only slower.
_Loader = make_loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class Loaded(NamedTuple):
    data: Any
    source: SourceMap


class UnsetKey(NamedTuple):
    """A provider key variable that is not set, read as empty by an offline command."""

    variable: str
    provider: str
    file: str
    line: int
    col: int

    def note(self) -> str:
        return (
            f"{self.file}:{self.line}:{self.col}: note: {self.variable} is not set "
            f"(providers.{self.provider}.api_key); a run that calls the provider needs it"
        )


# ---------------------------------------------------------------------------- source map


class _Entry(NamedTuple):  # a named tuple: its class costs a fifth of a dataclass's at start-up
    key: yaml.Node | None
    value: yaml.Node


class SourceMap:
    """Positions (1-based line, col) of the values and keys of a loaded file, by data path.

    A path is a tuple of mapping keys and sequence indexes, e.g.
    ("steps", "collect", "gates", 0, "min"). Lookups walk the node tree on demand (only
    diagnostics need them); a path that does not exist falls back to its nearest parent.
    """

    def __init__(self, file: str, root: yaml.Node | None, text: str) -> None:
        self.file = file
        self._root = root
        self._text = text
        self._index: dict[int, dict[str, _Entry]] = {}

    @classmethod
    def empty(cls, file: str) -> SourceMap:
        """A map for data that came from no file: every position is 1:1."""
        return cls(file, None, "")

    def position(self, path: Sequence[PathKey]) -> Position:
        """Where the value at `path` starts; for a missing path, its nearest parent's key."""
        chain = self._walk(path)
        if len(chain) == len(path) + 1:
            return _mark(chain[-1].value)
        return self._entry_position(chain[-1])

    def key_position(self, path: Sequence[PathKey]) -> Position:
        """Where the key of the mapping entry at `path` starts (the value for list items)."""
        chain = self._walk(path)
        return self._entry_position(chain[-1])

    def node(self, path: Sequence[PathKey]) -> yaml.Node | None:
        """The node at `path`, or None when the path does not exist."""
        chain = self._walk(path)
        return chain[-1].value if len(chain) == len(path) + 1 else None

    def text_position(
        self, path: Sequence[PathKey], line: int = 1, needle: str | None = None
    ) -> Position:
        """Where line `line` (1-based) of the string at `path` sits in the file.

        Block scalars (`|`, `>`) start on the line after their key; other multi-line scalars
        are counted from their first line. With `needle`, the column is where it occurs on
        that line, when it does.

        Only a literal block (`|`) keeps the file's lines one for one. A folded block (`>`)
        and a multi-line plain or quoted string join lines with spaces, and a double-quoted
        `\\n` breaks one the file does not: their line is kept within the string's own lines,
        and a `needle` found on none of it there is looked for on the others.
        """
        node = self.node(path)
        if not isinstance(node, yaml.ScalarNode):
            return self.position(path)
        start_line, start_col = _mark(node)
        block = node.style in ("|", ">")
        file_line = start_line + line if block else start_line + line - 1
        if node.style != "|":
            first_line = start_line + block
            last_line = max(first_line, node.end_mark.line + 1 - (node.end_mark.column == 0))
            file_line = min(max(file_line, first_line), last_line)
            if needle:
                others = [n for n in range(first_line, last_line + 1) if n != file_line]
                for candidate in (file_line, *others):
                    col = self._line_start(candidate, node, start_line, start_col)
                    found = self._line(candidate).find(needle, col - 1)
                    if found >= 0:
                        return candidate, found + 1
        col = self._line_start(file_line, node, start_line, start_col)
        if needle and (found := self._line(file_line).find(needle, col - 1)) >= 0:
            col = found + 1
        return file_line, col

    def _line(self, number: int) -> str:
        return self._lines[number - 1] if 0 < number <= len(self._lines) else ""

    def _line_start(self, number: int, node: yaml.ScalarNode, start_line: int, col: int) -> int:
        """The column where the string's text starts on file line `number`: its own column on
        its first line (after a quote), the indentation after."""
        if number == start_line and node.style not in ("|", ">"):
            return col + (node.style in ("'", '"'))
        text = self._line(number)
        return len(text) - len(text.lstrip()) + 1

    @cached_property
    def _lines(self) -> list[str]:
        """The file's lines, split when a diagnostic first asks (a valid file never does)."""
        return self._text.splitlines()

    def _entry_position(self, entry: _Entry) -> Position:
        return _mark(entry.key if entry.key is not None else entry.value)

    def _walk(self, path: Sequence[PathKey]) -> list[_Entry]:
        if self._root is None:
            return [_Entry(None, yaml.ScalarNode(_TAG + "null", "", _NO_MARK, _NO_MARK))]
        chain = [_Entry(None, self._root)]
        for step in path:
            entry = self._child(chain[-1].value, step)
            if entry is None:
                break
            chain.append(entry)
        return chain

    def _child(self, node: yaml.Node, step: PathKey) -> _Entry | None:
        if isinstance(node, yaml.SequenceNode):
            if isinstance(step, int) and 0 <= step < len(node.value):
                return _Entry(None, node.value[step])
            return None
        if isinstance(node, yaml.MappingNode):
            return self._entries(node).get(str(step))
        return None

    def _entries(self, node: yaml.MappingNode) -> dict[str, _Entry]:
        """The mapping's entries by key (merged `<<` entries after its own), built once."""
        entries = self._index.get(id(node))
        if entries is None:
            entries = {}
            merged: list[yaml.Node] = []
            for key, value in node.value:
                if key.tag == _MERGE:
                    merged.extend(value.value if isinstance(value, yaml.SequenceNode) else [value])
                elif isinstance(key, yaml.ScalarNode):
                    entries.setdefault(str(key.value), _Entry(key, value))
            for source in merged:
                if isinstance(source, yaml.MappingNode):
                    for name, entry in self._entries(source).items():
                        entries.setdefault(name, entry)
            self._index[id(node)] = entries
        return entries


_NO_MARK = yaml.Mark("", 0, 0, 0, "", 0)


def _mark(node: yaml.Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


# ---------------------------------------------------------------------------- loading


def load_file(
    path: str | Path,
    environ: Mapping[str, str] | None = None,
    unset_keys: list[UnsetKey] | None = None,
) -> Loaded:
    """Read and load a workflow file; raises SpecError pointing at the problem.

    With `unset_keys` (offline commands), unset provider key variables are noted there.
    """
    label = str(path)
    try:
        raw = _read_bounded(path)
    except IsADirectoryError:
        raise SpecError(
            "is a directory, not a workflow file",
            file=label,
            code="E100",
            hint="name a .yaml file, or give the directory to `agnoctl validate`",
        ) from None
    except OSError as exc:
        raise SpecError(
            f"cannot read the file: {exc.strerror or exc}",
            file=label,
            code="E100",
            hint="check the path and its permissions",
        ) from None
    return load_text(raw, label, environ, unset_keys)


def _read_bounded(path: str | Path) -> bytes:
    """The file's first ``MAX_FILE_BYTES + 1`` bytes; an OSError for anything but a regular
    file. A named pipe would block the open until a writer came, and a device never ends:
    the file is opened without blocking and its descriptor checked (not its path before the
    open, which another process could swap in between)."""
    with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        if not stat.S_ISREG(mode):
            kind = "a named pipe" if stat.S_ISFIFO(mode) else "a device or a socket"
            raise OSError(errno.EINVAL, f"not a regular file ({kind})")
        return handle.read(MAX_FILE_BYTES + 1)


def load_text(
    text: str | bytes,
    file: str = "<string>",
    environ: Mapping[str, str] | None = None,
    unset_keys: list[UnsetKey] | None = None,
) -> Loaded:
    """Load workflow text (bytes must be UTF-8); raises SpecError pointing at the problem.

    With `unset_keys` (offline commands), unset provider key variables are noted there.
    """
    if isinstance(text, bytes):
        text = _decode(text, file)
    else:
        _check_text(text, file)
    with paused_gc():
        return _load(text, file, environ, unset_keys)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Building a large tree triggers the cycle collector over and over (tripling the load
    time of a 10,000-step file, and again in validation); the trees hold no garbage cycles,
    so pause it meanwhile."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load(
    text: str, file: str, environ: Mapping[str, str] | None, unset_keys: list[UnsetKey] | None
) -> Loaded:
    root = _compose(text, file)
    # `---` alone (what a cleared file keeps) is a document holding no value: empty too.
    if root is None or (isinstance(root, yaml.ScalarNode) and root.value == "" and not root.style):
        raise SpecError(
            "the file is empty",
            file=file,
            code="E107",
            hint="a workflow starts with `version: 1`; `agnoctl init` writes one",
        )
    if not isinstance(root, yaml.MappingNode):
        kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
        raise _error_at(
            _mark(root),
            file,
            f"the top level is {kind}, not a mapping",
            "E108",
            "a workflow is a mapping: version, name, steps, ...",
        )
    if "&" in text:  # without anchors there are no aliases: the builder bounds the depth
        _check_bounds(root, file)
    source = SourceMap(file, root, text)
    builder = _Builder(file, text, os.environ if environ is None else environ)
    if unset_keys is not None:
        builder.allow_unset_keys(_key_nodes(source, root, shared="&" in text), unset_keys)
    data = builder.build(root, 0)
    builder.raise_unset()
    return Loaded(data, source)


def _key_nodes(source: SourceMap, root: yaml.MappingNode, shared: bool) -> dict[int, str]:
    """The `providers.<name>.api_key` value nodes (by id) and their provider's name.

    With aliases in the file (`shared`), a key node that is also used elsewhere is left out:
    its variable is then not used only as a key."""
    providers = source.node(("providers",))
    if not isinstance(providers, yaml.MappingNode):
        return {}
    keys: dict[int, str] = {}
    for name_node, _ in providers.value:
        if type(name_node) is _SCALAR and name_node.tag != _MERGE:
            node = source.node(("providers", name_node.value, "api_key"))
            if isinstance(node, yaml.ScalarNode):  # a merged key: the provider it is written in
                keys.setdefault(id(node), str(name_node.value))
    if shared and keys:
        for reused in _reused(root, keys.keys()):
            del keys[reused]
    return keys


def _reused(root: yaml.Node, wanted: Iterable[int]) -> set[int]:
    """Which of the `wanted` nodes (by id) more than one place of the tree refers to."""
    wanted = set(wanted)
    seen: set[int] = set()
    reused: set[int] = set()
    visited = {id(root)}
    stack = [root]
    while stack:  # each node once: the bounds check has already refused alias bombs
        for child in _children(stack.pop()):
            key = id(child)
            if key in wanted:
                (reused if key in seen else seen).add(key)
            if key not in visited:
                visited.add(key)
                stack.append(child)
    return reused


def _too_large(file: str) -> None:
    raise SpecError(
        f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB",
        file=file,
        code="E101",
        hint="a workflow this large is likely generated by mistake; split it",
    )


def _check_text(text: str, file: str) -> None:
    """Text given in-process obeys the file rules: the size cap, and encodable as UTF-8."""
    if len(text) > MAX_FILE_BYTES:
        _too_large(file)
    at = not_utf8_at(text)
    if at is not None:
        message = "the text is not valid Unicode (a lone surrogate)"
        raise _not_utf8(message, file, _text_position(text, at))


def _decode(raw: bytes, file: str) -> str:
    if len(raw) > MAX_FILE_BYTES:
        _too_large(file)
    wide = _wide_encoding(raw)
    if wide is not None:
        raise _error_at(
            (1, 1),
            file,
            f"the file is {wide} text, not UTF-8",
            "E102",
            "save the file as UTF-8 (in PowerShell: `Out-File -Encoding utf8`, not `>`)",
        )
    if b"\x00" in raw:
        raise _error_at(
            _byte_position(raw, raw.index(b"\x00")),
            file,
            "the file is binary (it holds NUL bytes), not YAML text",
            "E103",
            "name the workflow's .yaml file",
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        where = _byte_position(raw, exc.start)
        message = f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x})"
        raise _not_utf8(message, file, where) from None


def _wide_encoding(raw: bytes) -> str | None:
    """UTF-16 or UTF-32, when the file starts as such text does: with its byte order mark, or
    (no mark) with a NUL beside its first character, as ASCII text in them does. Windows
    PowerShell's `>` and Notepad's "Unicode" save so; the NULs would call it binary."""
    if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        name = "UTF-32"
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        name = "UTF-16"
    elif len(raw) >= 4 and (raw[:3] == b"\x00\x00\x00" or raw[1:4] == b"\x00\x00\x00"):
        name = "UTF-32-LE" if raw[0] else "UTF-32-BE"
    elif len(raw) >= 2 and (raw[0] == 0) != (raw[1] == 0):
        name = "UTF-16-LE" if raw[0] else "UTF-16-BE"
    else:
        return None
    try:  # text in that encoding, or bytes that only start like it (binary after all)
        text = raw.decode(name)
    except UnicodeDecodeError:
        return None
    return name[:6] if "\x00" not in text else None


def _not_utf8(message: str, file: str, where: Position) -> SpecError:
    """Text that is not UTF-8 (E102), from a file or given in-process."""
    return _error_at(where, file, message, "E102", "save the file as UTF-8")


class UnsetVariables(SpecError):
    """Environment variables the file reads that are not set (E117), every one of them in
    ``every`` (in file order); the error itself is the first."""

    def __init__(self, every: list[SpecError]) -> None:
        first = every[0]
        super().__init__(
            first.message,
            file=first.file,
            line=first.line,
            col=first.col,
            code=first.code,
            hint=first.hint,
        )
        self.every = every


def _first_place(first: yaml.Node, again: yaml.Node) -> str:
    """Where a repeated key first was: its line, and its column when both are on one line
    (`{a: 1, a: 2}`), where the line alone names the error's own place."""
    line, col = _mark(first)
    return f"{line}:{col}" if line == _mark(again)[0] else f"line {line}"


def _error_at(where: Position, file: str, message: str, code: str, hint: str) -> SpecError:
    """A spec error at ``where`` (line, column) of ``file``."""
    line, col = where
    return SpecError(message, file=file, line=line, col=col, code=code, hint=hint)


def _byte_position(raw: bytes, offset: int) -> Position:
    line_start = raw.rfind(b"\n", 0, offset) + 1
    column = len(raw[line_start:offset].decode("utf-8", errors="replace"))
    return raw.count(b"\n", 0, offset) + 1, column + 1


def _compose(text: str, file: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_Loader)  # a safe loader; nodes only
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text, file) from None
    except yaml.reader.ReaderError as exc:
        raise _error_at(
            _text_position(text, exc.position),
            file,
            f"the file holds a control character (#x{exc.character:04x}) YAML does not allow",
            "E103",
            "remove it, or write it as an escape in a double-quoted string",
        ) from None
    except RecursionError:  # the pure-Python parser recurses once per nesting level
        raise _too_deep(file, (1, 1)) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"YAML error: {exc}", file=file, code="E104") from None


def _text_position(text: str, index: int) -> Position:
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, file: str) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    where = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    line, col = where
    problem = (exc.problem or "").strip()
    context = (exc.context or "").strip()
    lines = text.splitlines()
    here = lines[line - 1][col - 1 : col] if 0 < line <= len(lines) else ""
    if here == "\t" and ("cannot start any token" in problem or "tab character" in problem):
        return _error_at(
            where,
            file,
            "a tab character in the indentation",
            "E105",
            "YAML indents with spaces only; replace the tabs",
        )
    if context.startswith("while scanning a quoted scalar") and exc.context_mark:
        start = exc.context_mark
        return _error_at(
            (start.line + 1, start.column + 1),
            file,
            "a quoted string is never closed",
            "E106",
            "add the closing quote (or escape the quote inside the string)",
        )
    if "found undefined alias" in problem:
        return _error_at(
            where,
            file,
            f"an alias ({here or '*'}...) names no anchor",
            "E116",
            "define `&name` before using `*name`",
        )
    if "expected a single document" in context:
        return _error_at(
            where,
            file,
            "the file holds more than one YAML document (`---`)",
            "E109",
            "keep one workflow per file",
        )
    if "maximum nesting depth" in problem:
        return _too_deep(file, where)
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    hint = "check the indentation and quoting around this position"
    if "mapping values are not allowed" in problem:
        hint = 'a value that holds `: ` must be quoted ("a: b"), or the line is mis-indented'
    return _error_at(where, file, message, "E104", hint)


def _too_deep(file: str, where: Position) -> SpecError:
    return _error_at(
        where,
        file,
        f"the file nests deeper than {MAX_DEPTH} levels",
        "E113",
        "flatten the structure",
    )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_bounds(root: yaml.Node, file: str) -> None:
    """Refuse recursive aliases, alias bombs and deep nesting in one pass over unique nodes.

    The node graph shares aliased nodes, so this is linear in the file's size even when the
    data it describes is exponential.
    """
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, depth)
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        key = id(node)
        if closing:
            open_nodes.discard(key)
            sizes = [measured[id(child)] for child in _children(node)]
            measured[key] = (
                1 + sum(size for size, _ in sizes),
                1 + max((depth for _, depth in sizes), default=0),
            )
            if measured[key][1] > MAX_DEPTH:
                raise _too_deep(file, _mark(node))
            continue
        if key in measured:
            continue
        if key in open_nodes:
            raise _error_at(
                _mark(node),
                file,
                "an alias refers to a node that contains it (a recursive alias)",
                "E112",
                "aliases must not point at their own enclosing node",
            )
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in measured)
    expanded = measured[id(root)][0]
    if expanded - len(measured) > MAX_ALIAS_NODES:
        raise SpecError(
            f"aliases expand to {expanded:,} values, more than the file's own "
            f"{len(measured):,} + {MAX_ALIAS_NODES:,}",
            file=file,
            code="E111",
            hint='this looks like a "billion laughs" alias bomb; use fewer aliases',
        )


class _Builder:
    """Node tree → plain data: dicts, lists, str, int, float, bool, None."""

    def __init__(self, file: str, text: str, environ: Mapping[str, str]) -> None:
        self._file = file
        self._text = text
        self._environ = environ
        self._key_nodes: dict[int, str] = {}
        self._unset_keys: list[UnsetKey] = []
        self._unset: dict[Position, SpecError] = {}  # E117 by place: each is reported
        self._constructor = yaml.SafeLoader("")
        self._resolver = yaml.resolver.Resolver()
        self._scalars: dict[str, Callable[[yaml.ScalarNode], Any]] = {
            _TAG + "null": lambda node: None,
            _TAG + "bool": self._constructor.construct_yaml_bool,
            _TAG + "int": self._integer,
            _TAG + "float": self._constructor.construct_yaml_float,
            _TAG + "str": self._string,
            _TAG + "timestamp": lambda node: node.value,  # dates stay as written
        }

    def allow_unset_keys(self, key_nodes: dict[int, str], noted: list[UnsetKey]) -> None:
        """Read an unset variable in these key nodes as empty, and note it in `noted`."""
        self._key_nodes = key_nodes
        self._unset_keys = noted

    def build(self, node: yaml.Node, depth: int) -> Any:
        if isinstance(node, yaml.ScalarNode):
            convert = self._scalars.get(node.tag)
            if convert is None:
                self._unsupported(node)
            return convert(node)
        if depth >= MAX_DEPTH:
            raise _too_deep(self._file, _mark(node))
        if isinstance(node, yaml.SequenceNode) and node.tag == _TAG + "seq":
            items = []
            for item in node.value:
                # Plain strings, the commonest items, need no conversion (see _mapping).
                if type(item) is _SCALAR and item.tag == _STR and "${" not in item.value:
                    items.append(item.value)
                else:
                    items.append(self.build(item, depth + 1))
            return items
        if isinstance(node, yaml.MappingNode) and node.tag == _TAG + "map":
            return self._mapping(node, depth)
        return self._unsupported(node)

    def _integer(self, node: yaml.ScalarNode) -> int:
        try:
            return int(self._constructor.construct_yaml_int(node))
        except ValueError:  # a decimal longer than Python reads from text (4,300 digits)
            digits = sum(char.isdigit() for char in node.value)
            raise self._error(
                _mark(node),
                (
                    f"an integer of {digits:,} digits, more than the "
                    f"{sys.get_int_max_str_digits():,} that can be read"
                ),
                "E119",
                "no count, limit or price needs this many digits; quote it to keep text",
            ) from None

    def _error(self, where: Position, message: str, code: str, hint: str) -> SpecError:
        return _error_at(where, self._file, message, code, hint)

    def _unsupported(self, node: yaml.Node) -> NoReturn:
        line, col = _mark(node)
        tag = node.tag.replace(_TAG, "!!")
        raise SpecError(
            f"the YAML tag {tag} is not supported",
            file=self._file,
            line=line,
            col=col,
            code="E114",
            hint="use plain YAML values (strings, numbers, booleans, lists, maps)",
        )

    def _mapping(self, node: yaml.MappingNode, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merges: list[yaml.Node] = []
        scalars = self._scalars
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            key = key_node.value if type(key_node) is _SCALAR else self._key(key_node)
            if key in result:
                self._duplicate(node, key_node, key)
            # Most values are scalars, most of them strings without `${`: convert them here
            # rather than through `build` (the composer's scalar values are str already).
            if type(value_node) is _SCALAR:
                if value_node.tag == _STR and "${" not in value_node.value:
                    result[key] = value_node.value
                    continue
                convert = scalars.get(value_node.tag)
                if convert is None:
                    self._unsupported(value_node)
                result[key] = convert(value_node)
            else:
                result[key] = self.build(value_node, depth + 1)
        for merged in self._merge_sources(merges):
            for key, value in self._mapping(merged, depth).items():
                result.setdefault(key, value)
        return result

    def _duplicate(self, node: yaml.MappingNode, key_node: yaml.Node, key: str) -> NoReturn:
        first = next(k for k, _ in node.value if k.tag != _MERGE and self._key(k) == key)
        raise self._error(
            _mark(key_node),
            f"duplicate key {key!r} (first at {_first_place(first, key_node)})",
            "E110",
            "a key may appear once per mapping; merge the two entries",
        )

    def _merge_sources(self, merges: list[yaml.Node]) -> list[yaml.MappingNode]:
        sources: list[yaml.MappingNode] = []
        for value in merges:
            items = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for item in items:
                if not isinstance(item, yaml.MappingNode):
                    raise self._error(
                        _mark(item),
                        "`<<` merges mappings only",
                        "E114",
                        "write `<<: *anchor_of_a_map`",
                    )
                sources.append(item)
        return sources

    def _key(self, node: yaml.Node) -> str:
        if isinstance(node, yaml.ScalarNode):
            return str(node.value)
        raise self._error(
            _mark(node),
            "a mapping key must be a plain name, not a list or mapping",
            "E115",
            "write the key as a name followed by `:`",
        )

    def _string(self, node: yaml.ScalarNode) -> Any:
        value = str(node.value)
        if "${" not in value:
            return value
        parts = self._parts(value, node)
        result = "".join(parts)
        if len(parts) == 1:  # only `$${` escapes
            return result
        if node.style in (None, "") and WHOLE_INTERPOLATION.fullmatch(value) and result:
            tag = self._resolver.resolve(  # type: ignore[no-untyped-call]
                yaml.ScalarNode, result, (True, False)
            )
            if tag in _RERESOLVED:
                return self._scalars[tag](yaml.ScalarNode(tag, result))
        # The values are data: a field rendered as a template renders them as literals.
        return Interpolated(parts)

    def _parts(self, value: str, node: yaml.ScalarNode) -> list[str]:
        """The author's text and the substituted values, alternating (see Interpolated)."""
        parts: list[str] = []
        text, start = "", 0
        for match in _INTERPOLATION.finditer(value):
            text += value[start : match.start()]
            start = match.end()
            if match.group(0) == "$${":
                text += "${"
            else:
                parts += [text, self._substitute(match, node)]
                text = ""
        return [*parts, text + value[start:]]

    def _substitute(self, match: re.Match[str], node: yaml.ScalarNode) -> str:
        name, default = match.group(1), match.group(2)
        if name is None:
            raise self._error(
                self._locate(node, match),
                "`${` starts no valid ${NAME} or ${NAME:-default}",
                "E118",
                "write $${ for a literal ${; names are letters, digits and _",
            )
        if default is not None and "${" in default:
            # The default ends at the first `}`: the inner one's, and the outer `}` would be
            # kept as text, whether the variable is set or not.
            raise self._error(
                self._locate(node, match),
                "a default cannot hold `${`: a variable in a default is not read",
                "E118",
                "give the default as plain text, or set the variable",
            )
        value = self._environ.get(name)
        if value and not_utf8_at(value) is not None:
            raise self._error(
                self._locate(node, match),
                f"environment variable {name} is not UTF-8 text",
                "E120",
                f"set {name} to UTF-8 text: its bytes are in another encoding",
            )
        if value:
            return value
        if default is not None:
            return default
        if value is not None:
            return value
        line, col = self._locate(node, match)
        provider = self._key_nodes.get(id(node))
        if provider is not None:
            unset = UnsetKey(name, provider, self._file, line, col)
            if unset not in self._unset_keys:  # a merged key is built once per provider
                self._unset_keys.append(unset)
            return ""
        hint = f"set {name}, or give a default: ${{{name}:-value}}"
        message = f"environment variable {name} is not set"
        self._unset[line, col] = self._error((line, col), message, "E117", hint)
        return ""

    def raise_unset(self) -> None:
        """Raise UnsetVariables when the file read a variable that is not set: each one is
        collected as the tree is built, so a CI job missing three learns of all three."""
        if self._unset:
            raise UnsetVariables([self._unset[where] for where in sorted(self._unset)])

    def _locate(self, node: yaml.ScalarNode, match: re.Match[str]) -> Position:
        # The n-th `${` of the value is the n-th one in the raw text (quotes and folding
        # aside); fall back to the scalar's start when the raw text disagrees.
        ordinal = sum(1 for m in _INTERPOLATION.finditer(match.string, 0, match.start()))
        start, end = node.start_mark.index, node.end_mark.index
        raw = list(_INTERPOLATION.finditer(self._text, start, end))
        if ordinal < len(raw):
            return _text_position(self._text, raw[ordinal].start())
        return _mark(node)


# ---------------------------------------------------------------------------- data files


def load_data_file(path: str | Path, what: str) -> Loaded:
    """Load a YAML (or JSON) file of data handed in beside a workflow: `what` names it
    ("inputs file", "fixtures file"). It is held to the workflow file's bounds (size, binary
    content, aliases, nesting, tags, duplicate keys, long integers), and only to them: its top
    level may be anything (None when the file is empty), and `${...}` stays as written, since
    values given as data never read the environment. Raises SpecError pointing at the problem.
    """
    label = str(path)
    try:
        raw = _read_bounded(path)
    except OSError as exc:
        raise SpecError(
            f"cannot read the {what}: {exc.strerror or exc}",
            file=label,
            code="E100",
            hint="check the path and its permissions",
        ) from None
    text = _decode(raw, label)
    with paused_gc():
        root = _compose(text, label)
        if root is None:
            return Loaded(None, SourceMap.empty(label))
        if "&" in text:
            _check_bounds(root, label)
        return Loaded(_DataBuilder(label, text, {}).build(root, 0), SourceMap(label, root, text))


class _DataBuilder(_Builder):
    """Strings as written: `${...}` in a data file is text, not a variable."""

    def _string(self, node: yaml.ScalarNode) -> Any:
        return str(node.value)


__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "WHOLE_INTERPOLATION",
    "Loaded",
    "SourceMap",
    "UnsetKey",
    "UnsetVariables",
    "load_data_file",
    "load_file",
    "load_text",
    "make_loader",
    "paused_gc",
]
