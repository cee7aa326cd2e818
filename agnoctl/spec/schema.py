"""The workflow JSON Schema, generated from the models (`agnoctl schema`).

`schemas/workflow.schema.json` is this output, committed; a test keeps the two equal. Editors
with yaml-language-server read it through the modeline that `agnoctl init` writes, so every
field completes and shows its description (the models' attribute docstrings).
"""

from __future__ import annotations

import json
from typing import Any

from agnoctl.spec.models import Workflow

SCHEMA_URL = "https://raw.githubusercontent.com/agnoctl/agnoctl/main/schemas/workflow.schema.json"
"""Where the committed schema is published; the `$id` and the modeline of new workflows."""
SCHEMA_PATH = "schemas/workflow.schema.json"
"""The committed schema, relative to the repository root."""


def workflow_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a workflow file, as yaml-language-server reads it."""
    schema = Workflow.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_URL,
        **schema,
        "title": "agnoctl workflow (language version 1)",
    }


def schema_text() -> str:
    """The schema as the committed file holds it: sorted-free, two-space JSON, final newline."""
    return json.dumps(workflow_schema(), indent=2, ensure_ascii=False) + "\n"


__all__ = ["SCHEMA_PATH", "SCHEMA_URL", "schema_text", "workflow_schema"]
