"""`${A:-${B:-deep}}` (a variable in a default, as shells and Compose read it) validated and
gave the text `${B:-deep}`: the default ended at the first `}` and the rest was kept as
written, a `${...}` silently passed on. A default holding `${` is E118 now."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import RunCli


def test_a_variable_in_a_default_is_an_error(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "flow.yaml").write_text(
        "version: 1\nname: t\n"
        'env: {X: "${T_UNSET_A:-${T_UNSET_B:-deep}}", Y: "${T_UNSET_A:-a:b}"}\n'
        "steps:\n  a: {run: [echo]}\n",
        encoding="utf-8",
    )
    done = run_cli("validate", "--format", "json", "flow.yaml")
    assert done.returncode == 2
    [found] = json.loads(done.stdout)["diagnostics"]
    assert (found["code"], found["line"], found["col"]) == ("E118", 3, 11)
    assert "a default cannot hold `${`" in found["message"]
