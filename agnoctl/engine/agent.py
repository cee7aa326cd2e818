"""Agent steps: one LLM task, with its tool-calling loop, structured output, gates and fallbacks.

Messages are the agent's rendered ``instructions`` (system) and the step's rendered ``prompt``
(user). A reply that does not parse or validate against the output schema, and a gate failure
under ``on_gate_failure: retry``, are retried with the problem appended to the prompt.

Fallback models: each model in ``[model, *fallback_models]`` gets a full retry sequence; the
next one is tried when the breaker is open, the provider asked for a wait longer than
agnoctl takes, or the retries are spent on a transient error (an error that retrying could
have fixed). Failed gates and permanent errors end the step: a
different model would be asked the same question with the same verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from agnoctl import events
from agnoctl.engine import attachments
from agnoctl.engine.gates import (
    JUDGE_SCHEMA,
    GateFailed,
    judge_prompt,
    parse_judge_reply,
    parse_output,
    retry_prompt,
    with_findings,
)
from agnoctl.engine.retry import Backoff, is_retryable
from agnoctl.engine.runtime import Route, Runtime
from agnoctl.engine.state import AttemptRecord, ToolCallRecord
from agnoctl.engine.steps import (
    Task,
    check_output,
    record_schema_failure,
    run_attempts,
    schedule_retry,
)
from agnoctl.errors import CircuitOpen, OutputInvalid, RetryAfterTooLong, StepFailed
from agnoctl.events import EventSink, milliseconds
from agnoctl.providers.base import (
    Attachment,
    CallContext,
    Message,
    ModelReply,
    ModelRequest,
    ToolCall,
    ToolSpec,
)
from agnoctl.spec.models import AgentSpec, JudgeGate
from agnoctl.tools.base import ToolResult
from agnoctl.tools.loop import run_tool_loop

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from agnoctl.tools.base import Tool
    from agnoctl.tools.mcp import McpToolbox

T = TypeVar("T")


class _AgentTask:
    """One agent task: what it asks, and the prompt of the next attempt."""

    __slots__ = (
        "agent",
        "agent_name",
        "attachments",
        "next_prompt",
        "prompt",
        "route",
        "rt",
        "schema",
        "system",
        "task",
        "tool_specs",
        "toolbox",
        "tools",
    )
    agent: AgentSpec
    route: Route  # the model `run` is trying, for `attempt`
    attachments: tuple[Attachment, ...] | None

    def __init__(self, rt: Runtime, task: Task) -> None:
        step = task.step
        name, prompt = step.agent, step.prompt
        assert name is not None and prompt is not None  # an agent step
        self.rt = rt
        self.task = task
        self.agent_name = name
        agent = self.agent = rt.workflow.agents[name]
        self.prompt = self.next_prompt = task.render("prompt", prompt)
        # None: read by the first attempt (in a worker thread); most tasks attach nothing.
        self.attachments = None if agent.attachments or step.attachments else ()
        instructions = agent.instructions
        self.system = task.render("instructions", instructions) if instructions else None
        schema = step.output_schema
        self.schema = agent.output_schema if schema is None else schema
        self.tools: dict[str, Tool] = {}
        self.tool_specs: tuple[ToolSpec, ...] = ()
        self.toolbox: McpToolbox | None = None
        if agent.tools:
            built = rt.tools()
            self.tools = {name: built[name] for name in agent.tools if name in built}
            from agnoctl.engine.toolbox import mcp_toolbox, offline_tools  # with tools only

            self.tools = offline_tools(rt, task, self.tools)
            # An MCP entry's tools are known once its server runs: a model call's cache key
            # holds the entry (a stand-in), and the call sent holds the server's tools.
            context = CallContext(step_id=task.step_path, agent=name)
            self.toolbox = mcp_toolbox(rt, task, name, agent, context)
            stand_ins = self.toolbox.stand_ins() if self.toolbox is not None else ()
            self.tool_specs = (*(tool.spec for tool in self.tools.values()), *stand_ins)

    async def run(self) -> Any:
        # Before the first attempt: the client's set-up never counts against its timeout.
        await self.rt.providers.set_up_done()
        return await _with_fallbacks(self.rt, self.task, self.agent, self._attempts_on)

    async def _attempts_on(self, route: Route) -> Any:
        """Every attempt the step's retry policy allows, on ``route``'s model."""
        self.route = route
        return await run_attempts(self.rt, self.task, self.attempt, model=route.label)

    async def attempt(self, record: AttemptRecord) -> Any:
        """One attempt on the model that ``run`` is trying (``self.route``)."""
        task = self.task
        route = self.route
        prompt = record.prompt = self.next_prompt
        agent = self.agent
        if self.attachments is None:
            self.attachments = await attachments.load(task, agent)
        if self.attachments:
            attachments.check_accepted(task, route.provider.protocol, self.attachments)
            record.attachments = attachments.described(self.attachments)
        request = ModelRequest(
            model=route.model,
            messages=_messages(self.system, prompt, self.attachments),
            temperature=agent.temperature,
            max_tokens=agent.max_tokens,
            output_schema=self.schema,
            tools=self.tool_specs,
            context=CallContext(
                step_id=task.step_path,
                index=task.index,
                attempt=record.number,
                agent=self.agent_name,
            ),
        )
        if self.tool_specs:
            reply = await self._converse(route, request, record)
        else:
            reply = await _ask(self.rt, task, route, request, record)
        task.record.model = route.label
        output: Any = reply.text
        if self.schema is not None:
            try:
                output = parse_output(reply.text, self.schema)
            except OutputInvalid as exc:
                self.next_prompt = with_findings(self.prompt, exc.errors)
                record_schema_failure(self.rt, task, exc, record)
                raise
        if not task.step.gates and self.schema is None:
            return output  # nothing to check
        try:
            await check_output(
                self.rt,
                task,
                output,
                schema=self.schema,
                attempt=record,
                judge=lambda gate, value: judge(self.rt, task, gate, value, record),
            )
        except GateFailed as exc:
            self.next_prompt = retry_prompt(self.prompt, exc.results)
            raise
        return output

    async def _converse(
        self, route: Route, request: ModelRequest, record: AttemptRecord
    ) -> ModelReply:
        """The tool-calling loop: call, run the tools the model asked for, call again."""
        task = self.task
        toolbox = self.toolbox
        prepare = None
        # The mock answers by its fixtures, never by the tools offered: it starts no server.
        if toolbox is not None and route.provider.protocol != "mock":
            prepare = toolbox.sent

        async def call(messages: tuple[Message, ...]) -> ModelReply:
            asked = replace(request, messages=messages)
            return await _ask(self.rt, task, route, asked, record, prepare)

        result = await run_tool_loop(
            call,
            request.messages,
            self.tools,
            max_tool_calls=self.agent.max_tool_calls,
            watch=_ToolEvents(self.rt.sink, task, record),
            more=toolbox,
        )
        return result.reply


@dataclass(frozen=True, slots=True)
class _ToolEvents:
    """A task's tool calls and results, as ``tool_call`` and ``tool_result`` events."""

    sink: EventSink
    task: Task
    record: AttemptRecord  # the report lists the attempt's calls

    @property
    def attempt(self) -> int:
        return self.record.number

    def called(self, call: ToolCall) -> None:
        self.sink.emit(
            events.ToolCalled(
                step=self.task.path,
                item=self.task.index,
                attempt=self.attempt,
                id=call.id,
                name=call.name,
                arguments=call.arguments,
            )
        )

    def answered(
        self, call: ToolCall, result: ToolResult, seconds: float, error: str | None
    ) -> None:
        self.sink.emit(
            events.ToolAnswered(
                step=self.task.path,
                item=self.task.index,
                attempt=self.attempt,
                id=call.id,
                name=call.name,
                ok=result.ok,
                truncated=result.truncated,
                duration_ms=milliseconds(seconds),
                chars=len(result.text),
                error=error,
                images=[a.summary() for a in result.attachments] or None,
            )
        )
        self.record.tool_calls.append(
            ToolCallRecord(
                call.name,
                result.ok,
                milliseconds(seconds),
                result.truncated,
                error,
                attachments.described(result.attachments),
            )
        )


async def judge(
    rt: Runtime, task: Task, gate: JudgeGate, output: Any, record: AttemptRecord
) -> tuple[float, str]:
    """Score ``output`` with the gate's agent (one call; its cost is the step's). As for a
    task, the agent's fallback models are tried in order when its model keeps failing."""
    agent = rt.workflow.agents[gate.agent]
    system = task.render("judge instructions", agent.instructions) if agent.instructions else None
    files = await attachments.load(task, agent, step=False)  # a rubric's reference files
    prompt = _messages(system, judge_prompt(gate, output), files)
    return await _with_fallbacks(
        rt,
        task,
        agent,
        lambda route: _judge_on(rt, task, gate, agent, route, prompt, files, record),
    )


async def _with_fallbacks(
    rt: Runtime, task: Task, agent: AgentSpec, on: Callable[[Route], Awaitable[T]]
) -> T:
    """``on`` the agent's model, then on each of its fallback models in turn while the one
    before failed in a way another model may not (``_worth_a_fallback``)."""
    references = [agent.model, *agent.fallback_models]
    for position, reference in enumerate(references):
        route = rt.route(reference, task.step)
        try:
            return await on(route)
        except Exception as exc:
            if position + 1 == len(references) or not _worth_a_fallback(exc):
                raise
            rt.sink.emit(
                events.ModelFallback(
                    step=task.path,
                    item=task.index,
                    model=route.label,
                    next_model=references[position + 1],
                    reason=type(exc).__name__,
                )
            )
    raise AssertionError("unreachable: the last model returns or raises")


async def _judge_on(
    rt: Runtime,
    task: Task,
    gate: JudgeGate,
    agent: AgentSpec,
    route: Route,
    prompt: tuple[Message, ...],
    files: tuple[Attachment, ...],
    record: AttemptRecord,
) -> tuple[float, str]:
    """The judge's calls on one model, under the step's retry policy."""
    attachments.check_accepted(task, route.provider.protocol, files)
    request = ModelRequest(
        model=route.model,
        messages=prompt,
        temperature=agent.temperature,
        max_tokens=agent.max_tokens,
        output_schema=JUDGE_SCHEMA,
        context=CallContext(
            step_id=task.step_path,
            index=task.index,
            attempt=record.number,
            agent=gate.agent,
            purpose="judge",
        ),
    )
    policy = task.settings.retry
    backoff = Backoff(policy, rt.rng)
    for retry_number in range(policy.max_attempts):
        try:
            reply = await _ask(rt, task, route, request, record)
            return parse_judge_reply(reply.text)
        except Exception as exc:
            # A judge that is briefly down says nothing about the output: retry the judge
            # alone (the step's retry policy, inside the attempt's timeout), not the task.
            if retry_number + 1 == policy.max_attempts or not is_retryable(exc):
                raise
            delay = schedule_retry(rt, task, record, backoff, retry_number, exc, "judge")
            await anyio.sleep(delay)
    raise AssertionError("unreachable: the last judge call returns or raises")


async def run_agent(rt: Runtime, task: Task) -> Any:
    """Run one agent task; returns the output (parsed data when an output schema applies)."""
    return await _AgentTask(rt, task).run()


async def _ask(
    rt: Runtime,
    task: Task,
    route: Route,
    request: ModelRequest,
    attempt: AttemptRecord,
    prepare: Callable[[ModelRequest], Awaitable[ModelRequest]] | None = None,
) -> ModelReply:
    """One model call on behalf of ``task``, accounted to its step and ``attempt``; a reply
    the server says it did not finish fails the attempt (``_unfinished``)."""
    reply = await rt.call_model(
        route, request, task.path, task.step_path, task.settings.tags, attempt, prepare
    )
    if (problem := _unfinished(reply, request)) is not None:
        raise StepFailed(f"step {task.where}: {problem}", kind="reply_unfinished")
    return reply


def _unfinished(reply: ModelReply, request: ModelRequest) -> str | None:
    """Why ``reply`` is not a whole answer (``ModelReply.finished``), or None.

    A reply cut at ``max_tokens``, withheld by the provider's content filter or refused by
    the model reads like an answer: taken as the output, a brief cut mid-sentence would pass.
    Not retried: the same request meets the same limit, filter or refusal again. The cache
    keeps such a reply out, so a later run asks again."""
    if reply.finished:
        return None
    reason = reply.finish_reason
    if reason == "length":
        limit = request.max_tokens
        shown = f"max_tokens ({limit})" if limit is not None else "max_tokens (unset: the default)"
        return (
            f"the reply was cut at the agent's {shown} before it ended (finish reason: "
            "length); raise the agent's max_tokens or ask for a shorter answer"
        )
    if reason == "model_context_window_exceeded":  # Anthropic's: the window, not max_tokens
        return (
            "the reply was cut where it filled the model's context window (finish reason: "
            "model_context_window_exceeded); shorten the prompt, or use a model with a larger one"
        )
    if reason == "content_filter":
        return "the provider's content filter withheld the reply (finish reason: content_filter)"
    said = f": {reply.text}" if reply.text else ""
    return f"the model refused to answer (finish reason: refusal){said}"


def _messages(
    system: str | None, prompt: str, files: tuple[Attachment, ...] = ()
) -> tuple[Message, ...]:
    user = Message("user", prompt, attachments=files)
    return (user,) if system is None else (Message("system", system), user)


def _worth_a_fallback(exc: Exception) -> bool:
    # A provider that is open-circuited, or asked for a wait longer than agnoctl takes, will
    # not answer soon; another model may.
    if isinstance(exc, CircuitOpen | RetryAfterTooLong):
        return True
    return is_retryable(exc) and not isinstance(exc, GateFailed)
