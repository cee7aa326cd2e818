"""The text of running agent steps on the live display, as streamed replies bring it (#23):
shown by default on a terminal while one step alone writes, its escape sequences visible and
the run's secrets masked; never in plain lines; `--show-text` where it cannot show is refused."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from agnoctl import events
from agnoctl.redact import Redactor, masking
from agnoctl.terminal import LiveText
from agnoctl.testing.fake_llm import FakeLLMThread, start_in_thread
from tests.cli.test_live_display import _frames, _in_a_terminal

SECRET = "sk-live-text-0123456789"
# What the model writes: an escape sequence that would retitle the terminal, the provider's
# key, then more words; the stream stalls after its fifth event (on the first attempt).
WRITTEN = f"Dear reader, \x1b]0;pwned\x07 the key {SECRET} is here and then the text goes on"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLMThread]:
    with start_in_thread() as server:
        yield server


def _render(live: LiveText, width: int = 80) -> str:
    view = live.view(width)
    if view is None:
        return ""
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(view)
    return console.export_text()


def test_a_terminal_shows_the_text_as_it_arrives(tmp_path: Path, fake: FakeLLMThread) -> None:
    flow = {
        "version": 1,
        "name": "writer",
        "providers": {
            "local": {
                "type": "openai",
                "base_url": f"{fake.url}/v1",
                "api_key": SECRET,
                "stall_timeout": "1s",
            }
        },
        "agents": {"w": {"model": "local/m"}},
        "steps": {"write": {"agent": "w", "prompt": f"[[text:{WRITTEN}]] [[stall:5:1]]"}},
    }
    (tmp_path / "flow.yaml").write_text(yaml.safe_dump(flow), encoding="utf-8")
    args = ["run", "flow.yaml", "--report-dir", "out", "--no-cache"]
    code, output = _in_a_terminal(args, tmp_path, columns=100)
    assert code == 0, output
    shown = "\n".join(line for frame in _frames(output) for line in frame)
    assert "── write" in shown
    assert "Dear reader, \\x1b]0;pwned\\x07 the key *** is" in shown  # visible, masked
    assert SECRET not in output and "\x1b]0;pwned" not in output  # never obeyed, never shown


def test_plain_lines_never_show_text_and_refuse_the_flag(tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(
        "version: 1\nname: x\nagents: {a: {model: mock/m}}\nsteps: {s: {agent: a, prompt: hi}}\n",
        encoding="utf-8",
    )
    from agnoctl.cli import app

    flow = str(tmp_path / "flow.yaml")
    result = CliRunner().invoke(app, ["run", flow, "--progress", "plain", "--show-text"])
    assert result.exit_code == 2
    assert "--show-text needs the live display" in result.output


def test_live_text_keeps_each_tasks_end_and_forgets_it_when_its_attempt_ends() -> None:
    live = LiveText(every=False)
    with masking(Redactor([SECRET])):
        for piece in ("one two ", "three \x1b[31mred\x1b[0m ", f"{SECRET[:6]}"):
            live.add("step", None, piece)
    shown = _render(live)
    assert "── step" in shown and "one two three \\x1b[31mred\\x1b[0m" in shown
    assert SECRET[:6] not in shown  # a word is shown once whole: it may be a secret's start
    with masking(Redactor([SECRET])):
        live.add("step", None, f"{SECRET[6:]} done ")
    assert "*** done" in _render(live) and SECRET[:6] not in _render(live)

    live.add("fan", 1, "other ")  # two tasks writing: shown only when asked for every one
    assert _render(live) == ""
    assert "── fan[1]" in _render(_every(live))
    live.event(events.AttemptStarted(step="fan", item=1, attempt=2))
    assert "── step" in _render(live)


def test_live_text_holds_back_the_first_words_of_a_secret_with_spaces() -> None:
    phrase = "correct horse battery staple"
    live = LiveText(every=False)
    with masking(Redactor([phrase])):
        live.add("step", None, "the phrase is correct horse ")
    shown = _render(live)
    assert "the phrase is" in shown and "horse" not in shown
    with masking(Redactor([phrase])):
        live.add("step", None, "battery staple, said the model ")
    assert "the phrase is ***, said the model" in _render(live)


def _every(live: LiveText) -> LiveText:
    every = LiveText(every=True)
    every.texts = dict(live.texts)
    return every


def test_live_text_keeps_a_bounded_end_cut_at_a_word() -> None:
    live = LiveText(every=True)
    for _ in range(1000):
        live.add("s", None, "abcdefghij ")
    (text,) = live.texts.values()
    assert len(text) <= 2000 and text.startswith("abcdefghij ")
