"""The starter workflow that `agnoctl init` writes: commented, valid, and runnable offline."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from agnoctl.errors import UsageError
from agnoctl.spec.schema import SCHEMA_PATH

_MODELINE = "# yaml-language-server: $schema=<<schema>>\n#\n"
_NO_MODELINE = """\
# Editors complete and explain every field from the workflow JSON Schema: save
# `agnoctl schema` as a file, and name it in a yaml-language-server `$schema` modeline.
#
"""
_STARTER = """\
# A starter agnoctl workflow (the language: docs/spec.md). Check it, then run it offline:
#   agnoctl validate <<file>>
#   agnoctl run <<file>>
# `mock/echo` replies with the prompt it gets, so this runs with no key and no network.
# For a real model write e.g. `model: openai/gpt-4o-mini` and set OPENAI_API_KEY.
version: 1
name: <<name>>
description: Outline a short note on a topic, then write it.

inputs:                         # run parameters: agnoctl run <<file>> -i topic=...
  topic:
    type: string
    default: continuous integration
    description: What the note is about.

agents:
  writer:
    model: mock/echo            # "<provider>/<model>"
    instructions: You write short, plain notes.
    temperature: 0.2

defaults:                       # applies to every step; a step's own value wins
  timeout: 60s
  retry: {max_attempts: 3, initial_delay: 1s}

steps:                          # id -> step; `needs` orders them, not the file
  outline:
    agent: writer
    prompt: List three points worth making about {{ inputs.topic }}.
  note:
    agent: writer
    needs: [outline]            # templates may read only the steps they need
    prompt: |
      Write a short note on {{ inputs.topic }} that makes these points:
      {{ steps.outline.output }}
    gates:                      # checked on the output; `fail` (the default) fails the step
      - {type: length, min: 20}
    on_gate_failure: retry      # or: fail | warn

outputs:                        # written to the run report and to outputs/
  note: "{{ steps.note.output }}"

limits: {max_llm_calls: 20, max_duration: 5m}
"""


def target_file(name: str | None) -> Path:
    """`workflow.yaml` by default; NAME gets `.yaml` unless it already ends in .yaml/.yml.

    A NAME that is a folder (`.`, `..`, `ci/`, an existing directory) gets `workflow.yaml`
    inside it: `.` has no name to add `.yaml` to, `..` would become `...yaml` here, and `ci/`
    would lose its slash and write `ci.yaml` beside the folder."""
    if not name:
        return Path("workflow.yaml")
    path = Path(name)
    if name.endswith(("/", os.sep)) or path.name in ("", "..") or path.is_dir():
        return path / "workflow.yaml"
    return path if path.suffix in (".yaml", ".yml") else path.with_name(path.name + ".yaml")


def workflow_name(path: Path) -> str:
    """A valid workflow name from the file name: `My Flow.yaml` → `my-flow`."""
    name = re.sub(r"[^a-z0-9_-]+", "-", path.stem.lower()).strip("-_")
    return name or "workflow"


def schema_reference(path: Path) -> str | None:
    """The schema by relative path when the file sits in a folder (or below one) that holds
    `schemas/workflow.schema.json`, as agnoctl's checkout does; else None.

    No published URL: a modeline must point at a file that exists, and the schema of the
    agnoctl that wrote the workflow is the one that matches it."""
    folder = path.resolve().parent
    for parent in (folder, *folder.parents):
        if (parent / SCHEMA_PATH).is_file():
            return Path(os.path.relpath(parent / SCHEMA_PATH, folder)).as_posix()
    return None


def starter_workflow(path: Path) -> str:
    """The starter workflow text for a file at `path`."""
    schema = schema_reference(path)
    head = _NO_MODELINE if schema is None else _MODELINE.replace("<<schema>>", schema)
    return head + _STARTER.replace("<<file>>", shell_word(path)).replace(
        "<<name>>", workflow_name(path)
    )


def shell_word(path: Path) -> str:
    """``path`` as a shell reads it back: quoted when it holds a space (`'My Flow.yaml'`).

    A name that is not UTF-8 (its bytes held as surrogates) is shown with U+FFFD for them:
    the starter is a UTF-8 file, which cannot hold them."""
    text = path.as_posix().encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if text.startswith("-"):  # else `agnoctl validate -x.yaml` reads an option
        text = f"./{text}"
    if text.isprintable():
        return shlex.quote(text)
    # A newline or another control character: bash's $'...' spells it on one line, which
    # keeps the starter's comment one comment (a newline in it made the YAML invalid).
    return "$'" + "".join(_ansi_c(char) for char in text) + "'"


def _ansi_c(char: str) -> str:
    if char in "\\'":
        return "\\" + char
    if char.isprintable():
        return char
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def write_starter(name: str | None) -> Path:
    """Write the starter workflow; refuses to overwrite a file (UsageError)."""
    path = target_file(name)
    text = starter_workflow(path)
    try:
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise UsageError(f"{path} already exists; choose another name or remove it") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


__all__ = [
    "schema_reference",
    "shell_word",
    "starter_workflow",
    "target_file",
    "workflow_name",
    "write_starter",
]
