"""The run directory: where a run is, its files' names, atomic writes, and its lock.

``.agnoctl/runs/<run-id>/`` (or ``--report-dir``) holds one run: the journal
(``events.jsonl``), which the engine appends to, report.json and the files made from it, which
the reports write, and ``run.lock`` while a process writes it. ``runs/latest`` points at the
last run started.

Every file but the journal is written to a temporary file in the same folder, fsynced and
renamed over the target (``os.replace``), so a reader (or a run killed mid-write) sees the old
file or the new one, never half of one. A kill can leave the temporary file
(``.report.json.*.tmp``) behind: ``remove_temporaries`` clears them when the run is taken up
again, under the lock. The lock (``flock``) keeps a second process from writing the same run.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shlex
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import orjson

from agnoctl.errors import RunDirUnwritable, RunLocked, UsageError
from agnoctl.events import SegmentStarted, parse_line
from agnoctl.tools.tags import is_tag_prefix, tag_prefix

RUNS_DIR = Path(".agnoctl") / "runs"
LATEST = "latest"
JOURNAL = "events.jsonl"
REPORT_FILE = "report.json"
OUTPUTS_DIR = "outputs"
LOCK_FILE = "run.lock"
_TEMPORARY = ".*.tmp"  # what atomic_write names its temporary files


def new_run_id(now: float | None = None) -> str:
    """``20250131T120000Z-3f9a1c``: sortable by start time, unique by the random tail."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{secrets.token_hex(3)}"


# ---------------------------------------------------------------------------- writes


WRITE_CHUNK = 1 << 20  # characters of a file's text encoded and written at a time


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, all at once. An OSError names ``path``, not the
    temporary file that was being written."""
    try:
        _replace(path, text)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, os.fspath(path)) from exc


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            # In pieces: a big report.json is written without an encoded copy of all of it.
            for start in range(0, len(text), WRITE_CHUNK):
                handle.write(text[start : start + WRITE_CHUNK])
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def unwritable(
    what: str, path: Path, error: OSError, workflow_file: Path, resume_as: str
) -> RunDirUnwritable:
    """The error of a write to the run directory that failed: which file, why, and the
    command that carries the run on (``resume_as``: ``latest`` or the run's directory)."""
    remedy = "free space" if error.errno in _NO_ROOM else "fix that"
    found = RunDirUnwritable(
        f"cannot write the {what} {path}: {error.strerror or error}; {remedy} and run "
        f"`{resume_command(workflow_file, resume_as)}`"
    )
    found.__cause__ = error
    return found


def resume_command(file: Path, resume_as: str) -> str:
    """The command that carries a run on: `agnoctl run FILE --resume latest` (or the run's
    directory), quoted for a shell."""
    return f"agnoctl run {shlex.quote(str(file))} --resume {shlex.quote(resume_as)}"


_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def remove_temporaries(run_dir: Path) -> list[Path]:
    """Delete the temporary files a killed process left in ``run_dir`` (and its outputs/):
    each is a half-written copy of a report file, of no use to anyone; returns them. Call it
    while holding the run's lock, or a live writer's file would go."""
    found = [
        path for folder in (run_dir, run_dir / OUTPUTS_DIR) for path in folder.glob(_TEMPORARY)
    ]
    for temporary in found:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return found


def repair_journal(path: Path) -> None:
    """Cut a torn last line off the journal, so appended events start on a line of their own."""
    with path.open("rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return
        position = size
        while position > 0:
            step = min(4096, position)
            handle.seek(position - step)
            chunk = handle.read(step)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                handle.truncate(position - step + newline + 1)
                return
            position -= step
        handle.truncate(0)


def refuse_links(run_dir: Path) -> None:
    """Refuse a run directory holding a symbolic link (planted, or kept by a copy that keeps
    links): a resumed run writes its files in place, and would write where the link points (the
    journal appended to and its torn line cut off, outputs/ written into)."""
    for folder, folders, files in os.walk(run_dir):
        for name in (*folders, *files):
            path = Path(folder, name)
            if path.is_symlink():
                raise planted_link(path)


def planted_link(path: Path) -> UsageError:
    """The error of a symbolic link where agnoctl writes a file of the run directory."""
    return UsageError(
        f"{path} is a symbolic link (to {os.readlink(path)}): a run directory holds only what "
        "agnoctl writes, and a link would have it write where the link points; remove the link"
    )


# ---------------------------------------------------------------------------- finding a run


def refuse_copied_latest(link: Path) -> None:
    """A directory at ``runs/latest`` is a copy made by a tool that follows links (an artifact
    upload, ``cp -rL``): someone's files, neither replaced nor read as the newest run."""
    if link.is_dir() and not link.is_symlink():
        raise UsageError(
            f"{link} is a directory, not the link to the newest run that agnoctl keeps there "
            "(a copy made by a tool that follows links, as an artifact upload does): "
            "remove or rename it"
        )


def update_latest(runs_dir: Path, run_id: str) -> None:
    """Point ``runs/latest`` at ``run_id``: a symlink, or a text file where links are refused.

    A directory there is a copy made by a tool that follows links (an artifact upload, ``cp
    -rL``): it is someone's files, never replaced, and the run is refused saying so.
    """
    link = runs_dir / LATEST
    refuse_copied_latest(link)
    temp = runs_dir / f".{LATEST}.{secrets.token_hex(4)}"
    try:
        os.symlink(run_id, temp)
    except OSError:
        atomic_write(link, run_id + "\n")
        return
    try:
        os.replace(temp, link)
    except OSError:
        os.unlink(temp)
        raise


def latest_run(runs_dir: Path = RUNS_DIR) -> Path | None:
    """The run directory ``latest`` points at, or None when there is none."""
    link = runs_dir / LATEST
    if link.is_symlink():
        target = runs_dir / os.readlink(link)
    elif link.is_file():
        name = _run_id_in(link)
        if name is None:
            return None
        target = runs_dir / name
    else:
        return None
    return target if target.is_dir() else None


_RUN_ID_SIZE = 256  # far more than a run id's 23 characters; a bigger file holds none


def _run_id_in(link: Path) -> str | None:
    """The run id a ``latest`` text file holds; None when it holds none (not UTF-8, empty,
    or not one folder's name): not what agnoctl wrote, and it must not end every run (a new
    one replaces it) nor name the runs folder or one outside it."""
    with link.open("rb") as handle:
        raw = handle.read(_RUN_ID_SIZE + 1)
    try:
        name = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    if len(raw) > _RUN_ID_SIZE or name in ("", ".", "..") or "/" in name:
        return None
    return name


def latest_run_of(workflow_name: str, runs_dir: Path) -> Path | None:
    """The latest run of the workflow named ``workflow_name`` that left a journal, or None.

    ``latest`` points at the last run of any workflow; when that is another workflow's (or
    one killed before its first event), the newest of this workflow's runs is looked for: run
    ids sort by their start time. One CI line, ``agnoctl run wf.yaml --resume latest``, so
    serves the first try (nothing to resume: a new run) and every retry.
    """
    pointed = latest_run(runs_dir)
    if pointed is not None and workflow_of(pointed) == workflow_name:
        return pointed
    if not runs_dir.is_dir():
        return None
    runs = (
        entry
        for entry in runs_dir.iterdir()
        if entry.is_dir() and entry != pointed and entry.name != LATEST  # a copy, see above
    )
    for run_dir in sorted(runs, key=lambda entry: entry.name, reverse=True):
        if workflow_of(run_dir) == workflow_name:
            return run_dir
    return None


def workflow_of(run_dir: Path) -> str | None:
    """The workflow name the run's first event (``run_started``) gives, if it has one.

    A first line that holds no event (damaged, not cut short by a kill: lines follow it) is
    no reason to take the run for another workflow's, which would start it anew and do its
    finished work again: its report.json, written once the run started, names the workflow.
    """
    try:
        with (run_dir / JOURNAL).open("rb") as handle:
            line = handle.readline()
            first = parse_line(line)
            more = bool(handle.read(1))
    except OSError:  # no journal
        return None
    if first is not None and isinstance(first.event, SegmentStarted):
        return first.event.workflow
    if first is None and line.endswith(b"\n") and more:
        return _reported_workflow(run_dir)
    return None  # empty, or torn (killed before its first event), or no start


def _reported_workflow(run_dir: Path) -> str | None:
    try:
        report = orjson.loads((run_dir / REPORT_FILE).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    workflow = report.get("workflow") if isinstance(report, dict) else None
    name = workflow.get("name") if isinstance(workflow, dict) else None
    return name if isinstance(name, str) else None


def find_run(reference: str, runs_dir: Path) -> Path:
    """The run directory ``reference`` names: ``latest``, a run id, or a directory path."""
    if reference == LATEST:
        found = latest_run(runs_dir)
        if found is None:
            raise UsageError(f"no runs yet in {runs_dir}: `agnoctl run` writes one")
        return found
    for candidate in (runs_dir / reference, Path(reference)):
        if (candidate / JOURNAL).is_file():
            return candidate
    raise UsageError(
        f"no run {reference!r} in {runs_dir} (`agnoctl runs list` shows the runs; "
        "or pass the run directory's path)"
    )


# ---------------------------------------------------------------------------- the lock


def _locked(path: Path, run_dir: Path) -> IO[str] | None:
    """``path`` opened and locked; None when the file locked was removed meanwhile."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # the lock's pid would be written over the link's target
            raise planted_link(path) from None
        raise
    # Read as text whatever it holds: a damaged lock file must not end the run in a traceback.
    handle = os.fdopen(fd, "a+", encoding="utf-8", errors="replace")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = next(iter(handle.read().split()), "unknown")
        handle.close()
        raise RunLocked(
            f"run {run_dir.name} is being written by another agnoctl process (pid {holder}); "
            "wait for it to finish, or stop it, then resume"
        ) from None
    try:
        same = os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        same = False
    if not same:
        handle.close()
        return None
    return handle


class RunLock:
    """An exclusive ``flock`` on the run directory's lock file, holding this process's pid.

    The kernel drops the lock when the process dies, however it dies, so a killed run never
    leaves a stale lock behind. A run that ends removes the file, while it still holds it; so
    a process that opened it just before takes the lock of a removed file, sees that the path
    no longer names it, and tries again.
    """

    def __init__(self, handle: IO[str], path: Path, left_by: str | None) -> None:
        self._handle: IO[str] | None = handle
        self._path = path
        self.left_by = left_by
        """The programs' tag prefix of a writer that died holding the lock (the file a run
        that ends removes was still there), whose programs may still run; else None."""

    @classmethod
    def acquire(cls, run_dir: Path) -> RunLock:
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / LOCK_FILE
        while (handle := _locked(path, run_dir)) is None:
            pass
        handle.seek(0)
        previous = handle.read().split()
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()} {tag_prefix()}\n")  # pid first: RunLocked names it
        handle.flush()
        left_by = previous[1] if len(previous) > 1 else None
        return cls(handle, path, left_by if left_by and is_tag_prefix(left_by) else None)

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._path.unlink()  # the run is over: no lock file left behind
            self._handle.close()  # closing the descriptor releases the flock
            self._handle = None

    @classmethod
    @contextlib.contextmanager
    def held(cls, run_dir: Path) -> Iterator[RunLock]:
        lock = cls.acquire(run_dir)
        try:
            yield lock
        finally:
            lock.release()
