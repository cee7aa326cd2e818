"""LangGraph with langchain-openai's ``ChatOpenAI``: the fan-out is LangGraph's map-reduce idiom
(one ``Send`` per prompt to a model node, the graph's ``max_concurrency``), the chain one node
per call, each reading the previous node's reply from the state."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from baselines import API_KEY, MODEL, chained_prompt


class _FanState(TypedDict):
    prompts: list[str]
    replies: Annotated[list[tuple[int, str]], operator.add]


class _ChainState(TypedDict):
    replies: Annotated[list[str], operator.add]


def _model(base_url: str) -> ChatOpenAI:
    return ChatOpenAI(model=MODEL, base_url=base_url, api_key=API_KEY)  # type: ignore[arg-type]


async def fan_out(base_url: str, prompts: list[str], concurrency: int) -> list[str]:
    model = _model(base_url)

    def route(state: _FanState) -> list[Send]:
        return [Send("call", {"index": i, "prompt": p}) for i, p in enumerate(state["prompts"])]

    async def call(task: dict[str, Any]) -> dict[str, Any]:
        message = await model.ainvoke(task["prompt"])
        return {"replies": [(task["index"], message.content)]}

    builder = StateGraph(_FanState)
    builder.add_node("call", call)  # type: ignore[call-overload]
    builder.add_conditional_edges(START, route, ["call"])
    builder.add_edge("call", END)
    state = await builder.compile().ainvoke(
        {"prompts": prompts, "replies": []}, config={"max_concurrency": concurrency}
    )
    return [text for _, text in sorted(state["replies"])]


async def chain(base_url: str, prompts: list[str]) -> list[str]:
    model = _model(base_url)

    def node(prompt: str) -> Any:
        async def call(state: _ChainState) -> dict[str, Any]:
            previous = state["replies"][-1] if state["replies"] else None
            message = await model.ainvoke(chained_prompt(prompt, previous))
            return {"replies": [message.content]}

        return call

    builder = StateGraph(_ChainState)
    names = [f"call_{i}" for i in range(len(prompts))]
    for name, prompt in zip(names, prompts, strict=True):
        builder.add_node(name, node(prompt))
    for before, after in zip([START, *names], [*names, END], strict=True):
        builder.add_edge(before, after)
    state = await builder.compile().ainvoke(
        {"replies": []}, config={"recursion_limit": len(prompts) + 10}
    )
    return list(state["replies"])
