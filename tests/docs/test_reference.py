"""docs/reference.md is generated from the spec models and must not drift from them."""

from pathlib import Path

from agnoctl.spec import models
from agnoctl.spec.reference import reference_markdown
from tests import forkcli

ROOT = Path(__file__).resolve().parents[2]


def test_committed_reference_matches_the_models() -> None:
    result = forkcli.run(["schema", "--format", "markdown"], cwd=ROOT)
    assert result.returncode == 0, result.stderr
    committed = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert result.stdout == committed, (
        "regenerate: agnoctl schema --format markdown > docs/reference.md"
    )


def test_every_field_of_every_step_and_agent_is_documented() -> None:
    text = reference_markdown()
    for model in (models.Workflow, models.StepSpec, models.AgentSpec, models.ProviderSpec):
        for name, field in model.model_fields.items():
            assert f"| `{field.alias or name}` |" in text
            assert field.description, f"{model.__name__}.{name} has no docstring"


def test_durations_are_named_as_such() -> None:
    assert "| `timeout` | duration |" in reference_markdown()


def test_report_and_markdown_together_is_a_usage_error() -> None:
    result = forkcli.run(["schema", "--markdown", "--report"], cwd=ROOT)
    assert result.returncode == 2
    assert "pick one" in result.stderr
