"""Command steps: a process, no shell. Exit 0 is success; stdout (trimmed) is the output.

Each ``run`` element renders into exactly one argument, never re-split, so shell
metacharacters in inputs or outputs are passed as written. The process starts in a session of
its own: a timeout or a cancelled run ends the whole process group (SIGTERM, then SIGKILL after
``KILL_GRACE`` seconds for a process that ignores it), and when the command exits anything it
left running in its group is ended the same way, and so is what it started in a session of
its own: it runs as every program agnoctl runs (``agnoctl.tools.command.run_process``, which
command tools use too), so no orphan outlives its step.

With an ``output_schema`` stdout is parsed as JSON and validated. A non-zero exit code or
invalid output fails the step without a retry (running the same command again gives the same
answer); a timeout is retried under the step's retry policy. The end of stderr is kept for the
report.

``execute`` runs where the run's executor runs programs (``agnoctl.tools.executor``): here, or
on a Ray worker under ``--executor ray``, which sends back its ``Completed`` and its node.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agnoctl import redact
from agnoctl.engine.agent import judge
from agnoctl.engine.gates import parse_output
from agnoctl.engine.runtime import Runtime
from agnoctl.engine.state import AttemptRecord
from agnoctl.engine.steps import Task, check_output, record_schema_failure, run_attempts
from agnoctl.errors import OutputInvalid, StepFailed
from agnoctl.tools.command import nul_byte_in, run_process

KILL_GRACE = 1.0  # seconds between SIGTERM and SIGKILL
MAX_STDOUT = 16 * 1024 * 1024  # an output is data for the next step, not a log
STDERR_TAIL = 8 * 1024  # kept for the report


@dataclass(frozen=True, slots=True)
class Completed:
    exit_code: int
    stdout: str
    stderr: str  # the last STDERR_TAIL bytes


async def run_command(rt: Runtime, task: Task) -> Any:
    """Run one command task; returns stdout (trimmed), or parsed JSON with an output_schema."""
    step = task.step
    assert step.run is not None  # a command step
    argv = [task.render(f"run[{i}]", arg) for i, arg in enumerate(step.run)]
    env = None
    if step.env:
        env = {name: task.render(f"env.{name}", value) for name, value in step.env.items()}
    cwd = Path(task.render("cwd", step.cwd)) if step.cwd else None
    if (nul := nul_byte_in(argv, env)) is not None:
        raise StepFailed(
            f"step {task.where}: cannot run {argv[0]!r}: its {nul} holds a NUL byte (\\x00), "
            "which no program can be given; pass binary data through a file",
            kind="command_error",
        )
    schema = step.output_schema

    async def attempt(record: AttemptRecord) -> Any:
        ran = await rt.executor.run(
            step.resources, execute, argv, cwd=cwd, env=env, where=task.where
        )
        record.node = ran.node
        done = ran.value
        task.record.exit_code = done.exit_code
        task.record.stderr = done.stderr or None
        if done.exit_code != 0:
            raise StepFailed(_exit_message(task.where, argv[0], done), kind="exit_code")
        text = done.stdout.strip()
        output: Any = text
        if schema is not None:
            try:
                output = parse_output(text, schema)
            except OutputInvalid as exc:
                record_schema_failure(rt, task, exc, record)
                raise StepFailed(
                    f"step {task.where}: stdout: {exc}", kind="output_invalid"
                ) from None
        await check_output(
            rt,
            task,
            output,
            schema=schema,
            attempt=record,
            judge=lambda gate, value: judge(rt, task, gate, value, record),
        )
        return output

    return await run_attempts(rt, task, attempt)


async def execute(
    argv: list[str], *, cwd: Path | None, env: dict[str, str] | None, where: str
) -> Completed:
    """Run ``argv`` to completion (``run_process``, with a step's bounds); cancelling the
    caller ends the whole process group.

    ``env`` is the step's own variables, added to the environment of the process this runs
    in: a Ray worker's own under ``--executor ray`` (the driver's, which may hold API keys,
    never travels).
    """
    if cwd is not None and not cwd.is_dir():
        raise StepFailed(f"step {where}: cwd {str(cwd)!r} is not a directory", kind="command_error")
    try:
        outcome = await run_process(
            argv,
            timeout=None,  # the step's own, which cancels this
            cwd=cwd,
            env={**os.environ, **env} if env else None,
            stdout_limit=MAX_STDOUT,
            stderr_limit=STDERR_TAIL,
            kill_grace=KILL_GRACE,
        )
    except FileNotFoundError:
        where_found = "" if "/" in argv[0] else " on PATH"
        raise StepFailed(
            f"step {where}: cannot run {argv[0]!r}: no such program{where_found}",
            kind="command_not_found",
        ) from None
    except OSError as exc:
        raise StepFailed(
            f"step {where}: cannot run {argv[0]!r}: {exc.strerror or exc}", kind="command_error"
        ) from None
    if not outcome.stdout_complete:
        raise StepFailed(
            f"step {where}: stdout is longer than {MAX_STDOUT // 2**20} MiB; write large data to "
            "a file and print its path",
            kind="output_too_large",
        )
    return Completed(outcome.returncode, outcome.stdout, outcome.stderr)


def _exit_message(where: str, program: str, done: Completed) -> str:
    if done.exit_code < 0:
        message = f"step {where}: {program} was killed by signal {-done.exit_code}"
    else:
        message = f"step {where}: {program} exited with code {done.exit_code}"
    last = done.stderr.strip().splitlines()[-1:] if done.stderr.strip() else []
    return f"{message}: {redact.head(last[0], 300)[0]}" if last else message
