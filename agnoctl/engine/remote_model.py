"""An agent step's model calls as cluster tasks (`--executor ray`, declared by the step's
`resources:` or by `--ray-agents`; docs/ray.md).

What goes is one model call: the provider's HTTP request and the parsing of its reply, run
by the protocol's own provider, built on the worker from the provider's entry. The common
reason is a model served on the cluster's GPU nodes and reachable only from there (a
vLLM or Ollama ``base_url`` of ``http://localhost:8000`` on every node). Everything around
the call stays with the driver: the provider's limits and breaker wrap this ``Provider`` as
they wrap a local one (one window, one rate limit, one breaker for both), and retries,
budgets, the cache, the tool loop, the journal and the reports are the engine's.

The API key: a worker whose environment holds the provider's own variable
(``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``) uses it; otherwise the key the driver resolved
travels in the task's arguments (Ray's object store), never in an event, a report, a log or
the cache. A reply's text is not streamed to the live display from a worker; its ``ttft``
is measured there.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from agnoctl.providers import registry
from agnoctl.spec.models import ProviderSpec, ResourcesSpec

if TYPE_CHECKING:
    from agnoctl.providers.base import ModelReply, ModelRequest
    from agnoctl.tools.executor import Executor


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What a worker needs to build the provider: its name, its entry as the driver resolved
    it (base URL included, key left out) and the driver's key."""

    name: str
    spec: ProviderSpec
    key: str | None = field(default=None, repr=False)  # kept out of any message


def endpoint(name: str, spec: ProviderSpec | None) -> Endpoint:
    """The provider ``name`` (entry ``spec``, if any) as resolved here, on the driver."""
    connection = registry.resolve(name, spec)
    sent = spec or ProviderSpec.model_validate({"type": connection.protocol})
    sent = sent.model_copy(update={"base_url": connection.base_url, "api_key": None})
    return Endpoint(name, sent, connection.api_key)


class RemoteModel:
    """A ``Provider`` whose calls run through ``executor`` with ``resources`` reserved."""

    def __init__(
        self, executor: Executor, resources: ResourcesSpec | None, target: Endpoint
    ) -> None:
        self.name = target.name
        self.protocol: str = target.spec.type
        self.base_url = target.spec.base_url or ""
        self._executor = executor
        self._resources = resources
        self._target = target

    async def request(self, request: ModelRequest) -> ModelReply:
        # The live display's callback belongs to this process: a worker streams to no one.
        sent = replace(request, context=replace(request.context, on_text=None))
        ran = await self._executor.run(self._resources, call_on_worker, self._target, sent)
        ran.value.node = ran.node
        return ran.value


async def call_on_worker(target: Endpoint, request: ModelRequest) -> ModelReply:
    """One model call where this runs, by a provider built for it (a worker runs each task in
    an event loop of its own, so the HTTP client lives as long as the call)."""
    from agnoctl.providers.http import HttpClient

    http = HttpClient()
    try:
        provider = registry.build_provider(target.name, _with_key(target), http)
        return await provider.request(request)
    finally:
        await http.aclose()


def _with_key(target: Endpoint) -> ProviderSpec:
    """The entry with the worker's own key variable's value when it is set, else the
    driver's key."""
    own = registry.resolve(target.name, target.spec).api_key
    return target.spec.model_copy(update={"api_key": own or target.key})
