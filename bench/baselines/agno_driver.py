"""Agno: one ``Agent`` on ``OpenAIChat`` pointed at the fake server, telemetry off (it would
call out of the machine); the fan-out is a semaphore around ``agent.arun``, the chain a loop.

Install note: agno >= 2.9 depends on a PyPI distribution that is also named ``agnoctl`` (the
Agno CLI); installing it with its dependencies would replace this project. Install it with
``pip install --no-deps agno`` (bench/requirements-bench.txt lists its other dependencies).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

# Before agno is imported: its telemetry would call out of the machine.
os.environ.setdefault("AGNO_TELEMETRY", "false")

from agno.agent import Agent
from agno.models.openai import OpenAIChat

from baselines import API_KEY, MODEL, gather_limited, sequential


def _agent(base_url: str) -> Agent:
    return Agent(model=OpenAIChat(id=MODEL, base_url=base_url, api_key=API_KEY), telemetry=False)


@asynccontextmanager
async def _agent_in_use(base_url: str) -> AsyncIterator[Agent]:
    """The agent, and its OpenAI client closed after use: agno never closes it, and a client
    left to the garbage collector closes its sockets behind the event loop's back, which hung
    later runs in this process (a closed socket's number is reused while still registered)."""
    agent = _agent(base_url)
    try:
        yield agent
    finally:
        client = getattr(agent.model, "async_client", None)
        if client is not None:
            await client.close()


async def _complete(agent: Agent, prompt: str) -> str:
    output = await agent.arun(prompt)
    return str(output.content)


async def fan_out(base_url: str, prompts: list[str], concurrency: int) -> list[str]:
    async with _agent_in_use(base_url) as agent:
        return await gather_limited(lambda p: _complete(agent, p), prompts, concurrency)


async def chain(base_url: str, prompts: list[str]) -> list[str]:
    async with _agent_in_use(base_url) as agent:
        return await sequential(lambda p: _complete(agent, p), prompts)
