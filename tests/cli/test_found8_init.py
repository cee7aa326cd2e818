"""`agnoctl init` given a folder, or a name that is not UTF-8 (found by the secondary
commands pass).

`agnoctl init .` ended in a traceback (`PosixPath('.') has an empty name`), `init ..` wrote a
file named `...yaml` in the current folder, and `init ci/` wrote `ci.yaml` beside the folder:
a folder now gets `workflow.yaml` inside it. A name that is not UTF-8 ended in a traceback
after creating the file, left empty.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agnoctl.init_template import write_starter
from agnoctl.spec.validate import validate_file
from tests.conftest import RunCli


@pytest.mark.parametrize(
    ("name", "written"),
    [
        (".", "workflow.yaml"),
        ("..", "../workflow.yaml"),
        ("ci/", "ci/workflow.yaml"),
        ("ci", "ci/workflow.yaml"),
    ],
)
def test_a_folder_gets_workflow_yaml_inside_it(
    run_cli: RunCli, tmp_path: Path, name: str, written: str
) -> None:
    work = tmp_path / "work"
    (work / "ci").mkdir(parents=True)
    proc = run_cli("init", name, cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"wrote {written};")
    assert (work / written).is_file()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["workflow.yaml"]


def test_a_name_that_is_not_utf8_is_written_and_validates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`init $'\\xff'` created the file, then failed writing the name into it (a
    UnicodeEncodeError traceback), leaving it empty. (In-process: the CLI prints the name's
    bytes as they are, which the test's forked CLI reads back as UTF-8 text.)"""
    monkeypatch.chdir(tmp_path)
    name = b"\xff".decode("utf-8", "surrogateescape")
    written = write_starter(name)
    assert written == Path(f"{name}.yaml")
    assert "\ufffd.yaml" in written.read_text(encoding="utf-8")
    assert validate_file(written).ok


@pytest.mark.parametrize(
    ("name", "word"),
    [("-x", "./-x.yaml"), ("a\nb", "$'a\\x0ab.yaml'"), ("it's\tx", "$'it\\'s\\x09x.yaml'")],
)
def test_the_commands_shown_work_and_the_starter_stays_valid(
    run_cli: RunCli, tmp_path: Path, name: str, word: str
) -> None:
    """`init -- -x` said `agnoctl validate -x.yaml` (an option); `init $'a\\nb'` wrote the
    name into a comment across two lines, and the starter was invalid YAML (E104)."""
    proc = run_cli("init", "--", name)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith(f"try: agnoctl validate {word} && agnoctl run {word}\n")
    written = tmp_path / f"{name}.yaml"
    assert f"agnoctl validate {word}" in written.read_text(encoding="utf-8")
    assert validate_file(written).ok
