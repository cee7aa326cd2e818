"""What users would write instead of agnoctl, driving the same fake server the same way.

Every module here is one client with the same two coroutines, so ``bench/run.py`` can time them
side by side with agnoctl:

- ``fan_out(base_url, prompts, concurrency) -> list[str]``: one chat completion per prompt, at
  most ``concurrency`` in flight, replies in prompt order.
- ``chain(base_url, prompts) -> list[str]``: one call after the other; call ``i`` sends
  ``prompts[i]`` followed by the reply of call ``i - 1`` (a data dependency, as in a real chain).

``base_url`` is the OpenAI-style base (``http://127.0.0.1:PORT/v1``). ``CLIENTS`` names each
module's label and the distributions it needs: when one is not installed the module is not
imported and is reported as "skipped: not installed: ..." (the frameworks are optional; see
bench/requirements-bench.txt). Each module builds its client inside the coroutine, as a script
would, so the client's set-up is timed with the work.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Client:
    module: str  # bench/baselines/<module>.py
    label: str
    packages: tuple[str, ...]  # distributions it imports
    framework: bool  # an agent framework (the throughput goal: agnoctl ahead of each)


CLIENTS = {
    "aiohttp_raw": Client("aiohttp_raw", "aiohttp + semaphore (the floor)", ("aiohttp",), False),
    "httpx_plain": Client("httpx_plain", "httpx.AsyncClient, stock transport", ("httpx",), False),
    "openai_sdk": Client("openai_sdk", "openai SDK, AsyncOpenAI", ("openai",), False),
    "langgraph": Client(
        "langgraph_driver", "LangGraph + langchain-openai", ("langgraph", "langchain-openai"), True
    ),
    "pydantic_ai": Client("pydantic_ai_driver", "pydantic-ai", ("pydantic-ai-slim",), True),
    "agno": Client("agno_driver", "Agno", ("agno",), True),
}
MODEL = "bench"
API_KEY = "bench-key"


def skip_reason(client: Client) -> str | None:
    """Why the client cannot run here (a package is not installed), or None."""
    missing = [p for p in client.packages if _version(p) is None]
    return f"skipped: not installed: {', '.join(missing)}" if missing else None


def load(client: Client) -> ModuleType:
    return importlib.import_module(f"baselines.{client.module}")


def versions(client: Client) -> dict[str, str | None]:
    return {package: _version(package) for package in client.packages}


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


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
