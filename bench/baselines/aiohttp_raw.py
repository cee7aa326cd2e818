"""The floor: one aiohttp session, a semaphore, ``json=`` bodies. No retries, no validation.

It reads the kind of reply agnoctl reads in the same run, so that the ratio of the two
measures agnoctl and not the server: a stream of server-sent events, the usual hand-written
way (each ``data:`` line's JSON, the deltas' content joined), unless ``BENCH_WHOLE_REPLIES=1``
(bench/run.py) asks both for whole replies.
"""

from __future__ import annotations

import json
import os
from typing import Any

import aiohttp

from baselines import API_KEY, MODEL, gather_limited, sequential

STREAM = os.environ.get("BENCH_WHOLE_REPLIES") != "1"


def session(concurrency: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        headers={"Authorization": f"Bearer {API_KEY}"},
    )


async def complete(session: aiohttp.ClientSession, base_url: str, prompt: str) -> str:
    body: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": prompt}]}
    if STREAM:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    async with session.post(f"{base_url}/chat/completions", json=body) as response:
        response.raise_for_status()
        if STREAM:
            return await _streamed_text(response)
        reply: Any = await response.json()
    return str(reply["choices"][0]["message"]["content"])


async def _streamed_text(response: aiohttp.ClientResponse) -> str:
    text: list[str] = []
    async for line in response.content:
        if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
            continue
        for choice in json.loads(line[6:])["choices"]:
            text.append(choice["delta"].get("content") or "")
    return "".join(text)


async def fan_out(base_url: str, prompts: list[str], concurrency: int) -> list[str]:
    async with session(concurrency) as client:
        return await gather_limited(lambda p: complete(client, base_url, p), prompts, concurrency)


async def chain(base_url: str, prompts: list[str]) -> list[str]:
    async with session(1) as client:
        return await sequential(lambda p: complete(client, base_url, p), prompts)
