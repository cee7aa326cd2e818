"""The fake LLM server itself: directives, scripting, counters, loopback only, the command."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import anyio
import httpx
import pytest

from agnoctl.providers.http import create_client, limit_wait
from agnoctl.testing.fake_llm import (
    FakeLLMConfig,
    FakeLLMServer,
    FakeLLMThread,
    FakeReply,
    FakeRequest,
    FakeToolCall,
    RequestBucket,
    go_duration,
    main,
    parse_directives,
    prompt_hash,
)

pytestmark = pytest.mark.anyio

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def chat(prompt: str, model: str = "m") -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": False}


def test_directives_are_parsed_and_removed():
    text = (
        'a [[fail:3:503]] b [[json:{"x": [1, [2]]}]] c [[tool:grep:{"q": "]]"}]] [[text:hi there]]'
    )
    directives, rest = parse_directives(text)
    assert rest == "a b c"
    assert [d.name for d in directives] == ["fail", "json", "tool", "text"]
    assert directives[0].key == "[[fail:3:503]]"
    assert directives[0].args == ("3", "503")
    assert directives[1].payload == {"x": [1, [2]]}
    assert directives[2].args == ("grep",)
    assert directives[2].payload == {"q": "]]"}
    assert directives[3].args == ("hi there",)


def test_unknown_or_broken_directives_stay_in_the_text():
    directives, rest = parse_directives("[[nope]] [[json:{broken]] [[fail:1")
    assert directives == ()
    assert rest == "[[nope]] [[json:{broken]] [[fail:1"


def test_options_and_keys():
    (directive,), _ = parse_directives("[[429:retry_after=2:times=3:key=step-a]]")
    assert directive.args == ()
    assert directive.options == {"retry_after": "2", "times": "3", "key": "step-a"}


async def test_directive_counters_are_per_exact_text(fake_llm: FakeLLMThread):
    async with httpx.AsyncClient(base_url=fake_llm.url) as client:
        codes = [
            (await client.post("/v1/chat/completions", json=chat(prompt))).status_code
            for prompt in ["[[fail:1:500:key=a]]", "[[fail:1:500:key=b]]", "[[fail:1:500:key=a]]"]
        ]
    assert codes == [500, 500, 200]
    assert fake_llm.stats()["keys"] == {"[[fail:1:500:key=a]]": 2, "[[fail:1:500:key=b]]": 1}


async def test_bad_directive_answers_400(fake_llm: FakeLLMThread):
    async with httpx.AsyncClient(base_url=fake_llm.url) as client:
        response = await client.post("/v1/chat/completions", json=chat("[[fail:x]]"))
    assert response.status_code == 400
    assert "bad directive [[fail:x]]" in response.json()["error"]["message"]


async def test_script_then_responder_then_directives(fake_llm: FakeLLMThread):
    asked: list[FakeRequest] = []

    def responder(request: FakeRequest) -> FakeReply | None:
        asked.append(request)
        return FakeReply(text="from responder") if request.model == "special" else None

    fake_llm.server.config = FakeLLMConfig(responder=responder)
    fake_llm.server.config.script.append(
        FakeReply(tool_calls=(FakeToolCall("grep", {"q": 1}),), input_tokens=5, output_tokens=6)
    )
    async with httpx.AsyncClient(base_url=fake_llm.url) as client:
        scripted = (await client.post("/v1/chat/completions", json=chat("a"))).json()
        special = (await client.post("/v1/chat/completions", json=chat("b", "special"))).json()
        default = (await client.post("/v1/chat/completions", json=chat("c [[text:plain]]"))).json()
    call = scripted["choices"][0]["message"]["tool_calls"][0]
    assert call["function"] == {"name": "grep", "arguments": '{"q": 1}'}
    assert scripted["usage"] == {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}
    assert special["choices"][0]["message"]["content"] == "from responder"
    assert default["choices"][0]["message"]["content"] == "plain"
    assert [r.prompt for r in asked] == ["b", "c"]  # the script answered the first one
    assert asked[1].attempt == 1


async def test_stats_and_reset_over_http(fake_llm: FakeLLMThread):
    async with httpx.AsyncClient(base_url=fake_llm.url) as client:
        await client.post("/v1/chat/completions", json=chat("x", "gpt"))
        await client.post("/api/chat", json=chat("x", "llama"))
        stats = (await client.get("/_stats")).json()
        assert stats["requests"] == 2
        assert stats["routes"] == {"/v1/chat/completions": 1, "/api/chat": 1}
        assert stats["models"] == {"gpt": 1, "llama": 1}
        assert stats["prompts"] == {prompt_hash("x"): 2}
        assert stats["statuses"] == {"200": 2}
        await client.post("/_reset")
        assert (await client.get("/_stats")).json()["requests"] == 0
        assert (await client.get("/nothing")).status_code == 404


async def test_a_route_holding_its_endpoint_twice_is_not_found(fake_llm: FakeLLMThread):
    # As a provider answers a client whose base_url already held the endpoint: the test
    # server must not hide a doubled path (found by the docs-integrations pass).
    headers = {"x-api-key": "k", "anthropic-version": "1"}
    async with httpx.AsyncClient(base_url=fake_llm.url) as client:
        for path in (
            "/v1/chat/completions/chat/completions",
            "/v1/messages/v1/messages",
            "/api/chat/api/chat",
        ):
            response = await client.post(path, json=chat("hi"), headers=headers)
            assert response.status_code == 404, path
        prefixed = await client.post("/proxy/v1/chat/completions", json=chat("hi"))
    assert prefixed.status_code == 200


async def test_anthropic_headers_are_required(fake_llm: FakeLLMThread):
    async with httpx.AsyncClient(base_url=fake_llm.url) as client:
        no_version = await client.post("/v1/messages", json=CHAT, headers={"x-api-key": "k"})
        no_key = await client.post("/v1/messages", json=CHAT, headers={"anthropic-version": "1"})
    assert no_version.status_code == 400
    assert no_version.json()["error"]["type"] == "invalid_request_error"
    assert no_key.status_code == 401
    assert no_key.json()["type"] == "error"


async def test_counts_every_request_under_concurrency(fake_llm: FakeLLMThread):
    fake_llm.server.config = FakeLLMConfig(latency_ms=20)
    # The project's client: httpx's own pool collapses at this fan-out (encode/httpcore#1035).
    client = create_client(max_connections=50, trust_env=False)
    try:

        async def one(i: int) -> None:
            url = f"{fake_llm.url}/v1/chat/completions"
            async with client.session.post(url, json=chat(f"n{i % 3}")) as response:
                assert response.status == 200

        async with anyio.create_task_group() as group:
            for i in range(300):
                group.start_soon(one, i)
    finally:
        await client.aclose()
    stats = fake_llm.stats()
    assert stats["requests"] == 300
    assert sum(stats["prompts"].values()) == 300
    assert 1 < stats["max_in_flight"] <= 50
    assert stats["in_flight"] == 0


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "example.com", "::"])
def test_refuses_non_loopback_hosts(host: str):
    with pytest.raises(ValueError, match="only listens on loopback"):
        FakeLLMServer(host=host)


def test_accepts_loopback_names():
    assert FakeLLMServer(host="localhost").host == "127.0.0.1"
    assert FakeLLMServer(host="::1").host == "::1"


async def test_in_loop_server():
    server = FakeLLMServer(FakeLLMConfig())
    url = await server.start()
    try:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{url}/api/chat", json={**chat("[[tokens:3:4]] hi"), "stream": False}
            )
        body = response.json()
        assert body["message"] == {"role": "assistant", "content": "echo: hi"}
        assert (body["prompt_eval_count"], body["eval_count"], body["done"]) == (3, 4, True)
    finally:
        await server.close()


def test_command_prints_url_and_stops_on_sigterm():
    command = [sys.executable, "-m", "agnoctl.testing.fake_llm", "--port", "0", "--latency-ms", "1"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline().strip()
            assert first.startswith("listening http://127.0.0.1:")
            url = first.removeprefix("listening ")
            response = httpx.post(f"{url}/v1/chat/completions", json=CHAT)
            assert response.json()["choices"][0]["message"]["content"] == "echo: hi"
            assert json.loads(httpx.get(f"{url}/_stats").text)["requests"] == 1
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()


def test_command_refuses_other_hosts():
    command = [sys.executable, "-m", "agnoctl.testing.fake_llm", "--host", "0.0.0.0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "only listens on loopback" in result.stderr


async def test_streams_when_asked(fake_llm: FakeLLMThread):
    async with httpx.AsyncClient(base_url=fake_llm.url) as client:
        ollama_default = await client.post("/api/chat", json=CHAT)  # Ollama streams by default
        openai_stream = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert ollama_default.headers["content-type"].startswith("application/x-ndjson")
    assert json.loads(ollama_default.text.splitlines()[-1])["done"] is True
    assert openai_stream.headers["content-type"].startswith("text/event-stream")
    assert openai_stream.text.endswith("data: [DONE]\n\n")
    assert '"usage"' not in openai_stream.text  # usage only when stream_options asks for it


def test_stopping_an_unstarted_server_is_harmless():
    FakeLLMThread().stop()


# ----------------------------------------------------------------- token-bucket mode


async def test_token_bucket_answers_429_beyond_the_burst(fake_llm: FakeLLMThread):
    fake_llm.server.config = FakeLLMConfig(rps=0.5, burst=3)  # refills one in 2 s
    async with httpx.AsyncClient(base_url=fake_llm.url) as client:
        started = time.monotonic()
        replies = [
            await client.post("/v1/chat/completions", json=chat("[[fail:9:500]] x"))
            for _ in range(5)
        ]
        # The bucket refills while the requests are made: on a loaded machine that is a
        # tenth of a second or more, which shortens every wait below by as much.
        elapsed = time.monotonic() - started
    assert [r.status_code for r in replies] == [500, 500, 500, 429, 429]
    assert [r.headers["x-ratelimit-remaining-requests"] for r in replies] == [
        "2",
        "1",
        "0",
        "0",
        "0",
    ]
    assert replies[0].headers["x-ratelimit-limit-requests"] == "3"
    assert 6.0 - elapsed - 0.05 <= limit_wait(replies[2].headers) <= 6.05  # full again in ~6 s
    refused = replies[3]
    assert refused.json()["error"]["message"].startswith("fake_llm: over the rate limit")
    assert 2000 - 1000 * elapsed - 50 <= float(refused.headers["retry-after-ms"]) <= 2050
    assert refused.headers["retry-after"] == "2"
    stats = fake_llm.stats()
    assert stats["statuses"] == {"500": 3, "429": 2}
    assert stats["keys"] == {"[[fail:9:500]]": 3}  # refused requests reach no directive


async def test_token_bucket_speaks_anthropic_on_its_route(fake_llm: FakeLLMThread):
    fake_llm.server.config = FakeLLMConfig(rps=0.5, burst=1)
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    async with httpx.AsyncClient(base_url=fake_llm.url) as client:
        taken = await client.post("/v1/messages", json=CHAT, headers=headers)
        refused = await client.post("/v1/messages", json=CHAT, headers=headers)
    assert taken.status_code == 200
    assert taken.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert taken.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    assert limit_wait(taken.headers) == pytest.approx(2.0, abs=0.2)
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert limit_wait(refused.headers, status=429) == pytest.approx(2.0, abs=0.2)


async def test_reset_fills_the_bucket_again(fake_llm: FakeLLMThread):
    fake_llm.server.config = FakeLLMConfig(rps=0.5, burst=1)
    async with httpx.AsyncClient(base_url=fake_llm.url) as client:
        assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
        assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 429
        await client.post("/_reset")
        assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200


def test_request_bucket_refills_at_its_rate():
    now = [0.0]
    bucket = RequestBucket(20, 2, clock=lambda: now[0])
    assert bucket.take() and bucket.take()
    assert not bucket.take()
    now[0] += 0.05  # one request's worth
    assert bucket.take()
    assert not bucket.take()
    assert RequestBucket(2.5).burst == 2


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.02, "20ms"),
        (0.9504, "950ms"),
        (1.0, "1s"),
        (1.5, "1.5s"),
        (360.0, "6m0s"),
        (65.25, "1m5.25s"),
    ],
)
def test_go_duration(seconds: float, text: str):
    assert go_duration(seconds) == text


@pytest.mark.parametrize("argv", [["--rps", "0"], ["--rps", "5", "--burst", "0"]])
def test_command_refuses_a_nonsense_bucket(argv: list[str], capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "rps must be positive" in capsys.readouterr().err
