"""The response cache: model replies on disk, keyed by what was asked, never by who asked.

A key is the SHA-256 of a canonical JSON of the request's meaning: the provider's protocol and
base URL, the model, the messages (an attachment by its media type and the SHA-256 of its
contents, or its URL), the sampling parameters, the output schema and the tools.
Credentials and headers are never part of it, and the stored value is the reply alone, so a
cache directory holds no secret that was sent. A reply that itself holds a secret (a model that
repeats a key quoted in its prompt) is not stored at all: masked, it would replay as a different
reply, and unmasked, the key would sit on disk.

Storage is diskcache (SQLite in WAL mode), which makes one directory safe to share between
concurrent runs. Values are JSON text, never pickle: a directory shared between agnoctl versions
(or written by anything else) must never be able to execute code when read, so the ``Disk``
below refuses to load anything but text.

A cache is disposable: a run whose cache database is damaged (garbage written over it, cut
short) goes on without it and says so, ``--cache-only`` fails on it, and ``agnoctl cache
clear`` deletes it. A database damaged while the run has it open is passed over the same
way, from the call that finds it: the run's calls go to the model, and a warning says so
once. A ``--cache-dir`` with a file in its way is refused before the run.

A hit is a single indexed SQLite read (tens of microseconds, p99 well under a millisecond:
``bench/cache_bench.py``), so lookups run directly on the event loop. A write is usually a
fraction of a millisecond too, but now and then SQLite checkpoints its log and a write takes
tens of milliseconds; writes therefore go to a worker thread, where such a pause stalls no
other task of the run.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio

from agnoctl.errors import CacheDamaged, CacheMiss, UsageError
from agnoctl.providers.attachments import file_name
from agnoctl.providers.base import (
    Attachment,
    CallContext,
    Message,
    ModelReply,
    ModelRequest,
    Provider,
    ToolCall,
    ToolSpec,
    Usage,
)

if TYPE_CHECKING:
    import diskcache  # type: ignore[import-untyped]  # ships no type hints

DEFAULT_CACHE_DIR = Path(".agnoctl") / "cache"
CacheMode = Literal["use", "off", "only"]
CACHED_PROTOCOLS = frozenset({"openai", "anthropic", "ollama"})

# Bump when the key material or the stored value changes shape: old entries become misses.
_FORMAT = "agnoctl-cache/1"
# diskcache culls least-recently-stored entries beyond this size.
_SIZE_LIMIT = 4 * 2**30


@functools.cache
def _text_only_disk() -> type[Any]:
    """A diskcache ``Disk`` that stores and loads text only; pickled data is never loaded.

    Made when a cache directory is first opened: diskcache is loaded then, so a run that
    calls no model server (the mock's, a --no-cache run) never loads it."""
    import diskcache

    class TextOnlyDisk(diskcache.Disk):  # type: ignore[misc]  # Disk is untyped (Any)
        def put(self, key: object) -> tuple[object, bool]:
            if not isinstance(key, str):
                raise TypeError("cache keys are str")
            return super().put(key)  # type: ignore[no-any-return]

        def get(self, key: object, raw: bool) -> object:
            # Key iteration lands here; a pickled key (not agnoctl's) is handed back unread.
            return super().get(key, raw) if raw else _FOREIGN_KEY

        def store(self, value: object, read: bool, key: object = diskcache.core.UNKNOWN) -> Any:
            if not isinstance(value, str):
                raise TypeError("cache values are JSON text")
            return super().store(value, read, key=key)

        def fetch(self, mode: int, filename: str | None, value: object, read: bool) -> object:
            if mode not in (diskcache.core.MODE_RAW, diskcache.core.MODE_TEXT):
                # diskcache treats OSError from fetch as "gone": the entry reads as a miss.
                raise _ForeignEntry(f"an entry stored in mode {mode}")
            return super().fetch(mode, filename, value, read)

    return TextOnlyDisk


_FOREIGN_KEY = object()
_T = TypeVar("_T")


class _ForeignEntry(OSError):
    """An entry agnoctl did not write (pickle or binary); it is treated as absent."""


@dataclass(frozen=True, slots=True)
class CacheStats:
    directory: Path
    entries: int
    size_bytes: int
    oldest: float | None  # creation time (epoch seconds) of the oldest entry
    newest: float | None
    hits: int  # in this process, since the cache was opened
    misses: int


class ResponseCache:
    """Model replies on disk under ``directory``; safe to share between processes.

    The directory is opened (and created) on first use, so a run that never calls a cacheable
    provider leaves no cache behind. ``redact`` is the run's secret masker: a reply it would
    change holds a secret and is not stored.
    """

    def __init__(
        self, directory: Path = DEFAULT_CACHE_DIR, *, redact: Callable[[str], str] | None = None
    ) -> None:
        self.directory = Path(directory)
        self._redact = redact
        self._opened: diskcache.Cache | None = None
        self._opening = threading.Lock()
        self.hits = 0
        self.misses = 0
        self._asked: set[tuple[str, str, int | None, str]] = set()
        self.damage: str | None = None
        """Why the database stopped being readable during the run (SQLite's words), if it did:
        from then on the cache is passed over."""
        self._warned = False

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def key(provider: Provider, request: ModelRequest) -> str:
        """The cache key of ``request`` sent to ``provider`` (credentials are never part of it)."""
        return request_key(provider.protocol, provider.base_url, request)

    def get(self, key: str) -> ModelReply | None:
        raw = self._passing_over_damage(lambda store: store.get(key))
        entry = _decode(raw) if isinstance(raw, str) else None
        reply = None if entry is None else _reply_from_json(entry.get("reply"))
        if reply is None:
            self.misses += 1
            return None
        self.hits += 1
        return reply

    def repeated(self, key: str, context: CallContext) -> bool:
        """Whether this cache already saw ``key`` asked by the same step, item and purpose."""
        mark = (key, context.step_id, context.index, context.purpose)
        if mark in self._asked:
            return True
        self._asked.add(mark)
        return False

    def put(self, key: str, reply: ModelReply) -> None:
        entry = {"format": _FORMAT, "created": time.time(), "reply": _reply_to_json(reply)}
        text = canonical_json(entry)
        if self._redact is not None and self._redact(text) != text:
            return  # the reply holds a secret: see the module docstring
        self._passing_over_damage(lambda store: store.set(key, text, retry=True))

    def get_tool_result(self, key: str) -> tuple[bool, str, bool, tuple[Attachment, ...]] | None:
        """A recorded tool result: ``(ok, text, truncated, images)``, or None."""
        raw = self._passing_over_damage(lambda store: store.get(key))
        entry = _decode(raw) if isinstance(raw, str) else None
        result = None if entry is None else entry.get("tool_result")
        if not isinstance(result, dict):
            return None
        try:
            images = tuple(Attachment(**a) for a in result.get("attachments", ()))
            return bool(result["ok"]), str(result["text"]), bool(result["truncated"]), images
        except (KeyError, TypeError):  # not a result: a miss, as for a reply (_reply_from_json)
            return None

    def put_tool_result(
        self,
        key: str,
        ok: bool,
        text: str,
        truncated: bool,
        attachments: tuple[Attachment, ...] = (),
    ) -> None:
        """Record a tool result with its images (an MCP server's, so that a replay sends them
        again); its text is masked already (``tools.base.cut``), and one that still holds a
        secret is not stored, as a reply would not be. The images' base64 is not searched for
        secrets: it is no text, and a chance match would only lose the record."""
        result: dict[str, Any] = {"ok": ok, "text": text, "truncated": truncated}
        if self._redact is not None:
            checked = canonical_json(result)
            if self._redact(checked) != checked:
                return
        if attachments:  # absent otherwise: results without images are stored as they were
            result["attachments"] = [_recorded_attachment(a) for a in attachments]
        entry = {"format": _FORMAT, "created": time.time(), "tool_result": result}
        value = canonical_json(entry)
        self._passing_over_damage(lambda store: store.set(key, value, retry=True))

    def warn_of_damage(self) -> None:
        """Log, once, that the database broke during the run and the run goes without it."""
        if self.damage is None or self._warned:
            return
        self._warned = True
        from agnoctl.log_config import get_logger  # only a damaged cache has anything to say

        get_logger().warning("cache_passed_over", note=going_without(self.directory, self.damage))

    def _passing_over_damage(self, operation: Callable[[diskcache.Cache], _T]) -> _T | None:
        """``operation`` on the store; None once the database cannot be read (it was damaged
        after ``check_cache`` passed it) or a reply's own file cannot be written (a full
        disk): a cache only saves calls, so the run goes on."""
        if self.damage is not None:
            return None
        import sqlite3  # the store's own database (loaded with it)

        try:
            return operation(self._store)
        except CacheDamaged as damaged:  # damaged before this process first opened it
            self.damage = damaged.reason
        except sqlite3.DatabaseError as exc:  # damaged while open
            self.damage = str(exc)
        except OSError as exc:  # a reply past 32 KB is a file of its own: ENOSPC, EIO, ...
            self.damage = exc.strerror or str(exc)
        return None

    def stats(self) -> CacheStats:
        created = [entry["created"] for _, entry in self._entries()]
        return CacheStats(
            directory=self.directory,
            entries=len(created),
            size_bytes=int(self._store.volume()),
            oldest=min(created, default=None),
            newest=max(created, default=None),
            hits=self.hits,
            misses=self.misses,
        )

    def clear(self) -> int | None:
        """Delete every entry; returns how many there were. A damaged database is deleted
        whole, its entries uncounted (None)."""
        try:
            store = self._store
        except CacheDamaged:
            _delete_database(self.directory)
            return None
        return int(store.clear(retry=True))

    def prune(self, older_than: float) -> int:
        """Delete entries created more than ``older_than`` seconds ago; returns how many."""
        cutoff = time.time() - older_than
        stale = [key for key, entry in self._entries() if entry["created"] < cutoff]
        return sum(1 for key in stale if self._store.delete(key, retry=True))

    def close(self) -> None:
        if self._opened is not None:
            self._opened.close()
            self._opened = None

    @property
    def _store(self) -> diskcache.Cache:
        # Writes run in worker threads: only one of them may open the directory.
        with self._opening:
            if self._opened is None:
                self._opened = _open_store(self.directory)
            return self._opened

    def _entries(self) -> list[tuple[str, dict[str, Any]]]:
        """Every readable entry; unreadable or foreign ones are left alone."""
        found = []
        for key in list(self._store.iterkeys()):
            raw = self._store.get(key) if isinstance(key, str) else None
            entry = _decode(raw) if isinstance(raw, str) else None
            if entry is not None:
                found.append((key, entry))
        return found


def check_cache(directory: Path, mode: CacheMode) -> str | None:
    """Whether a run in ``mode`` can use the cache at ``directory``, asked before it starts.

    A directory with a file in its way, or not writable, is a wrong setting: UsageError. A
    damaged database is passed over (a cache only saves calls): the note returned says so,
    and the run goes without the cache. ``only`` has no other source of replies: there it is
    an error, as is a directory that holds no cache (a typo, a CI cache not restored): every
    call would miss. Else a directory not made yet is fine; the first stored reply makes it.
    """
    if mode == "off":
        return None
    _check_place(directory)
    if mode == "only" and not holds_cache(directory):
        raise UsageError(
            f"--cache-only replays the response cache, but {directory} holds none: run once "
            "without --cache-only to fill it, or name the cache with --cache-dir"
        )
    reason = _damage(directory)
    if reason is None:
        return None
    if mode == "only":
        raise UsageError(
            f"the response cache {directory} cannot be read ({reason}) and --cache-only "
            f"has no other source of replies: `agnoctl cache clear --cache-dir {directory}`, "
            "then run without --cache-only to fill it again"
        )
    return going_without(directory, reason)


def going_without(directory: Path, reason: str) -> str:
    """What a run says when it passes over a damaged cache."""
    return (
        f"the response cache {directory} cannot be read ({reason}); this run goes without "
        f"it (`agnoctl cache clear --cache-dir {directory}` starts it afresh)"
    )


def holds_cache(directory: Path) -> bool:
    """Whether ``directory`` holds a response cache: the cache commands look into no other
    (a --cache-dir naming a project's folder gets no database of theirs). A --cache-dir that
    is a file, or below one, is a mistake to name, not an empty cache to report."""
    _nearest_folder(directory)
    return (directory / _DATABASE_FILES[0]).is_file()


def _check_place(directory: Path) -> None:
    """The directory, or the nearest folder above it that exists, must be a writable folder."""
    place = _nearest_folder(directory)
    if place is not None and not os.access(place, os.W_OK | os.X_OK):
        raise UsageError(f"--cache-dir {directory}: {place} is not writable")


def _nearest_folder(directory: Path) -> Path | None:
    """The directory, or the nearest folder above it that exists; a file in the way is a
    usage error."""
    for place in (directory, *directory.parents):
        if place.exists():
            if not place.is_dir():
                raise UsageError(f"--cache-dir {directory}: {place} is a file, not a directory")
            return place
    return None


def _open_store(directory: Path) -> diskcache.Cache:
    reason = _damage(directory)
    if reason is not None:
        raise CacheDamaged(str(directory), reason)
    import sqlite3  # the store's database: a run whose calls the cache never sees opens none

    import diskcache  # loaded once a cache is opened (``_text_only_disk``)

    try:
        # Its user's alone, as the run directory's files are: it holds what models answered.
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return diskcache.Cache(str(directory), disk=_text_only_disk(), size_limit=_SIZE_LIMIT)
    except (sqlite3.Error, OSError) as exc:  # a permission, a lock held too long
        raise UsageError(f"cannot open the response cache {directory}: {exc}") from None


def _damage(directory: Path) -> str | None:
    """Why the cache database cannot be read ("file is not a database", "database disk image
    is malformed"), or None. Opening the cache to find out took 22 ms (diskcache writes its
    settings on every open); reading the header and two tables read-only takes under 1 ms."""
    database = directory / _DATABASE_FILES[0]
    if not database.is_file():
        return None
    import sqlite3

    try:
        connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:  # not readable at all: opening the cache will say why
        return None
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        connection.execute("SELECT count(*) FROM Settings").fetchone()
    except sqlite3.OperationalError:  # an empty file (no tables yet) is a new cache
        return None
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        connection.close()
    return None


# What diskcache writes: its database, and values over 32 KiB in files two folders down.
_DATABASE_FILES = ("cache.db", "cache.db-wal", "cache.db-shm")
_VALUE_FOLDERS = "[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]"


def _delete_database(directory: Path) -> None:
    """Delete what diskcache wrote under ``directory``, and nothing else that is there."""
    for name in _DATABASE_FILES:
        (directory / name).unlink(missing_ok=True)
    for folder in directory.glob(_VALUE_FOLDERS):
        for value in folder.glob("*.val"):
            value.unlink()
        for empty in (folder, folder.parent):
            with contextlib.suppress(OSError):  # not empty: something else lives there
                empty.rmdir()


async def cached_request(
    cache: ResponseCache | None,
    provider: Provider,
    request: ModelRequest,
    *,
    mode: CacheMode = "use",
    prepare: Callable[[ModelRequest], Awaitable[ModelRequest]] | None = None,
) -> tuple[ModelReply, bool]:
    """Send ``request`` through the cache: ``(reply, True)`` on a hit, else the provider's.

    ``off`` (or no cache) always asks the provider; ``only`` never does and raises
    ``CacheMiss`` naming the step. Only model servers (``CACHED_PROTOCOLS``) are cached: the
    mock and function providers answer by their fixtures or code and the call's step, not by
    the request alone, and cost nothing anyway. In ``use`` mode a request that this process
    already answered for the same step and item is a retry of a rejected reply (it did not
    parse, validate or pass a gate), so it skips the read: replaying it could never succeed.

    ``prepare`` makes the request that is sent from the one the key is made of, only when one
    is sent: an agent's MCP tools are keyed by their entries and listed (their servers
    started) only for a call that goes out.
    """
    if cache is None or mode == "off" or provider.protocol not in CACHED_PROTOCOLS:
        return await provider.request(await _prepared(request, prepare)), False
    key = cache.key(provider, request)
    if mode == "only" or not cache.repeated(key, request.context):
        reply = cache.get(key)
        cache.warn_of_damage()
        if reply is not None:
            return reply, True
    if mode == "only":
        raise CacheMiss(_miss_message(request, cache.damage))
    reply = await provider.request(await _prepared(request, prepare))
    if reply.finished:  # a cut or refused reply fails its step: a later run asks again
        await anyio.to_thread.run_sync(cache.put, key, reply)
        cache.warn_of_damage()
    return reply, False


async def _prepared(
    request: ModelRequest, prepare: Callable[[ModelRequest], Awaitable[ModelRequest]] | None
) -> ModelRequest:
    return request if prepare is None else await prepare(request)


def tool_result_key(definition: dict[str, Any], tool: str, arguments: dict[str, Any]) -> str:
    """The key of an MCP tool's recorded result: its entry's static definition, the tool and
    the arguments (a definition holds no secret: ``agnoctl.tools.mcp.definition``)."""
    material = {
        "format": _FORMAT,
        "kind": "tool_result",
        "definition": definition,
        "tool": tool,
        "arguments": arguments,
    }
    return hashlib.sha256(canonical_json(material).encode()).hexdigest()


def caching_enabled(step: bool | None, agent: bool | None, defaults: bool | None) -> bool:
    """Whether a step's calls use the cache: the most specific setting wins, default on."""
    for setting in (step, agent, defaults):
        if setting is not None:
            return setting
    return True


def parse_age(text: str) -> float:
    """An age such as ``30d``, ``12h``, ``90m`` or a number of seconds, in seconds."""
    # Imported here: the spec models cost ~0.2 s to build, which `agnoctl cache` never needs.
    from agnoctl.spec.models import parse_duration

    value = text.strip()
    if value.endswith("d") and value[:-1].strip().replace(".", "", 1).isdigit():
        return float(value[:-1]) * 86_400
    try:
        return parse_duration(value)
    except ValueError:
        raise UsageError(f"{text!r} is not an age: use e.g. 30d, 12h, 90m or seconds") from None


def request_key(protocol: str, base_url: str, request: ModelRequest) -> str:
    """SHA-256 (hex) of the canonical JSON of what the request asks."""
    material = {
        "format": _FORMAT,
        "protocol": protocol.lower(),
        "base_url": base_url.rstrip("/"),
        "model": request.model,
        "messages": [_message_json(m) for m in request.messages],
        "temperature": None if request.temperature is None else float(request.temperature),
        "max_tokens": request.max_tokens,
        "output_schema": _as_written(request.output_schema),
        "tools": [_tool_json(t) for t in request.tools],
    }
    return hashlib.sha256(canonical_json(material).encode()).hexdigest()


def _as_written(schema: dict[str, Any] | None) -> str | None:
    """A schema's JSON in its own key order, which the canonical JSON would sort away: the
    model reads (and, under OpenAI's strict mode, writes) the properties in that order, so
    ``reasoning`` before ``answer`` asks something else than the other way round."""
    return None if schema is None else _AS_WRITTEN.encode(schema)


def _miss_message(request: ModelRequest, damage: str | None) -> str:
    ctx = request.context
    where = f"step {ctx.step_id!r}"
    if ctx.index is not None:
        where += f" (item {ctx.index})"
    if ctx.purpose == "judge":
        where = f"the judge gate of {where}"
    if damage is not None:
        return (
            f"no cached reply for {where}: the response cache cannot be read ({damage}) and "
            "--cache-only is set (`agnoctl cache clear`, then run without --cache-only)"
        )
    return (
        f"no cached reply for {where} and --cache-only is set "
        "(run once without --cache-only to fill the cache)"
    )


def canonical_json(value: object) -> str:
    """Equal data gives equal text: sorted keys, fixed separators, typed non-JSON values."""
    return _CANONICAL.encode(value)


# One encoder for every call: json.dumps with options builds a new one each time. YAML can
# put dates inside a schema: they are tagged with their type, so never equal to a string.
_CANONICAL = json.JSONEncoder(
    sort_keys=True,
    separators=(",", ":"),
    ensure_ascii=False,
    default=lambda o: {"$" + type(o).__name__: str(o)},
)


_AS_WRITTEN = json.JSONEncoder(
    separators=(",", ":"),
    ensure_ascii=False,
    default=lambda o: {"$" + type(o).__name__: str(o)},
)


def _decode(raw: str) -> dict[str, Any] | None:
    try:
        entry = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, or nested past what can be read
        return None
    if not isinstance(entry, dict) or entry.get("format") != _FORMAT:
        return None
    return entry


def _message_json(message: Message) -> dict[str, Any]:
    data = {
        "role": message.role,
        "content": message.content,
        "tool_calls": [_call_json(c) for c in message.tool_calls],
        "tool_call_id": message.tool_call_id,
        "tool_name": message.tool_name,
    }
    if message.attachments:  # absent otherwise: keys of messages without files stay as they were
        data["attachments"] = [_attachment_json(a) for a in message.attachments]
    return data


def _attachment_json(attachment: Attachment) -> dict[str, Any]:
    # What the file is, by its contents' hash: the bytes stay in the request alone. A URL is
    # keyed by itself (what it serves may change: `cache: false` for such a step).
    data = {"media_type": attachment.media_type, "sha256": attachment.sha256, "url": attachment.url}
    if attachment.media_type == "application/pdf" and attachment.url is None:
        # A PDF goes with its file name (OpenAI's file part), which the model reads: the same
        # bytes renamed are asked about under another name.
        data["file_name"] = file_name(attachment)
    return data


def _tool_json(tool: ToolSpec) -> dict[str, Any]:
    return {
        "name": tool.name,
        "description": tool.description,
        "parameters": _as_written(tool.parameters),
    }


def _call_json(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "name": call.name, "arguments": call.arguments}


def _recorded_attachment(attachment: Attachment) -> dict[str, Any]:
    # A tool's image whole (the cache is where a replay finds it), unlike a key's form.
    return {
        "name": attachment.name,
        "media_type": attachment.media_type,
        "data_base64": attachment.data_base64,
        "sha256": attachment.sha256,
        "size": attachment.size,
    }


def _reply_to_json(reply: ModelReply) -> dict[str, Any]:
    return {
        "text": reply.text,
        "tool_calls": [_call_json(c) for c in reply.tool_calls],
        "usage": {"input": reply.usage.input_tokens, "output": reply.usage.output_tokens},
        "finish_reason": reply.finish_reason,
        "model": reply.model,
    }


def _reply_from_json(data: Any) -> ModelReply | None:
    """The recorded reply, or None when the entry holds none (edited by hand, written by
    another program, damaged on disk): such an entry is a miss, as a damaged database is, and
    the call made again overwrites it."""
    try:
        usage = Usage(_count(data["usage"]["input"]), _count(data["usage"]["output"]))
        calls = tuple(_call_from_json(c) for c in data["tool_calls"])
        text, finish, model = data["text"], data["finish_reason"], data["model"]
    except (KeyError, TypeError, ValueError):
        return None
    if not (isinstance(text, str) and isinstance(model, str) and isinstance(finish, str | None)):
        return None
    return ModelReply(text=text, tool_calls=calls, usage=usage, finish_reason=finish, model=model)


def _call_from_json(data: Any) -> ToolCall:
    call = ToolCall(data["id"], data["name"], data["arguments"])
    if not (isinstance(call.id, str) and isinstance(call.name, str)):
        raise ValueError("a tool call names its id and tool in text")
    if not isinstance(call.arguments, dict):
        raise ValueError("a tool call's arguments are an object")
    return call


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:  # a bool is no count of tokens
        raise ValueError("a token count is a whole number")
    return value
