"""The official ``openai`` SDK's ``AsyncOpenAI`` with its defaults (its own pooled client)."""

from __future__ import annotations

from openai import AsyncOpenAI

from baselines import API_KEY, MODEL, gather_limited, sequential


async def _complete(client: AsyncOpenAI, prompt: str) -> str:
    completion = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": prompt}]
    )
    return completion.choices[0].message.content or ""


async def fan_out(base_url: str, prompts: list[str], concurrency: int) -> list[str]:
    async with AsyncOpenAI(base_url=base_url, api_key=API_KEY) as client:
        return await gather_limited(lambda p: _complete(client, p), prompts, concurrency)


async def chain(base_url: str, prompts: list[str]) -> list[str]:
    async with AsyncOpenAI(base_url=base_url, api_key=API_KEY) as client:
        return await sequential(lambda p: _complete(client, p), prompts)
