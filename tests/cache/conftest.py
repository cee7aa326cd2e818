from __future__ import annotations

import pytest

from agnoctl.providers.base import ModelReply, ModelRequest, Usage


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class RecordingProvider:
    """A provider that answers every request with a numbered reply and keeps what it was asked."""

    def __init__(
        self,
        protocol: str = "openai",
        base_url: str = "http://127.0.0.1:9/v1",
        api_key: str = "sk-agnoctl-PLANTED-SECRET-0123456789",
    ) -> None:
        self.name = "local"
        self.protocol = protocol
        self.base_url = base_url
        self.api_key = api_key
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.requests: list[ModelRequest] = []

    async def request(self, request: ModelRequest) -> ModelReply:
        self.requests.append(request)
        return ModelReply(
            text=f"reply {len(self.requests)}", usage=Usage(10, 5), finish_reason="stop", model="m"
        )


@pytest.fixture
def provider() -> RecordingProvider:
    return RecordingProvider()


@pytest.fixture
def make_provider() -> type[RecordingProvider]:
    return RecordingProvider
