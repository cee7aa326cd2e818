"""pydantic-ai: one ``Agent`` on ``OpenAIChatModel`` pointed at the fake server; the fan-out is
a semaphore around ``agent.run`` (pydantic-ai has no fan-out of its own), the chain a loop."""

from __future__ import annotations

from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from baselines import API_KEY, MODEL, gather_limited, sequential


def _agent(base_url: str) -> Agent[None, str]:
    provider = OpenAIProvider(base_url=base_url, api_key=API_KEY)
    return Agent(OpenAIChatModel(MODEL, provider=provider))


async def _complete(agent: Agent[None, str], prompt: str) -> str:
    result = await agent.run(prompt)
    return result.output


async def fan_out(base_url: str, prompts: list[str], concurrency: int) -> list[str]:
    agent = _agent(base_url)
    return await gather_limited(lambda p: _complete(agent, p), prompts, concurrency)


async def chain(base_url: str, prompts: list[str]) -> list[str]:
    agent = _agent(base_url)
    return await sequential(lambda p: _complete(agent, p), prompts)
