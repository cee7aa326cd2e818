"""Attachments piece by piece: what an entry means, the fence and the reader, each wire form
(URLs included), the cache key, the mock and its fixtures, and the plan's estimate."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest

from agnoctl import estimate
from agnoctl.cache import request_key
from agnoctl.engine.attachments import _Reader, _Refused, described
from agnoctl.errors import BadRequest, UsageError
from agnoctl.plan.attachments import attachments_tokens
from agnoctl.providers import anthropic, ollama, openai
from agnoctl.providers.attachments import check, refusal
from agnoctl.providers.base import Attachment, CallContext, Message, ModelRequest
from agnoctl.providers.fixtures import parse_fixtures
from agnoctl.providers.http import Endpoint
from agnoctl.providers.mock import MockProvider
from agnoctl.spec.attachments import MAX_ATTACHMENTS, kind_of, media_type, sniff, url_problem
from agnoctl.spec.models import AgentSpec, StepSpec
from tests.attachments.conftest import tiny_pdf, tiny_png

PNG = tiny_png(9)
PDF = tiny_pdf()


def _file(name: str, data: bytes, media: str) -> Attachment:
    encoded = base64.b64encode(data).decode()
    return Attachment(name, media, encoded, None, hashlib.sha256(data).hexdigest(), len(data))


IMAGE = _file("shots/home.png", PNG, "image/png")
DOCUMENT = _file("docs/q1.pdf", PDF, "application/pdf")
IMAGE_URL = Attachment("https://example.com/a.png", "image/png", url="https://example.com/a.png")
PDF_URL = Attachment(
    "https://example.com/a.pdf", "application/pdf", url="https://example.com/a.pdf"
)


def _request(*files: Attachment, model: str = "m") -> ModelRequest:
    return ModelRequest(model, (Message("user", "look", attachments=files),))


# --------------------------------------------------------------------------- the language


@pytest.mark.parametrize(
    ("entry", "kind", "media"),
    [
        ("shots/home.PNG", "path", "image/png"),
        ("photo.jpg", "path", "image/jpeg"),
        ("docs/**/*.pdf", "glob", "application/pdf"),
        ("shot[12].webp", "glob", "image/webp"),
        ("https://example.com/x/chart.gif?v=2", "url", "image/gif"),
        ("notes.txt", "path", None),
        ("https://example.com/page", "url", None),
    ],
)
def test_an_entry_is_a_url_a_glob_or_a_path_typed_by_its_extension(
    entry: str, kind: str, media: str | None
) -> None:
    assert kind_of(entry) == kind
    assert media_type(entry) == media


def test_only_http_urls_with_a_host_can_be_attached() -> None:
    assert url_problem("https://example.com/a.png") is None
    assert "not file://" in (url_problem("file:///etc/passwd.png") or "")
    assert "no host" in (url_problem("https:///a.png") or "")
    assert "cannot be read" in (url_problem("http://[::1/x.png") or "")
    assert media_type("http://[::1/x.png") is None


def test_a_definition_without_attachments_dumps_as_before() -> None:
    """Resume fingerprints hash the agent's and the step's dumps (None left out): a workflow
    that attaches nothing keeps the fingerprints its earlier journals hold."""
    fields = {"attachments", "attachments_root", "max_attachment_bytes"}
    assert not fields & AgentSpec(model="mock/echo").model_dump(exclude_none=True).keys()
    step = StepSpec.model_validate({"agent": "a", "prompt": "p"})
    assert "attachments" not in step.model_dump(exclude_none=True)


def test_the_first_bytes_must_be_those_of_the_type() -> None:
    assert sniff(PNG, "image/png")
    assert sniff(PDF, "application/pdf")
    assert sniff(b"\xff\xd8\xff\xe0", "image/jpeg")
    assert sniff(b"GIF89a", "image/gif")
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp")
    assert not sniff(PDF, "image/png")
    assert not sniff(b"hello", "application/pdf")


# --------------------------------------------------------------------------- the reader


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "work"
    (folder / "shots").mkdir(parents=True)
    (folder / "shots" / "b.png").write_bytes(PNG)
    (folder / "shots" / "a.png").write_bytes(PNG)
    (folder / "doc.pdf").write_bytes(PDF)
    monkeypatch.chdir(folder)
    return folder


def test_a_glob_is_expanded_sorted_and_each_file_read_and_hashed(here: Path) -> None:
    found = _Reader(None, 10_000).read_all(["shots/*.png", "doc.pdf", "./shots/b.png"])
    assert [a.name for a in found] == ["shots/a.png", "shots/b.png", "doc.pdf"]  # each once
    assert base64.b64decode(found[2].data_base64) == PDF
    assert found[2].sha256 == hashlib.sha256(PDF).hexdigest()
    assert found[2].size == len(PDF)
    assert [a.data_base64 for a in described(found)] == ["", "", ""]


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("../outside.png", "leads outside the directory agnoctl runs in"),
        ("/etc/passwd.png", "leads outside the directory agnoctl runs in"),
        ("shots/../../outside.png", "leads outside"),
        ("nowhere.png", "no such file"),
        ("*.gif", "matches no file"),
        ("notes.txt", "not a type that can be attached"),
        ("fake.png", "its contents are not image/png"),
        ("folder.png", "not a regular file"),
        ("big.png", "over the cap of 10,000"),
        ("ftp://example.com/a.png", "only http and https"),
        ("/**/*.png", "'/\\*\\*/\\*.png' leads outside"),  # refused before any walk
        ("../*/*.png", "leads outside"),
        ("*/../../../../**/*.none", "may not climb"),  # refused before a walk of the disk
        ("shots/*/../*.png", "may not climb"),
        ("http://[::1/x.png", "cannot be read"),
        ("https://example.com/page", "names no type"),
        ("a\0.png", "NUL"),
    ],
)
def test_what_cannot_be_attached_is_refused_with_a_reason(
    here: Path, entry: str, says: str
) -> None:
    (here / "fake.png").write_bytes(PDF)
    (here / "folder.png").mkdir()
    (here / "big.png").write_bytes(tiny_png(pad=20_000))
    with pytest.raises(_Refused, match=says):
        _Reader(None, 10_000).read_all([entry])


def test_a_file_name_that_is_not_utf8_is_refused_not_a_crash_of_the_report(here: Path) -> None:
    (here / os.fsdecode(b"\xff.png")).write_bytes(PNG)
    with pytest.raises(_Refused, match="not UTF-8"):
        _Reader(None, 10_000).read_all(["*.png"])


def test_a_link_that_leads_outside_is_refused_and_one_that_stays_inside_is_followed(
    here: Path,
) -> None:
    secret = here.parent / "id_rsa.png"
    secret.write_bytes(PNG)
    (here / "out.png").symlink_to(secret)
    (here / "in.png").symlink_to(here / "shots" / "a.png")
    (here / "away").symlink_to(here.parent)
    reader = _Reader(None, 10_000)
    assert base64.b64decode(reader.read_all(["in.png"])[0].data_base64) == PNG
    for entry in ("out.png", "away/id_rsa.png"):
        with pytest.raises(_Refused, match="through a symbolic link"):
            reader.read_all([entry])


def test_attachments_root_moves_the_fence(here: Path) -> None:
    with pytest.raises(_Refused, match="leads outside attachments_root 'shots'"):
        _Reader("shots", 10_000).read_all(["doc.pdf"])
    assert len(_Reader("shots", 10_000).read_all(["shots/a.png"])) == 1
    (here.parent / "shared.png").write_bytes(PNG)
    assert _Reader("..", 10_000).read_all(["../shared.png"])[0].name == "../shared.png"
    with pytest.raises(_Refused, match="attachments_root 'gone' is not a folder"):
        _Reader("gone", 10_000).read_all(["gone/a.png"])


def test_a_glob_cannot_attach_more_than_the_cap(here: Path) -> None:
    for n in range(MAX_ATTACHMENTS + 1):
        (here / "shots" / f"n{n:03}.png").write_bytes(PNG)
    with pytest.raises(_Refused, match=f"matches more than {MAX_ATTACHMENTS} files"):
        _Reader(None, 10_000).read_all(["shots/n*.png"])
    with pytest.raises(_Refused, match=f"more than {MAX_ATTACHMENTS} files"):
        _Reader(None, 10_000).read_all(["shots/n0*.png", "shots/n1*.png", "shots/a.png"])


# --------------------------------------------------------------------------- the wire


def test_openai_sends_an_image_url_as_is_and_refuses_a_pdf_url() -> None:
    body = openai.wire_request(_request(IMAGE_URL))
    image = body["messages"][0]["content"][0]
    assert image == {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    with pytest.raises(BadRequest, match="openai providers cannot fetch PDFs from a URL"):
        openai.wire_request(_request(PDF_URL))


def test_anthropic_sends_urls_as_url_sources() -> None:
    endpoint = Endpoint("anthropic", "anthropic", "http://127.0.0.1:1")
    blocks = anthropic.wire_request(_request(IMAGE_URL, PDF_URL), endpoint)["messages"][0]
    assert blocks["content"][:2] == [
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
    ]


def test_ollama_takes_images_as_base64_only() -> None:
    body = ollama.wire_request(_request(IMAGE))
    assert body["messages"][0]["images"] == [base64.b64encode(PNG).decode()]
    for refused in (DOCUMENT, IMAGE_URL):
        with pytest.raises(BadRequest):
            ollama.wire_request(_request(refused))


def test_what_each_protocol_refuses() -> None:
    assert refusal("openai", IMAGE) is None
    assert refusal("openai", DOCUMENT) is None
    assert refusal("anthropic", PDF_URL) is None
    assert "images only" in (refusal("ollama", DOCUMENT) or "")
    assert "cannot fetch image/png from a URL" in (refusal("ollama", IMAGE_URL) or "")
    assert refusal("mock", PDF_URL) is None
    check("anthropic", [IMAGE, DOCUMENT, IMAGE_URL, PDF_URL], "m")


def test_an_attachment_never_shows_its_bytes() -> None:
    assert "iVBOR" not in repr(IMAGE) and "\\x89PNG" not in repr(IMAGE)


# --------------------------------------------------------------------------- cache, mock, plan


def test_the_cache_key_holds_each_files_hash_and_type() -> None:
    key = request_key("openai", "u", _request(IMAGE))
    edited = _file("shots/home.png", tiny_png(10), "image/png")
    assert request_key("openai", "u", _request(edited)) != key
    renamed = _file("elsewhere/home.png", PNG, "image/png")
    assert request_key("openai", "u", _request(renamed)) == key  # contents, not names
    plain = ModelRequest("m", (Message("user", "look"),))
    assert request_key("openai", "u", plain) != key


@pytest.mark.anyio
async def test_the_mock_echoes_attachment_names_and_counts_their_tokens() -> None:
    reply = await MockProvider().request(_request(IMAGE, DOCUMENT))
    assert reply.text == "look\nattachments: shots/home.png, docs/q1.pdf"
    expected = estimate.IMAGE_TOKENS + estimate.attachment_tokens("application/pdf", len(PDF))
    assert reply.usage.input_tokens == estimate.text_tokens("look") + expected


@pytest.mark.anyio
async def test_fixtures_answer_by_attachment_name() -> None:
    fixtures = parse_fixtures(
        {
            "steps": {
                "s": {
                    "items": {"5": {"text": "item five"}},
                    "attachments": {"*.pdf": {"text": "a pdf"}, "shots/home.png": {"text": "home"}},
                    "default": {"text": "other"},
                }
            }
        }
    )
    mock = MockProvider(fixtures)

    async def answer(index: int | None, *files: Attachment) -> str:
        request = _request(*files)
        request.context = CallContext(step_id="s", index=index)
        return (await mock.request(request)).text

    assert await answer(0, IMAGE, DOCUMENT) == "a pdf"  # the first pattern that matches
    assert await answer(1, IMAGE) == "home"
    assert await answer(2) == "other"
    assert await answer(5, DOCUMENT) == "item five"  # an item's own entry comes first
    with pytest.raises(UsageError, match="unknown key 'attachment'"):
        parse_fixtures({"steps": {"s": {"attachment": {}, "default": {"text": "x"}}}})


def test_the_plan_counts_files_by_type_and_size(here: Path) -> None:
    pdf_tokens = estimate.attachment_tokens("application/pdf", len(PDF))
    assert attachments_tokens(("shots/*.png", "doc.pdf")) == 2 * estimate.IMAGE_TOKENS + pdf_tokens
    assert attachments_tokens(("{{ item }}.png",)) == estimate.IMAGE_TOKENS
    assert attachments_tokens(("{{ item }}",)) == estimate.PDF_TOKENS
    assert attachments_tokens(("charts/*.png",)) == estimate.IMAGE_TOKENS  # made by a step
    assert estimate.attachment_tokens("application/pdf", 10 * 1024) == 600
    assert os.path.exists("doc.pdf")
