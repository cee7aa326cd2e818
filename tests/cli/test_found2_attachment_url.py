"""What `agnoctl validate` says of an attachment URL holding a control character.

Found by trying it: ``attachments: ["https://example.com/a\\u0000b.png"]`` passed
``validate`` and the provider was sent the NUL; a tab or a newline was worse, dropped unseen
by URL parsing so another URL than the one written was fetched. Now it is E460, located, as
the other URL checks are.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_found2_attachment_checks import WORKFLOW
from tests.conftest import RunCli


@pytest.mark.parametrize("command", ["validate", "plan", "run"])
@pytest.mark.parametrize(("escape", "shown"), [("\\u0000", "\\x00"), ("\\t", "\\t")])
def test_a_control_character_in_a_url_is_a_located_error(
    run_cli: RunCli, tmp_path: Path, command: str, escape: str, shown: str
) -> None:
    entry = f"https://example.com/a{escape}b.png"
    (tmp_path / "wf.yaml").write_text(WORKFLOW.format(entry=entry), encoding="utf-8")
    result = run_cli(command, "wf.yaml")
    assert result.returncode == 2, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert (
        f"error E460 attachment 'https://example.com/a{shown}b.png': a URL may not contain "
        f"control characters ('{shown}'): percent-encode it"
    ) in output
    assert "wf.yaml:6" in output
