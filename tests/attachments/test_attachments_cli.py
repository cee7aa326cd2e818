"""Attachments end to end: the real CLI against the fake server, checked on the server's side.

One run holds every scenario (a step each): an image and a PDF in each wire format (ollama:
the image, and the PDF refused without a request), one file per for_each item, a missing and
an oversize file, and the attack the fence stops (a path from a model's reply, and a link,
leading to a file outside the directory agnoctl runs in). A second run, after one file is
edited, shows the cache key follows the contents: the edited file's steps are asked again,
the others answered from the cache.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.attachments.conftest import tiny_pdf, tiny_png
from tests.e2e.conftest import E2E, FAST_RETRY, E2ERun, workflow_doc

PNG = tiny_png(200)
PDF = tiny_pdf("quarterly figures")
SECRET = tiny_png(7, pad=64)  # a PNG, so only the fence can stop it
CAP = 1024
CHART_URL = "https://example.com/q1/chart.png"  # fetched by the provider, never by agnoctl
JUDGE_RUBRIC = 'judge-rubric [[json:{"score": 1, "reason": "fine"}]]'


def _step(agent: str, prompt: str, attachments: list[str]) -> dict[str, Any]:
    return {"agent": agent, "prompt": prompt, "attachments": attachments}


def _workflow(e2e: E2E, secret: Path) -> dict[str, Any]:
    providers = {p: e2e.provider(p) for p in ("openai", "anthropic", "ollama")}
    agents: dict[str, Any] = {p: {"model": f"{p}/model-{p}"} for p in providers}
    agents["small"] = {"model": "openai/model-small", "max_attachment_bytes": CAP}
    agents["judge"] = {"model": "openai/model-judge", "attachments": ["doc.pdf"]}
    files = ["shot.png", "doc.pdf"]
    steps: dict[str, Any] = {
        "openai_files": _step("openai", "openai-files", files),
        "anthropic_files": _step("anthropic", "anthropic-files", files),
        "ollama_image": _step("ollama", "ollama-image", ["shot.png"]),
        "ollama_pdf": _step("ollama", "ollama-pdf", ["doc.pdf"]),
        "anthropic_url": _step("anthropic", "anthropic-url", [CHART_URL]),
        "each": {
            "agent": "openai",
            "for_each": files,
            "prompt": "each {{ item }}",
            "attachments": ["{{ item }}"],
        },
        "missing": _step("openai", "missing", ["{{ 'nowhere.png' }}"]),  # known at run time
        "oversize": _step("small", "oversize", ["big.png"]),
        # The attack: a model's reply names a file outside the run's directory.
        "pick": {"agent": "openai", "prompt": f"pick [[text:{secret}]]"},
        "leak": {
            "agent": "openai",
            "needs": ["pick"],
            "prompt": "leak",
            "attachments": ["{{ steps.pick.output }}"],
        },
        "leak_link": _step("openai", "leak-link", ["{{ 'link.png' }}"]),
        # A judge agent's own attachments go with its calls; the step's do not.
        "judged": {
            **_step("openai", "judged-task", ["shot.png"]),
            "gates": [{"type": "judge", "agent": "judge", "rubric": JUDGE_RUBRIC}],
        },
    }
    return workflow_doc(
        "attachments",
        providers=providers,
        agents=agents,
        steps=steps,
        defaults={"retry": FAST_RETRY},
        success_threshold=0.1,
    )


@pytest.fixture(scope="module")
def runs(e2e: E2E) -> tuple[E2ERun, E2ERun]:
    root = e2e.root
    (root / "shot.png").write_bytes(PNG)
    (root / "doc.pdf").write_bytes(PDF)
    (root / "big.png").write_bytes(tiny_png(1, pad=2 * CAP))
    secret = root.parent / f"{root.name}-home" / "id_rsa.png"
    secret.parent.mkdir()
    secret.write_bytes(SECRET)
    (root / "link.png").symlink_to(secret)
    workflow = e2e.write("attachments", _workflow(e2e, secret))
    first = e2e.run(workflow)
    (root / "doc.pdf").write_bytes(tiny_pdf("revised figures"))
    second = e2e.run(workflow)
    return first, second


def _decoded(data_url: str, media_type: str) -> bytes:
    prefix = f"data:{media_type};base64,"
    assert data_url.startswith(prefix)
    return base64.b64decode(data_url[len(prefix) :])


def _user_content(run: E2ERun, marker: str) -> Any:
    (request,) = run.requests_with(marker)
    (user,) = [m for m in request["body"]["messages"] if m["role"] == "user"]
    return user


def test_openai_sends_an_image_part_and_a_file_part(runs: tuple[E2ERun, E2ERun]) -> None:
    image, file, text = _user_content(runs[0], "openai-files")["content"]
    assert image["type"] == "image_url"
    assert _decoded(image["image_url"]["url"], "image/png") == PNG
    assert file["type"] == "file"
    assert file["file"]["filename"] == "doc.pdf"
    assert _decoded(file["file"]["file_data"], "application/pdf") == PDF
    assert text == {"type": "text", "text": "openai-files"}


def test_anthropic_sends_an_image_block_and_a_document_block(
    runs: tuple[E2ERun, E2ERun],
) -> None:
    image, document, text = _user_content(runs[0], "anthropic-files")["content"]
    assert image["type"] == "image"
    assert image["source"]["media_type"] == "image/png"
    assert base64.b64decode(image["source"]["data"]) == PNG
    assert document["type"] == "document"
    assert document["source"]["media_type"] == "application/pdf"
    assert base64.b64decode(document["source"]["data"]) == PDF
    assert text["text"] == "anthropic-files"


def test_a_url_goes_to_the_provider_as_a_url_source(runs: tuple[E2ERun, E2ERun]) -> None:
    image, _text = _user_content(runs[0], "anthropic-url")["content"]
    assert image == {"type": "image", "source": {"type": "url", "url": CHART_URL}}
    (attachment,) = runs[0].step("anthropic_url")["attempts"][0]["attachments"]
    assert attachment == {
        "name": CHART_URL,
        "media_type": "image/png",
        "size": None,
        "sha256": None,
        "url": CHART_URL,
    }


def test_ollama_sends_images_and_refuses_a_pdf_without_a_request(
    runs: tuple[E2ERun, E2ERun],
) -> None:
    first = runs[0]
    user = _user_content(first, "ollama-image")
    assert user["content"] == "ollama-image"
    assert [base64.b64decode(i) for i in user["images"]] == [PNG]
    failed = first.step("ollama_pdf")
    assert failed["status"] == "failed"
    assert failed["error"]["kind"] == "attachment"
    assert "doc.pdf: ollama providers take images only" in failed["error"]["message"]
    assert len(failed["attempts"]) == 1  # permanent: not retried
    assert first.requests_with("ollama-pdf") == []


def test_for_each_attaches_each_items_file(runs: tuple[E2ERun, E2ERun]) -> None:
    image = _user_content(runs[0], "each shot.png")["content"][0]
    assert _decoded(image["image_url"]["url"], "image/png") == PNG
    file = _user_content(runs[0], "each doc.pdf")["content"][0]
    assert _decoded(file["file"]["file_data"], "application/pdf") == PDF
    items = runs[0].step("each")["items"]
    names = [item["attempts"][0]["attachments"][0]["name"] for item in items]
    assert names == ["shot.png", "doc.pdf"]


def test_a_judge_is_sent_its_agents_attachments_not_the_steps(
    runs: tuple[E2ERun, E2ERun],
) -> None:
    assert runs[0].step("judged")["status"] == "succeeded"
    file, _text = _user_content(runs[0], "judge-rubric")["content"]
    assert _decoded(file["file"]["file_data"], "application/pdf") == PDF
    (task,) = [r for r in runs[0].requests_with("judged-task") if r["model"] == "model-openai"]
    assert "file" not in json.dumps(task["body"]) and "image_url" in json.dumps(task["body"])


@pytest.mark.parametrize(
    ("step", "says"),
    [
        ("missing", "'nowhere.png': no such file"),
        ("oversize", f"over the cap of {CAP:,} (the agent's max_attachment_bytes)"),
    ],
)
def test_a_missing_or_oversize_file_fails_the_step_once(
    runs: tuple[E2ERun, E2ERun], step: str, says: str
) -> None:
    record = runs[0].step(step)
    assert record["status"] == "failed"
    assert record["error"]["kind"] == "attachment"
    assert record["error"]["message"].startswith(f"step {step}: attachments: ")
    assert says in record["error"]["message"]
    assert len(record["attempts"]) == 1
    assert runs[0].requests_with(step) == []


def test_a_path_from_a_models_reply_or_a_link_cannot_leave_the_directory(
    runs: tuple[E2ERun, E2ERun],
) -> None:
    first = runs[0]
    assert first.step("pick")["status"] == "succeeded"
    leak, link = first.step("leak"), first.step("leak_link")
    assert "leads outside the directory agnoctl runs in" in leak["error"]["message"]
    assert "through a symbolic link" in link["error"]["message"]
    assert first.requests_with("leak") == []
    secret = base64.b64encode(SECRET).decode()
    assert not any(secret in json.dumps(r["body"]) for r in first.stats["recent"])


def test_reports_name_attachments_by_hash_never_by_contents(
    runs: tuple[E2ERun, E2ERun],
) -> None:
    first = runs[0]
    attempt = first.step("openai_files")["attempts"][0]
    assert attempt["attachments"] == [
        {
            "name": "shot.png",
            "media_type": "image/png",
            "size": len(PNG),
            "sha256": hashlib.sha256(PNG).hexdigest(),
            "url": None,
        },
        {
            "name": "doc.pdf",
            "media_type": "application/pdf",
            "size": len(PDF),
            "sha256": hashlib.sha256(PDF).hexdigest(),
            "url": None,
        },
    ]
    html = (first.run_dir / "report.html").read_text(encoding="utf-8")
    assert hashlib.sha256(PDF).hexdigest() in html  # its attachments table
    encoded = [base64.b64encode(data).decode() for data in (PNG, PDF)]
    for written in first.run_dir.rglob("*"):
        if written.is_file():
            text = written.read_text(encoding="utf-8", errors="replace")
            assert not any(e in text for e in encoded), written.name
            assert "quarterly figures" not in text, written.name


def test_the_cache_key_follows_the_files_contents(runs: tuple[E2ERun, E2ERun]) -> None:
    second = runs[1]
    # doc.pdf was edited: the steps that attach it are asked again ...
    assert len(second.requests_with("openai-files")) == 1
    assert len(second.requests_with("each doc.pdf")) == 1
    # ... and those whose files did not change are answered from the cache.
    for marker in ("ollama-image", "each shot.png", "pick"):
        assert second.requests_with(marker) == [], marker
    cached = {(e["step"], e.get("item")) for e in second.events_of("llm_call") if e.get("cached")}
    unchanged = {"ollama_image", "anthropic_url", "pick", "judged"}  # and item 0 of each
    assert cached == {(step, None) for step in unchanged} | {("each", 0)}
