"""The redactor masks every known secret, in text and in nested structures."""

from __future__ import annotations

import json

from agnoctl.redact import MASK, Redactor

KEY = "sk-live-ABCDEF0123456789"


def test_masks_in_text():
    redactor = Redactor([KEY])
    assert redactor.redact(f"Authorization: Bearer {KEY}; again {KEY}") == (
        "Authorization: Bearer ***; again ***"
    )


def test_masks_nested_structures_keys_included():
    redactor = Redactor([KEY])
    event = {"headers": {"x-api-key": KEY}, KEY: [KEY, ("t", KEY)], "n": 3, "ok": None}
    assert redactor.redact_obj(event) == {
        "headers": {"x-api-key": MASK},
        MASK: [MASK, ("t", MASK)],
        "n": 3,
        "ok": None,
    }
    assert event["headers"]["x-api-key"] == KEY  # a copy; the original is untouched


def test_short_and_empty_values_are_ignored():
    redactor = Redactor(["", "abc", "12345", None])  # type: ignore[list-item]
    assert not redactor
    assert redactor.redact("abc 12345") == "abc 12345"


def test_longest_secret_wins():
    redactor = Redactor(["secret1", "secret1-extended"])
    assert redactor.redact("secret1-extended secret1") == "*** ***"


def test_json_escaped_and_url_encoded_spellings():
    key = 'pa"ss/wo+rd=='
    redactor = Redactor([key])
    assert key not in redactor.redact(json.dumps({"k": key}))
    assert "pa%22ss%2Fwo%2Brd%3D%3D" not in redactor.redact("?key=pa%22ss%2Fwo%2Brd%3D%3D")


def test_regex_characters_are_literal():
    redactor = Redactor(["a.b*c+d(e)"])
    assert redactor.redact("a.b*c+d(e) aXbbbcd") == "*** aXbbbcd"


def test_from_environment_picks_secret_names_only():
    environ = {
        "OPENAI_API_KEY": "sk-openai-123456",
        "GITHUB_TOKEN": "ghp_abcdef123",
        "DB_PASSWORD": "hunter22",
        "GIT_AUTHOR_NAME": "Ada Lovelace",
        "PWD": "/home/ada/project",
        "KEYBOARD_LAYOUT": "dvorak-us",
    }
    redactor = Redactor.from_environment(environ, extra=["configured-secret"])
    text = " ".join([*environ.values(), "configured-secret"])
    assert redactor.redact(text) == "*** *** *** Ada Lovelace /home/ada/project dvorak-us ***"


def test_add_later():
    redactor = Redactor()
    assert redactor.redact_obj({"a": KEY}) == {"a": KEY}
    redactor.add(KEY)
    assert redactor.redact_obj({"a": KEY}) == {"a": MASK}


def test_large_text_stays_fast():
    redactor = Redactor([f"secret-number-{i:04d}" for i in range(200)])
    text = ("lorem ipsum dolor sit amet " * 40_000) + "secret-number-0199"
    assert redactor.redact(text).endswith(MASK)
