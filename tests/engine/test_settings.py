"""A step's effective settings: its own, else the workflow's ``defaults``, else SPEC's. Steps
that set none of their own share one object with the workflow's defaults."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agnoctl.engine.runtime import has_default_settings, settings_for
from agnoctl.spec.models import StepDefaults, StepSpec

SETTING_VALUES: dict[str, Any] = {
    "timeout": st.sampled_from([None, 5, "2m"]),
    "retry": st.sampled_from([None, {"max_attempts": 1}, {"max_attempts": 5, "jitter": "none"}]),
    "cache": st.sampled_from([None, False, True]),
    "continue_on_error": st.sampled_from([None, False, True]),
    "priority": st.sampled_from([None, 0, 7]),
    "tags": st.sampled_from([None, ["a"], {"team": "x"}]),
    "on_gate_failure": st.sampled_from([None, "warn", "retry"]),
    "max_concurrency": st.sampled_from([None, 1, 4]),
    "success_threshold": st.sampled_from([None, 0.5, 1.0]),
}


@settings(max_examples=300, deadline=None)
@given(
    own=st.fixed_dictionaries({}, optional={**SETTING_VALUES, "for_each": st.just(["x", "y"])}),
    defaults=st.fixed_dictionaries({}, optional=SETTING_VALUES),
)
def test_steps_that_set_no_setting_share_the_default_settings(
    own: dict[str, Any], defaults: dict[str, Any]
) -> None:
    """The scheduler hands such steps one shared Settings: it must be what they would get."""

    if "for_each" not in own:  # only a for_each step may set these
        own.pop("max_concurrency", None)
        own.pop("success_threshold", None)
    step = StepSpec.model_validate({"agent": "a", "prompt": "p", **own})
    workflow_defaults = StepDefaults.model_validate(defaults)
    bare = settings_for(StepSpec.model_construct(), workflow_defaults)
    if has_default_settings(step):
        assert settings_for(step, workflow_defaults) == bare


def test_most_steps_take_the_shared_settings() -> None:

    assert has_default_settings(StepSpec.model_validate({"agent": "a", "prompt": "p"}))
    assert has_default_settings(
        StepSpec.model_validate({"agent": "a", "prompt": "p", "cache": False})
    )
    assert not has_default_settings(StepSpec.model_validate({"run": ["x"], "priority": 0}))
