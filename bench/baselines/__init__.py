"""What users would write instead of agnoctl, driving the same fake server the same way.

Every module here is one client with the same two coroutines, so ``bench/run.py`` can time them
side by side with agnoctl:

- ``fan_out(base_url, prompts, concurrency) -> list[str]``: one chat completion per prompt, at
  most ``concurrency`` in flight, replies in prompt order.
- ``chain(base_url, prompts) -> list[str]``: one call after the other; call ``i`` sends
  ``prompts[i]`` followed by the reply of call ``i - 1`` (a data dependency, as in a real chain).

``base_url`` is the OpenAI-style base (``http://127.0.0.1:PORT/v1``). ``PACKAGES`` names the
distributions a module needs: when one is not installed the module is reported as
"skipped: not installed" (the frameworks are optional; see bench/requirements-bench.txt).
Each module builds its client inside the coroutine, as a script would; the client's set-up is
a few milliseconds and is timed with the work.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
from collections.abc import Awaitable, Callable
from types import ModuleType

MODULES = (
    "aiohttp_raw",
    "httpx_plain",
    "openai_sdk",
    "langgraph_driver",
    "pydantic_ai_driver",
    "agno_driver",
)
MODEL = "bench"
API_KEY = "bench-key"


def load(name: str) -> ModuleType:
    return importlib.import_module(f"baselines.{name}")


def missing_packages(module: ModuleType) -> list[str]:
    """The distributions ``module`` needs that are not installed."""
    missing = []
    for package in module.PACKAGES:
        try:
            importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            missing.append(package)
    return missing


def versions(module: ModuleType) -> dict[str, str]:
    return {package: importlib.metadata.version(package) for package in module.PACKAGES}


def chained_prompt(prompt: str, previous: str | None) -> str:
    """Call ``i``'s message: its own text, then the previous reply (agnoctl's chain renders the
    same text from ``{{ steps.<previous>.output }}``)."""
    return prompt if previous is None else f"{prompt} after {previous}"


async def gather_limited(
    call: Callable[[str], Awaitable[str]], prompts: list[str], concurrency: int
) -> list[str]:
    """A semaphore around ``asyncio.gather``: the usual hand-written fan-out."""
    semaphore = asyncio.Semaphore(concurrency)

    async def limited(prompt: str) -> str:
        async with semaphore:
            return await call(prompt)

    return list(await asyncio.gather(*(limited(p) for p in prompts)))


async def sequential(call: Callable[[str], Awaitable[str]], prompts: list[str]) -> list[str]:
    replies: list[str] = []
    for prompt in prompts:
        replies.append(await call(chained_prompt(prompt, replies[-1] if replies else None)))
    return replies
