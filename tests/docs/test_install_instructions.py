"""Every install instruction installs this project, never PyPI's `agnoctl` (another project:
Agno's AgentOS CLI, which puts a command of the same name on the PATH)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = [
    ROOT / "README.md",
    ROOT / "action.yml",
    ROOT / ".pre-commit-hooks.yaml",
    ROOT / "pyproject.toml",
    *sorted((ROOT / "docs").rglob("*.*")),
    *sorted((ROOT / "examples").rglob("*.*")),
    *sorted((ROOT / "workflows").rglob("*.*")),
    *sorted((ROOT / "agnoctl").rglob("*.py")),  # the messages that name an install command
]
TEXT_SUFFIXES = {".md", ".yml", ".yaml", ".toml", ".py", ".txt", ".sh", ".json", ".j2"}

# An installer, its options, then a requirement that is the bare name `agnoctl` (quoted or not,
# with extras or a version), as opposed to `.`, `./agnoctl`, `git+https://.../agnoctl` or a
# direct reference `agnoctl[otel] @ git+https://...`.
_FROM_THE_INDEX = re.compile(
    r"(?:\bpip3?|\bpipx|\buv\s+pip|\buv\s+tool)\s+install"
    r"(?:\s+-{1,2}[\w-]+(?:[= ][^\s\"'-]\S*)?)*"
    r"\s+[\"']?agnoctl(?![\w./-])(?!(?:\[[^\]]*\])?\s*@)"
    r"|\buvx\s+agnoctl\b"
)


def _from_the_index(text: str) -> list[str]:
    return [match.group(0) for match in _FROM_THE_INDEX.finditer(text)]


@pytest.mark.parametrize(
    "line",
    [
        "pip install agnoctl",
        "python -m pip install --quiet agnoctl",
        "pip install 'agnoctl[otel]'",
        'pip install "agnoctl>=0.1"',
        "pip3 install -U agnoctl",
        "pipx install agnoctl",
        "uv pip install agnoctl==0.1.0",
        "uvx agnoctl run wf.yaml",
    ],
)
def test_the_scan_catches_installs_from_the_index(line: str) -> None:
    assert _from_the_index(line)


@pytest.mark.parametrize(
    "line",
    [
        "pip install .",
        "pip install -e '.[test]'",
        'pip install "$GITHUB_ACTION_PATH"',
        "pip install ./agnoctl",
        'pip install "git+https://github.com/YOUR-ORG/agnoctl@main"',
        'pip install "agnoctl[otel] @ git+https://github.com/YOUR-ORG/agnoctl@main"',
        "pip install 'opentelemetry-sdk>=1.25'",
    ],
)
def test_the_scan_lets_installs_of_this_project_pass(line: str) -> None:
    assert not _from_the_index(line)


def test_no_doc_example_or_message_installs_pypis_agnoctl() -> None:
    found = {
        str(path.relative_to(ROOT)): hits
        for path in SCANNED
        if path.is_file() and path.suffix in TEXT_SUFFIXES
        for hits in [_from_the_index(path.read_text(encoding="utf-8"))]
        if hits
    }
    assert found == {}
