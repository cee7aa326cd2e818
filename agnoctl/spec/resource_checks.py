"""Static checks of a step's `resources:` (what its tasks reserve on a Ray node), and the one
reading of a memory size.

A `resources:` entry means something only where a task goes to the cluster: a command step
(its program), or an agent step (its model calls: `resources: {}` asks for Ray's defaults).
On any other kind it would be silently ignored, so it is an error (fail closed): a group, a
sub-workflow or an approval is not one task.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from agnoctl.spec.mcp_checks import Finding, PathKey
from agnoctl.spec.models import ResourcesSpec, StepSpec

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$")
_UNIT = {
    "B": 1,
    **{f"{p}B": 1000 ** (i + 1) for i, p in enumerate("KMGT")},
    **{f"{p}iB": 1024 ** (i + 1) for i, p in enumerate("KMGT")},
}
# Ray's own names for what `cpus`, `gpus` and `memory` reserve: as custom names they would
# ask for the same thing a second way.
_RAY_NAMES = {"CPU": "cpus", "GPU": "gpus", "memory": "memory", "object_store_memory": "memory"}
_UNIT_AMOUNT = 0.0001  # Ray counts amounts in ten-thousandths: less than one it refuses


def memory_bytes(value: int | str) -> int | None:
    """``resources.memory`` in bytes: an integer, or ``512MiB``, ``1.5GB``; None when it is
    neither (E470)."""
    if isinstance(value, int):
        return value if value >= 0 else None
    match = _SIZE.match(value)
    if match is None:
        return None
    number, unit = match.groups()
    return int(float(number) * _UNIT[unit or "B"])


def check_resources(base: tuple[PathKey, ...], step: StepSpec) -> Iterator[Finding]:
    """Every static problem of the step's ``resources`` (the step is at data path ``base``)."""
    resources = step.resources
    if resources is None:
        return
    if step.kind not in ("command", "agent"):
        yield Finding(
            (*base, "resources"),
            "E471",
            f"`resources` does nothing on a{'n' if step.kind[0] in 'aeiou' else ''} "
            f"{step.kind} step: only command and agent steps run as Ray tasks",
            "remove it, or put it on the steps inside (a group, a sub-workflow's file)",
            at_key=True,
        )
        return
    yield from _form((*base, "resources"), resources)


def _form(base: tuple[PathKey, ...], resources: ResourcesSpec) -> Iterator[Finding]:
    if resources.memory is not None and memory_bytes(resources.memory) is None:
        yield Finding(
            (*base, "memory"),
            "E470",
            f"resources.memory {resources.memory!r} is not a memory size",
            "write bytes (`536870912`) or a size: `512MiB`, `2GiB`, `1.5GB`",
        )
    amounts: dict[tuple[str, ...], float | None] = {
        ("cpus",): resources.cpus,
        ("gpus",): resources.gpus,
    }
    amounts.update({("custom", name): amount for name, amount in (resources.custom or {}).items()})
    for path, amount in amounts.items():
        if amount is not None and 0 < amount < _UNIT_AMOUNT:
            yield Finding(
                (*base, *path),
                "E470",
                f"resources.{'.'.join(path)} {amount} is below Ray's smallest amount, "
                f"{_UNIT_AMOUNT}",
                f"reserve 0, or {_UNIT_AMOUNT} or more",
            )
    for name in resources.custom or {}:
        if not name.strip():  # no node declares it: a task asking for it waits forever
            yield Finding(
                (*base, "custom", name),
                "E470",
                "a custom resource needs a name",
                "name it as the nodes declare it (`ray start --resources '{\"ssd\": 4}'`)",
                at_key=True,
            )
        elif name in _RAY_NAMES:
            yield Finding(
                (*base, "custom", name),
                "E470",
                f"`{name}` is not a custom resource: it is Ray's own",
                f"reserve it with `resources.{_RAY_NAMES[name]}`",
                at_key=True,
            )
