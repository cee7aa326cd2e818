"""What every step of one run shares: settings, limits, providers, the budget, the events.

``call_model`` is the one place a model is called from: budgets, the provider's limits and
breaker (inside ``GuardedProvider``), cost accounting and the ``llm_call`` event all happen
here, so a response cache wraps exactly this function.
"""

from __future__ import annotations

import contextlib
import copy
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from agnoctl import events
from agnoctl.cache import CacheMode, ResponseCache, cached_request, caching_enabled
from agnoctl.engine.budget import Budget, CostLedger, Reservation
from agnoctl.engine.limits import PriorityLimiter
from agnoctl.engine.resume import Reuse
from agnoctl.engine.retry import reason
from agnoctl.errors import CacheMiss, MalformedResponse, ToolServerFailed, UsageError
from agnoctl.events import EventSink, milliseconds, tokens_per_second
from agnoctl.providers import pricing
from agnoctl.providers.base import CallContext, ModelReply, ModelRequest, Provider, Usage
from agnoctl.providers.ratelimit import LimiterWatch, estimate_usage
from agnoctl.providers.registry import watched_dispatch
from agnoctl.spec.dag import find_step, iter_steps
from agnoctl.spec.models import (
    AgentSpec,
    JudgeGate,
    ResourcesSpec,
    RetrySpec,
    StepDefaults,
    StepSpec,
    Tags,
    Workflow,
)
from agnoctl.spec.uses import every_workflow, run_providers
from agnoctl.tools.executor import LOCAL, Executor

if TYPE_CHECKING:
    from agnoctl.engine.state import AttemptRecord
    from agnoctl.providers.fixtures import Fixtures
    from agnoctl.providers.http import HttpClient
    from agnoctl.providers.registry import GuardedProvider
    from agnoctl.tools.base import Tool
    from agnoctl.tools.http_get import SharedClient
    from agnoctl.tools.mcp import McpServers

DEFAULT_RETRY = RetrySpec()


@dataclass(frozen=True, slots=True)
class Settings:
    """A step's effective values: its own, else the workflow's ``defaults``, else SPEC's."""

    timeout: float | None
    retry: RetrySpec
    on_gate_failure: str
    continue_on_error: bool
    priority: int
    tags: Tags | None
    success_threshold: float
    max_concurrency: int | None


# The StepSpec fields settings_for reads (for_each decides whether a cap applies): a step
# that sets none of them gets what a step that sets nothing gets.
_SETTING_FIELDS = frozenset(
    {
        "timeout",
        "retry",
        "on_gate_failure",
        "continue_on_error",
        "priority",
        "tags",
        "success_threshold",
        "max_concurrency",
        "for_each",
    }
)


def has_default_settings(step: StepSpec) -> bool:
    """Whether ``settings_for`` gives ``step`` what it gives a step that sets nothing."""
    return _SETTING_FIELDS.isdisjoint(step.model_fields_set)


def settings_for(step: StepSpec, defaults: StepDefaults) -> Settings:
    timeout = step.timeout if step.timeout is not None else defaults.timeout
    retry = step.retry or defaults.retry or DEFAULT_RETRY
    on_gate_failure = step.on_gate_failure or defaults.on_gate_failure or "fail"
    continue_on_error = _first(step.continue_on_error, defaults.continue_on_error, False)
    priority = _first(step.priority, defaults.priority, 0)
    tags = step.tags if step.tags is not None else defaults.tags
    threshold = _first(step.success_threshold, defaults.success_threshold, 1.0)
    # defaults.max_concurrency caps the items of every for_each step.
    cap = None
    if step.for_each is not None:
        cap = step.max_concurrency or defaults.max_concurrency
    return Settings(
        timeout, retry, on_gate_failure, continue_on_error, priority, tags, threshold, cap
    )


def _first(value: Any, default: Any, fallback: Any) -> Any:
    if value is not None:
        return value
    return default if default is not None else fallback


@dataclass(frozen=True, slots=True)
class Route:
    """Where one ``<provider>/<model>`` reference goes, and how its calls are priced."""

    provider: GuardedProvider
    model: str
    label: str  # "<provider>/<model>" as reports name it
    price: pricing.PriceLike | None  # looked up once: pricing.lookup matches names by regex

    def cost(self, usage: Usage) -> float:
        """``pricing.cost`` of ``usage``, with the price already looked up."""
        if self.price is None:
            return 0.0
        return pricing.charge_usage(self.price, usage)


@dataclass(frozen=True, slots=True)
class ProviderEvents:
    """What the providers' breakers and limiters do, as the run's ``breaker_state``,
    ``provider_throttled`` and ``provider_paused`` events."""

    sink: EventSink

    def breaker_changed(self, provider: str, old: str, new: str) -> None:
        self.sink.emit(events.BreakerState(provider=provider, old=old, new=new))

    def throttled(self, provider: str, window: int, in_flight: int, reason: str) -> None:
        self.sink.emit(
            events.ProviderThrottled(
                provider=provider, window=window, in_flight=in_flight, reason=reason
            )
        )

    def paused(self, provider: str, seconds: float, reason: str) -> None:
        self.sink.emit(events.ProviderPaused(provider=provider, seconds=seconds, reason=reason))


class Providers:
    """Providers by name, built on first use; one shared HTTP client, made only if needed.

    ``overrides`` are ready-made providers by name (a ``FunctionProvider`` in tests, a custom
    provider in library use); they still get the entry's limits and breaker.

    With ``mock`` every reference goes to the one mock provider (offline rehearsal of a real
    workflow), priced as the provider it stands in for, so budgets can be rehearsed too.

    The HTTP client is ``set_up`` as the run starts, in a worker thread: importing aiohttp
    and loading the CA bundle (only when a provider's base URL is ``https://``) take a few
    hundred milliseconds, which inside the first call stalled every step and counted against
    that call's attempt timeout. Steps that call no model go on meanwhile; an agent task
    waits (``set_up_done``) before its first attempt. With ``mock`` or ``offline``
    (``--cache-only``), and when no step's agent uses an HTTP provider, no client is built
    and none of its modules imported. ``http_get`` tools have their own client (``web``).
    """

    def __init__(
        self,
        workflow: Workflow,
        *,
        mock: bool = False,
        offline: bool = False,
        fixtures: Fixtures | None = None,
        on_breaker_change: Callable[[str, str, str], None] | None = None,
        watch: LimiterWatch | None = None,
        max_connections: int = 100,
        overrides: Mapping[str, Provider] | None = None,
    ) -> None:
        self._workflow = workflow
        # Every file's providers (sub-workflows' too): one instance per name for the run.
        self._specs = run_providers(workflow)
        self._mock = mock
        self._offline = offline
        self._fixtures = fixtures
        self._overrides = dict(overrides or {})
        self._on_breaker_change = on_breaker_change
        self._watch = watch  # the providers' limiters' events (provider_throttled, ...)
        self._max_connections = max_connections
        self._built: dict[str, GuardedProvider] = {}
        self._routes: dict[str, Route] = {}
        self._remote: dict[tuple[str, str], GuardedProvider] = {}
        self._http: HttpClient | None = None
        self._web: SharedClient | None = None
        self._mock_instance: Provider | None = None
        self._set_up: anyio.Event | None = None  # set when the client's set-up has ended

    def route(self, reference: str) -> Route:
        route = self._routes.get(reference)
        if route is None:
            route = self._routes[reference] = self._make_route(reference)
        return route

    def _make_route(self, reference: str) -> Route:
        name, _, model = reference.partition("/")
        spec = self._specs.get(name)
        protocol = spec.type if spec is not None else name
        price = pricing.lookup(model, spec.pricing if spec else None, protocol=protocol)
        target = "mock" if self._mock else name
        return Route(self.provider(target), model, f"{target}/{model}", price)

    def remote(self, route: Route, executor: Executor, resources: ResourcesSpec | None) -> Route:
        """``route`` with its calls sent through ``executor`` (a step's model calls on the
        cluster), behind the same limits and breaker as its local calls; a provider that
        sends nothing over HTTP (the mock, a library's own) answers here as before."""
        provider = route.provider
        if not self._over_http(provider.name) or self._mock or self._offline:
            return route
        # Made once per provider and reservation, as local providers are: the entry is
        # resolved (its key read) once, not for every item's call.
        key = (provider.name, "" if resources is None else resources.model_dump_json())
        remote = self._remote.get(key)
        if remote is None:
            from agnoctl.engine.remote_model import RemoteModel, endpoint
            from agnoctl.providers.registry import GuardedProvider

            target = endpoint(provider.name, self._specs.get(provider.name))
            remote = self._remote[key] = GuardedProvider(
                RemoteModel(executor, resources, target),
                breaker=provider.breaker,
                limiter=provider.limiter,
                prices=provider.prices,
                name=provider.name,
            )
        return replace(route, provider=remote)

    def provider(self, name: str) -> GuardedProvider:
        built = self._built.get(name)
        if built is None:
            built = self._built[name] = self._build(name)
        return built

    def _build(self, name: str) -> GuardedProvider:
        from agnoctl.providers import registry

        spec = self._specs.get(name)
        inner: Provider
        if name in self._overrides:
            inner = self._overrides[name]
        elif name == "mock" or (spec is not None and spec.type == "mock"):
            inner = self._mock_provider()
        else:
            try:
                inner = registry.build_provider(name, spec, self.http())
            except UsageError as exc:
                raise UsageError(f"{exc} (used by a model reference `{name}/...`)") from None
        return registry.guard(
            inner,
            spec,
            on_breaker_change=self._breaker_change,
            # The adaptive window of a provider without max_concurrency grows up to the run's.
            ceiling=self._max_connections,
            watch=self._watch,
            name=name,
        )

    def _mock_provider(self) -> Provider:
        # One instance for every mock entry: a fixture script numbers the calls of a step
        # across providers, so "fail twice, then answer" also scripts a fallback model.
        if self._mock_instance is None:
            from agnoctl.providers.mock import MockProvider

            self._mock_instance = MockProvider(self._fixtures, keep_calls=0)
        return self._mock_instance

    def http(self) -> HttpClient:
        """The run's one HTTP client holder (the client itself is created on first request)."""
        if self._http is None:
            from agnoctl.providers.http import HttpClient

            self._http = HttpClient(max_connections=self._max_connections)
        return self._http

    def web(self) -> SharedClient:
        """The run's one client of ``http_get`` tools (made on their first call); under
        ``mock`` one that sends nothing, as the mock sends nothing."""
        if self._web is None:
            from agnoctl.tools.http_get import SharedClient

            self._web = SharedClient(offline=self._mock)
        return self._web

    def needs_http(self) -> bool:
        """Whether a step's agent (or a judge) may call a provider over HTTP."""
        return bool(self._http_providers())

    def _http_providers(self) -> set[str]:
        """The providers the steps' agents (and judges) may call over HTTP, by name."""
        if self._mock or self._offline:
            return set()
        return {
            name
            for workflow in every_workflow(self._workflow)
            for agent in _used_agents(workflow)
            for reference in (agent.model, *agent.fallback_models)
            if self._over_http(name := reference.partition("/")[0])
        }

    def _over_http(self, name: str) -> bool:
        if name in self._overrides:
            return False
        spec = self._specs.get(name)
        return (spec.type if spec is not None else name) in _HTTP_PROTOCOLS

    def _tls_needed(self) -> bool:
        """Whether a provider the steps may call has an ``https://`` base URL."""
        from agnoctl.providers import registry

        for name in self._http_providers():
            try:
                connection = registry.resolve(name, self._specs.get(name))
            except UsageError:
                continue  # reported by the step that calls it
            if connection.base_url.lower().startswith("https:"):
                return True
        return False

    async def set_up(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """Build the HTTP client in a worker thread; started (``TaskGroup.start``) before
        any step, so that every agent task finds ``setting_up`` true until it is done."""
        done = self._set_up = anyio.Event()
        task_status.started()
        try:
            # A failure (a CA bundle that does not load) is left to the first request: it
            # builds the client again, in its step, which reports the error as it did
            # before the client got this head start.
            with contextlib.suppress(Exception):
                tls = self._tls_needed()
                await anyio.to_thread.run_sync(partial(self.http().build, tls=tls))
        finally:
            done.set()

    @property
    def setting_up(self) -> bool:
        """Whether the HTTP client is still being built."""
        return self._set_up is not None and not self._set_up.is_set()

    async def set_up_done(self) -> None:
        """Wait until the HTTP client is built (at once when it is, or none is needed)."""
        if self._set_up is not None and not self._set_up.is_set():
            await self._set_up.wait()

    def throttling(self) -> dict[str, dict[str, Any]]:
        """What each provider's limits did (429s, windows, pauses, waits), for the report;
        providers whose limits never held a call back are left out."""
        return {
            name: provider.limiter.throttling.as_dict()
            for name, provider in self._built.items()
            if provider.limiter.throttling
        }

    def _breaker_change(self, name: str, old: str, new: str) -> None:
        if self._on_breaker_change is not None:
            self._on_breaker_change(name, old, new)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self._web is not None:
            await self._web.aclose()


_HTTP_PROTOCOLS = frozenset({"openai", "anthropic", "ollama"})


def _used_agents(workflow: Workflow) -> list[AgentSpec]:
    """The agents the workflow's steps call (``_agents_of_steps``) that it declares."""
    agents = workflow.agents
    return [agents[name] for name in _agents_of_steps(workflow) if name in agents]


def _agents_of_steps(workflow: Workflow) -> set[str]:
    """The agents the workflow's steps call: their own and their judges'."""
    used: set[str] = set()
    for node in iter_steps(workflow):
        step = node.spec
        if step.agent is not None:
            used.add(step.agent)
        used.update(gate.agent for gate in step.gates or () if isinstance(gate, JudgeGate))
    return used


class Runtime:
    """The services of one run, shared by the scheduler and every step."""

    def __init__(
        self,
        workflow: Workflow,
        *,
        run_id: str,
        sink: EventSink,
        providers: Providers,
        budget: Budget,
        rng: random.Random,
        workflow_dir: Path,
        reuse: Reuse | None = None,
        cache: ResponseCache | None = None,
        cache_mode: CacheMode = "off",
    ) -> None:
        self.workflow = workflow
        self.reuse = reuse or Reuse(workflow)
        self.cache = cache
        self.cache_mode: CacheMode = cache_mode if cache is not None else "off"
        self._cache_use: dict[tuple[str, str | None], bool] = {}
        self.run_id = run_id
        self.sink = sink
        self.providers = providers
        self.budget = budget
        self.ledger = CostLedger()
        self.rng = rng
        self.workflow_dir = workflow_dir
        self.workflow_file: Path | None = None  # the run's file as given, for messages
        limit = workflow.limits.max_concurrency
        self.run_limiter = PriorityLimiter(limit) if limit else None
        self.agent_limiters = _agent_limiters(workflow)
        self._run_limiters = (self.run_limiter,) if self.run_limiter is not None else ()
        self.stop_reason: str | None = None  # set when a limit stops new work
        # Told each piece of a streamed reply's text with the task's path and item index (the
        # live display); None when nobody shows text, and the providers then do nothing per piece.
        self.on_text: Callable[[str, int | None, str], None] | None = None
        # Token and cost limits need each call's worst case held while it runs.
        self._reserve_worst_case = (
            workflow.limits.max_tokens is not None or workflow.limits.max_cost_usd is not None
        )
        self._default_settings = settings_for(StepSpec.model_construct(), workflow.defaults)
        self._tools: dict[str, Tool] | None = None
        # Where command steps and command tools run their programs: here, or on a Ray
        # cluster (`--executor ray`, set by `execute` before the steps start).
        self.executor: Executor = LOCAL
        # Whether every agent step's model calls go there too (`--ray-agents`), not only
        # those of steps with `resources:`.
        self.ray_agents = False
        # The run's MCP servers (sub-workflows' too), when a file of the run declares one;
        # `execute` holds them open for the run's lifetime.
        self.mcp: McpServers | None = None
        if any(uses_mcp(each) for each in every_workflow(workflow)):
            from agnoctl.tools.mcp import McpServers

            self.mcp = McpServers()
        self._root = self  # the run's own runtime; a sub-workflow's shares its services
        self._step_prefix = ""  # where this workflow's steps sit in the run ("review.")
        self._sub: dict[str, Runtime] = {}  # sub-workflows' runtimes, by step prefix
        # Agents' limiters by the file that defines them: every step calling a file shares its
        # agents' caps (two `uses` steps of one file: 2 in flight, not 2 each).
        self._agent_limiters_by_file: dict[Path, dict[str, PriorityLimiter]] = {}
        if workflow.file is not None:
            self._agent_limiters_by_file[workflow.file.resolve()] = self.agent_limiters

    def for_sub_workflow(self, workflow: Workflow, step_prefix: str) -> Runtime:
        """The runtime of a sub-workflow whose steps run at ``step_prefix`` (``review.``):
        its own agents, tools, defaults and step fingerprints; the run's budget, providers,
        limits, cache, ledger and events (one run, one budget)."""
        found = self._root._sub.get(step_prefix)
        if found is None:
            found = self._root._sub[step_prefix] = copy.copy(self)
            found.workflow = workflow
            assert workflow.file is not None  # validated from a file: agnoctl.spec.uses
            found.workflow_dir = workflow.file.parent
            found.reuse = self.reuse.for_sub_workflow(workflow)
            found.agent_limiters = self._root._agent_limiters_by_file.setdefault(
                workflow.file.resolve(), _agent_limiters(workflow)
            )
            found._default_settings = settings_for(StepSpec.model_construct(), workflow.defaults)
            found._tools = None
            found._cache_use = {}
            found._step_prefix = step_prefix
        return found

    def settings(self, step: StepSpec) -> Settings:
        """The step's effective settings: most steps set none of their own, and share the
        workflow's defaults."""
        if has_default_settings(step):
            return self._default_settings
        return settings_for(step, self.workflow.defaults)

    def route(self, reference: str, step: StepSpec) -> Route:
        """Where a model call of ``step`` goes: on the cluster when the step asks for it
        (`resources:`) or the run does for every agent step (`--ray-agents`), under
        `--executor ray`; here otherwise."""
        route = self.providers.route(reference)
        if self.executor is LOCAL or (step.resources is None and not self.ray_agents):
            return route
        return self.providers.remote(route, self.executor, step.resources)

    def leaf_limiters(self, step: StepSpec) -> tuple[PriorityLimiter, ...]:
        """Limiters an agent or command task holds, in the one order every task takes them."""
        if not self.agent_limiters:
            return self._run_limiters
        agent = self.agent_limiters.get(step.agent) if step.agent is not None else None
        return self._run_limiters if agent is None else (agent, *self._run_limiters)

    @property
    def stopped(self) -> bool:
        """Whether a limit was reached: work that has not started must not start."""
        return self._root.stop_reason is not None or self.budget.exhausted is not None

    def stop_message(self) -> str | None:
        """Which limit stopped the run, or None."""
        if self._root.stop_reason is not None:
            return self._root.stop_reason
        return None if self.budget.exhausted is None else str(self.budget.exhausted)

    def tools(self) -> dict[str, Tool]:
        if self._tools is None:
            from agnoctl.tools.registry import build_tools

            web = self.providers.web
            self._tools = build_tools(
                self.workflow.tools, http_client=lambda: web().get(), executor=self.executor
            )
        return self._tools

    async def call_model(
        self,
        route: Route,
        request: ModelRequest,
        path: str,
        step_path: str,
        tags: Tags | None,
        attempt: AttemptRecord,
        prepare: Callable[[ModelRequest], Awaitable[ModelRequest]] | None = None,
    ) -> ModelReply:
        """One model call: reserve its worst case, call, account, report it as an event.

        ``prepare`` makes the request sent from ``request`` when one is sent (a cache hit
        sends none): an agent's MCP tools, listed from their servers.
        """
        tokens, cost = 0, 0.0
        if self._reserve_worst_case:
            worst = estimate_usage(request)  # what the request sends, and a full reply
            tokens, cost = worst.total, route.cost(worst)
        budget = self.budget
        reservation = budget.reserve(tokens, cost)
        started = time.perf_counter()
        if self.on_text is not None and request.context.purpose == "task":
            request = _showing_text(request, partial(self.on_text, path, request.context.index))
        context = request.context
        mode = self._cache_mode(step_path, context)
        try:
            with watched_dispatch() as dispatch:
                # No cache to look in (the mock's runs), or none for this step (`cache:
                # false`): the call goes straight to the provider.
                if mode == "off":
                    sent = request if prepare is None else await prepare(request)
                    reply = await route.provider.request(sent)
                    hit = False
                else:
                    reply, hit = await cached_request(
                        self.cache, route.provider, request, mode=mode, prepare=prepare
                    )
        except (CacheMiss, ToolServerFailed) as exc:
            budget.release(reservation)  # --cache-only, or no MCP server: nothing was sent
            if isinstance(exc, CacheMiss) and not self._caching(step_path, context):
                # "Run once without --cache-only to fill the cache" would never fill it.
                raise CacheMiss(
                    f"no cached reply for step {context.step_id!r} and --cache-only is set: "
                    "the step has cache: false (on the step, its agent or in defaults), so "
                    "no run records its replies; run it without --cache-only"
                ) from None
            raise
        except BaseException as exc:
            if dispatch.held:
                # Its provider's guard never sent it: the breaker is open, the provider is
                # paused past any wait we take, or the run was cancelled while it waited.
                budget.release(reservation)
                raise
            # A call counts once it was sent, answered, failed or cancelled, as
            # `max_llm_calls` counts it: the step, the cost ledger (report and summary), the
            # budget and the journal's llm_call events (metrics, a resume) say the same. A
            # malformed reply that told its usage is paid for: its tokens count too.
            billed = exc.tokens if isinstance(exc, MalformedResponse) else None
            usage = None if billed is None else Usage(*billed)
            cost = self._count(route, reservation, attempt, step_path, context, tags, usage)
            error = reason(exc) if isinstance(exc, Exception) else "cancelled"
            self._llm_event(
                route,
                path,
                context,
                started,
                usage=usage,
                cost=None if usage is None else cost,
                error=error,
            )
            raise
        if hit:
            reply.cached = True  # a reply decoded from the cache for this call alone
            budget.release(reservation)
            self.ledger.add(step_path, context.agent, route.label, tags, calls=0, cache_hits=1)
            self._llm_event(route, path, context, started, reply=reply, cached=True)
            return reply
        attempt.node = reply.node or attempt.node  # a remote call says where it ran
        usage = reply.usage
        cost = self._count(route, reservation, attempt, step_path, context, tags, usage)
        if reply.ttft is not None:
            _note_stream(attempt, reply, usage.output_tokens)
        self._llm_event(route, path, context, started, usage=usage, cost=cost, reply=reply)
        return reply

    def _count(
        self,
        route: Route,
        reservation: Reservation | None,
        attempt: AttemptRecord,
        step_path: str,
        context: CallContext,
        tags: Tags | None,
        usage: Usage | None,
    ) -> float:
        """Count one sent call and the ``usage`` it reported (None: none known) into the
        budget, its attempt and the cost ledger; its cost."""
        tokens_in, tokens_out = (
            (0, 0) if usage is None else (usage.input_tokens, usage.output_tokens)
        )
        cost = 0.0 if usage is None else route.cost(usage)
        # A reply without usage (no model reads a prompt for nothing) is not a failed call,
        # which adds nothing: the limits count it at its worst case.
        reported = usage is None or usage.total > 0
        self.budget.settle(reservation, tokens_in + tokens_out, cost, reported=reported)
        attempt.calls += 1
        attempt.tokens_in += tokens_in
        attempt.tokens_out += tokens_out
        attempt.cost += cost
        self.ledger.add(step_path, context.agent, route.label, tags, tokens_in, tokens_out, cost)
        return cost

    def cache_mode_of(self, step_path: str, context: CallContext) -> CacheMode:
        """How a call of ``step_path`` uses the cache (MCP tool results follow its replies)."""
        return self._cache_mode(step_path, context)

    def _cache_mode(self, step_path: str, context: CallContext) -> CacheMode:
        """How this call uses the cache: `cache: false` (step, agent, defaults) turns it off,
        except under --cache-only, where nothing may be sent at all."""
        if self.cache_mode != "use":
            return self.cache_mode
        return "use" if self._caching(step_path, context) else "off"

    def _caching(self, step_path: str, context: CallContext) -> bool:
        """Whether the step's settings (step, agent, defaults) let its calls use the cache."""
        key = (step_path, context.agent)
        enabled = self._cache_use.get(key)
        if enabled is None:
            step = find_step(self.workflow, step_path.removeprefix(self._step_prefix))
            agent = self.workflow.agents.get(context.agent) if context.agent else None
            enabled = self._cache_use[key] = caching_enabled(
                step.cache if step is not None else None,
                agent.cache if agent is not None else None,
                self.workflow.defaults.cache,
            )
        return enabled

    def _llm_event(
        self,
        route: Route,
        path: str,
        context: CallContext,
        started: float,
        *,
        usage: Usage | None = None,
        cost: float | None = None,
        error: str | None = None,
        reply: ModelReply | None = None,
        cached: bool = False,
    ) -> None:
        # The reply goes into the journal (redacted, as every event) for `fixtures export`;
        # `wait_ms` is what a sent call waited for its provider's limits, if anything.
        self.sink.emit(
            events.LlmCall(
                step=path,
                item=context.index,
                attempt=context.attempt,
                purpose=context.purpose,
                agent=context.agent,
                provider=route.provider.name,
                model=route.model,
                tokens_in=None if usage is None else usage.input_tokens,
                tokens_out=None if usage is None else usage.output_tokens,
                tokens_cache_read=None if usage is None else usage.cache_read_tokens or None,
                tokens_cache_write=None if usage is None else usage.cache_write_tokens or None,
                cost=cost,
                error=error,
                cached=cached or None,
                reply=None if reply is None else _reply_data(reply),
                duration_ms=milliseconds(time.perf_counter() - started),
                wait_ms=milliseconds(reply.waited) if reply is not None and reply.waited else None,
                ttft_ms=None if reply is None or reply.ttft is None else milliseconds(reply.ttft),
                tokens_per_s=None if reply is None else _speed(reply),
            )
        )


def _showing_text(request: ModelRequest, on_text: Callable[[str], None]) -> ModelRequest:
    """``request`` whose reply's text goes to ``on_text`` as it arrives (not part of the
    cache key: the context never is)."""
    return replace(request, context=replace(request.context, on_text=on_text))


def _note_stream(attempt: AttemptRecord, reply: ModelReply, tokens_out: int) -> None:
    """Count a streamed reply's timings into its attempt (the first call's ttft is the one a
    person waits for before anything shows)."""
    if attempt.ttft is None:
        attempt.ttft = reply.ttft
    attempt.stream_tokens += tokens_out
    attempt.stream_seconds += reply.stream_seconds or 0.0


def _speed(reply: ModelReply) -> float | None:
    if reply.stream_seconds is None:
        return None
    return tokens_per_second(reply.usage.output_tokens, reply.stream_seconds)


def uses_mcp(workflow: Workflow) -> bool:
    """Whether the workflow declares an MCP tool (its agents may start servers)."""
    return any(tool.type == "mcp" for tool in workflow.tools.values())


def _agent_limiters(workflow: Workflow) -> dict[str, PriorityLimiter]:
    return {
        name: PriorityLimiter(agent.max_concurrency)
        for name, agent in workflow.agents.items()
        if agent.max_concurrency
    }


def _reply_data(reply: ModelReply) -> dict[str, Any]:
    calls = [{"name": c.name, "arguments": c.arguments} for c in reply.tool_calls]
    data: dict[str, Any] = {"text": reply.text, "tool_calls": calls}
    if not reply.finished:
        # The step failed on it: `fixtures export` scripts the same end, so a replay fails too.
        data["finish_reason"] = reply.finish_reason
    return data
