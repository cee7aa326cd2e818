"""The floor: one aiohttp session, a semaphore, ``json=`` bodies. No retries, no validation."""

from __future__ import annotations

from typing import Any

import aiohttp

from baselines import API_KEY, MODEL, gather_limited, sequential


def _session(concurrency: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        headers={"Authorization": f"Bearer {API_KEY}"},
    )


async def _complete(session: aiohttp.ClientSession, base_url: str, prompt: str) -> str:
    body = {"model": MODEL, "messages": [{"role": "user", "content": prompt}]}
    async with session.post(f"{base_url}/chat/completions", json=body) as response:
        response.raise_for_status()
        reply: Any = await response.json()
    return str(reply["choices"][0]["message"]["content"])


async def fan_out(base_url: str, prompts: list[str], concurrency: int) -> list[str]:
    async with _session(concurrency) as session:
        return await gather_limited(lambda p: _complete(session, base_url, p), prompts, concurrency)


async def chain(base_url: str, prompts: list[str]) -> list[str]:
    async with _session(1) as session:
        return await sequential(lambda p: _complete(session, base_url, p), prompts)
