"""Output that stdout's encoding cannot hold is shown as escapes, not a traceback (found by
the secondary commands pass).

Under an encoding without `→` and `·` (Windows' cp1252, `PYTHONIOENCODING=ascii`) `report diff`,
`report show` and the end of `run` ended in a UnicodeEncodeError traceback, exit 1; under
`PYTHONIOENCODING=utf-8`, which CI setups often set, so did `plan` of a file whose name is not
UTF-8 (now refused, named in escapes). Now stdout escapes what it cannot encode, as stderr
does, and the command keeps its code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import forkcli

FLOW = "version: 1\nname: flow\nsteps:\n  s: {run: [echo, hi]}\n"


def _run(args: list[str], cwd: Path, encoding: str) -> tuple[int, bytes, str]:
    read, write = os.pipe()
    env = {**os.environ, "NO_COLOR": "1", "PYTHONIOENCODING": encoding}
    try:
        process = forkcli.start(args, cwd=cwd, env=env, stdout=write, stderr=forkcli.PIPE)
    finally:
        os.close(write)
    with os.fdopen(read, "rb") as out:
        stdout = out.read()
    _, err = process.communicate(timeout=60)
    return process.wait(), stdout, err or ""


@pytest.mark.parametrize("encoding", ["ascii", "cp1252"])
def test_a_narrow_encoding_shows_escapes(tmp_path: Path, encoding: str) -> None:
    (tmp_path / "flow.yaml").write_text(FLOW, encoding="utf-8")
    code, out, err = _run(["run", "flow.yaml"], tmp_path, encoding)
    assert (code, "Traceback" in err) == (0, False), err
    for args in (["report", "diff", "latest", "latest"], ["report", "show"]):
        code, out, err = _run(args, tmp_path, encoding)
        assert (code, err) == (0, ""), err
        assert out.startswith(b"A ") or out.startswith(b"flow ")
        out.decode(encoding)  # all of it in the stream's encoding


def test_a_file_name_that_is_not_utf8_is_named_under_pythonioencoding_utf8(
    tmp_path: Path,
) -> None:
    # plan refuses such a name since b051b74 (a run's report could not record it): the
    # refusal names it in escapes, no traceback.
    name = b"\xf0x.yaml".decode("utf-8", "surrogateescape")
    (tmp_path / name).write_text(FLOW, encoding="utf-8")
    code, out, err = _run(["plan", name], tmp_path, "utf-8")
    assert (code, out) == (2, b"")
    assert "FILE \\xf0x.yaml: the name is no UTF-8 text" in err and "Traceback" not in err
