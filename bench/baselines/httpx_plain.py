"""A plain ``httpx.AsyncClient`` on its stock transport (httpcore's pool), sized to the
concurrency so that the pool limit itself is not what slows it down."""

from __future__ import annotations

from typing import Any

import httpx

from baselines import API_KEY, MODEL, gather_limited, sequential


def _client(base_url: str, concurrency: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {API_KEY}"},
        limits=limits,
        timeout=60.0,
        trust_env=False,
    )


async def _complete(client: httpx.AsyncClient, prompt: str) -> str:
    body = {"model": MODEL, "messages": [{"role": "user", "content": prompt}]}
    response = await client.post("/chat/completions", json=body)
    response.raise_for_status()
    reply: Any = response.json()
    return str(reply["choices"][0]["message"]["content"])


async def fan_out(base_url: str, prompts: list[str], concurrency: int) -> list[str]:
    async with _client(base_url, concurrency) as client:
        return await gather_limited(lambda p: _complete(client, p), prompts, concurrency)


async def chain(base_url: str, prompts: list[str]) -> list[str]:
    async with _client(base_url, 1) as client:
        return await sequential(lambda p: _complete(client, p), prompts)
