"""Offline loading: an unset variable only a provider's `api_key` uses is a note, not E117."""

from __future__ import annotations

import pytest

from agnoctl.errors import SpecError
from agnoctl.spec.loader import UnsetKey, load_text
from agnoctl.spec.validate import validate_text

KEYED = """\
version: 1
name: keyed
providers:
  remote: {type: openai, api_key: "${REMOTE_KEY}"}
  local:
    type: openai
    api_key: Bearer ${LOCAL_KEY}
"""


def offline(text: str, **environ: str) -> tuple[object, list[UnsetKey]]:
    noted: list[UnsetKey] = []
    data, _ = load_text(text, "w.yaml", environ, noted)
    return data, noted


def test_unset_key_variables_read_as_empty_and_are_noted() -> None:
    data, noted = offline(KEYED)
    assert isinstance(data, dict)
    assert data["providers"]["remote"]["api_key"] == ""
    assert data["providers"]["local"]["api_key"] == "Bearer "
    assert noted == [
        UnsetKey("REMOTE_KEY", "remote", "w.yaml", 4, 36),
        UnsetKey("LOCAL_KEY", "local", "w.yaml", 7, 21),
    ]
    assert noted[0].note().startswith("w.yaml:4:36: note: REMOTE_KEY is not set")


def test_a_set_key_is_read_and_not_noted() -> None:
    data, noted = offline(KEYED, REMOTE_KEY="sk-1", LOCAL_KEY="sk-2")
    assert isinstance(data, dict)
    assert data["providers"]["remote"]["api_key"] == "sk-1"
    assert noted == []


def test_without_the_offline_list_an_unset_key_is_e117() -> None:
    with pytest.raises(SpecError) as caught:
        load_text(KEYED, "w.yaml", {})
    assert (caught.value.code, caught.value.line) == ("E117", 4)


@pytest.mark.parametrize(
    "text",
    [
        # the same variable in a value that is not a key
        KEYED + "env: {TOKEN: '${REMOTE_KEY}'}\n",
        # a key node an alias also uses elsewhere
        "version: 1\nname: a\nproviders:\n  r: {type: openai, api_key: &k '${SHARED}'}\n"
        "env: {TOKEN: *k}\n",
        # a field named api_key outside providers
        "version: 1\nname: a\nenv: {api_key: '${ENV_KEY}'}\n",
    ],
    ids=["also-elsewhere", "aliased", "not-a-provider"],
)
def test_any_other_use_stays_an_error_offline(text: str) -> None:
    with pytest.raises(SpecError) as caught:
        offline(text)
    assert caught.value.code == "E117"


def test_a_key_merged_into_providers_counts_as_a_key() -> None:
    text = (
        "version: 1\nname: a\nproviders:\n"
        "  one: &base {type: openai, api_key: '${MERGED_KEY}'}\n"
        "  two: {<<: *base, base_url: 'http://127.0.0.1:1/v1'}\n"
    )
    data, noted = offline(text)
    assert isinstance(data, dict)
    assert data["providers"]["two"]["api_key"] == ""
    assert [unset.variable for unset in noted] == ["MERGED_KEY"]


def test_validation_offline_passes_and_keeps_the_notes() -> None:
    result = validate_text(
        KEYED + "agents: {w: {model: remote/m}}\nsteps: {a: {agent: w, prompt: hi}}\n", offline=True
    )
    assert result.ok, result.diagnostics
    assert [unset.provider for unset in result.unset_keys] == ["remote", "local"]
    assert not validate_text(KEYED, offline=False).ok
