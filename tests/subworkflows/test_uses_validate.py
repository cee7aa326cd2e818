"""Sub-workflows (`uses:`), the spec side: loading children, cycles, `with:` against inputs,
fields that do not apply, every diagnostic at the file it belongs to (#21)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agnoctl.spec.diagnostics import Diagnostic
from agnoctl.spec.validate import validate_file, validate_text
from tests.conftest import RunCli

CHILD = """\
version: 1
name: child
inputs:
  topic: {type: string}
  rounds: {type: integer, default: 1}
steps:
  draft: {agent: writer, prompt: "Write about {{ inputs.topic }}"}
agents:
  writer: {model: mock/echo}
outputs:
  text: "{{ steps.draft.output }}"
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def parent(step: str, extra: str = "") -> str:
    return f"version: 1\nname: parent\n{extra}steps:\n  first: {{run: [echo, hi]}}\n{step}"


def codes(diagnostics: list[Diagnostic]) -> list[tuple[str, str, int]]:
    return [(Path(d.file).name, d.code, d.line) for d in diagnostics]


def test_a_valid_child_is_attached_to_its_caller(tmp_path: Path) -> None:
    write(tmp_path, "sub/child.yaml", CHILD)
    step = (
        "  review: {uses: ./sub/child.yaml, needs: [first],"
        ' with: {topic: "{{ steps.first.output }}"}}\n'
    )
    result = validate_file(write(tmp_path, "p.yaml", parent(step)))
    assert result.ok, result.diagnostics
    assert result.workflow is not None
    child = result.workflow.sub_workflow("./sub/child.yaml")
    assert child.name == "child"
    assert child.file == (tmp_path / "sub" / "child.yaml").resolve()


def test_a_child_used_many_times_is_loaded_once(tmp_path: Path) -> None:
    write(tmp_path, "child.yaml", CHILD)
    steps = "".join(f"  s{n}: {{uses: ./child.yaml, with: {{topic: t{n}}}}}\n" for n in range(5))
    result = validate_file(write(tmp_path, "p.yaml", parent(steps)))
    assert result.workflow is not None
    children = {id(result.workflow.sub_workflow("./child.yaml")) for _ in range(5)}
    assert len(children) == 1


def test_an_error_inside_a_child_is_reported_at_the_childs_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "child.yaml", CHILD.replace("agent: writer", "agent: writter"))
    result = validate_file(
        write(tmp_path, "p.yaml", parent("  r: {uses: child.yaml, with: {topic: x}}\n"))
    )
    assert result.workflow is None
    assert codes(result.errors) == [("child.yaml", "E400", 7)]


@pytest.mark.parametrize(
    ("with_", "code", "line"),
    [
        ("{topic: x, tpoic: y}", "E432", 5),
        ("{rounds: 2}", "E433", 5),
        ("{topic: 3}", "E434", 5),
        ("{topic: x, rounds: two}", "E434", 5),
        ('{topic: "{{ steps.missing.output }}"}', "E407", 5),
        ('{topic: "{{ steps.first.output }}"}', "E406", 5),
    ],
)
def test_with_is_checked_against_the_childs_inputs(
    tmp_path: Path, with_: str, code: str, line: int
) -> None:
    write(tmp_path, "child.yaml", CHILD)
    result = validate_file(
        write(tmp_path, "p.yaml", parent(f"  r: {{uses: child.yaml, with: {with_}}}\n"))
    )
    assert codes(result.errors) == [("p.yaml", code, line)]


def test_an_unknown_with_key_gets_a_did_you_mean(tmp_path: Path) -> None:
    write(tmp_path, "child.yaml", CHILD)
    result = validate_file(
        write(tmp_path, "p.yaml", parent("  r: {uses: child.yaml, with: {topic: x, rouns: 2}}\n"))
    )
    assert [d.hint for d in result.errors] == ["did you mean `rounds`?"]


def test_a_missing_child_is_an_error_at_the_uses_line(tmp_path: Path) -> None:
    result = validate_file(write(tmp_path, "p.yaml", parent("  r: {uses: ./nowhere.yaml}\n")))
    assert codes(result.errors) == [("p.yaml", "E430", 5)]


def test_a_two_file_cycle_names_the_chain(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", "version: 1\nname: b\nsteps:\n  back: {uses: ./a.yaml}\n")
    a = write(tmp_path, "a.yaml", "version: 1\nname: a\nsteps:\n  go: {uses: ./b.yaml}\n")
    result = validate_file(a)
    assert codes(result.errors) == [("b.yaml", "E431", 4)]
    chain = result.errors[0].message.partition(": ")[2].split(" → ")
    assert [Path(name).name for name in chain] == ["a.yaml", "b.yaml", "a.yaml"]


def test_a_file_that_uses_itself_is_a_cycle(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "version: 1\nname: a\nsteps:\n  go: {uses: ./a.yaml}\n")
    (error,) = validate_file(a).errors
    assert (error.code, error.line) == ("E431", 4)
    assert [Path(n).name for n in error.message.partition(": ")[2].split(" → ")] == ["a.yaml"] * 2


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ("prompt: hi", "prompt"),
        ("run: [echo]", "exactly one kind"),
        ("retry: {max_attempts: 2}", "retry"),
        ("cache: false", "cache"),
        ("output_schema: {type: object}", "output_schema"),
        ("cwd: x", "cwd"),
        ("loop: {max_iterations: 2}", "loop"),
        ("success_threshold: 0.5", "success_threshold"),
        ("uses: 'https://example.com/x.yaml'", "relative to this file"),
    ],
)
def test_fields_that_do_not_apply_to_a_uses_step_are_errors(fields: str, named: str) -> None:
    uses = "" if fields.startswith("uses") else "uses: child.yaml, "
    text = parent(f"  r: {{{uses}{fields}}}\n")
    (error,) = validate_text(text).errors
    assert error.code == "E206" and named in error.message


def test_with_without_uses_is_an_error() -> None:
    (error,) = validate_text(parent("  r: {run: [echo], with: {a: 1}}\n")).errors
    assert "add `uses`" in error.message


def test_child_limits_are_an_error_and_notify_a_warning(tmp_path: Path) -> None:
    child = CHILD + "limits: {max_llm_calls: 3}\nnotify: {on_failure: ['https://example.com/x']}\n"
    write(tmp_path, "child.yaml", child)
    result = validate_file(
        write(tmp_path, "p.yaml", parent("  r: {uses: child.yaml, with: {topic: x}}\n"))
    )
    assert codes(result.diagnostics) == [("p.yaml", "E435", 5), ("p.yaml", "W510", 5)]


def test_a_provider_defined_differently_by_the_child_is_an_error(tmp_path: Path) -> None:
    provider = "providers:\n  local: {type: openai, base_url: 'http://127.0.0.1:%d/v1'}\n"
    write(tmp_path, "child.yaml", CHILD + provider % 2)
    text = parent("  r: {uses: child.yaml, with: {topic: x}}\n", provider % 1)
    result = validate_file(write(tmp_path, "p.yaml", text))
    assert codes(result.errors) == [("p.yaml", "E436", 7)]
    write(tmp_path, "child.yaml", CHILD + provider % 1)
    assert validate_file(tmp_path / "p.yaml").ok


def test_validate_cli_reports_the_child_error_at_its_file(run_cli: RunCli, tmp_path: Path) -> None:
    write(tmp_path, "lib/child.yaml", CHILD.replace("{{ inputs.topic }}", "{{ inputs.topik }}"))
    write(tmp_path, "p.yaml", parent("  r: {uses: lib/child.yaml, with: {topic: x}}\n"))
    proc = run_cli("validate", "p.yaml")
    assert proc.returncode == 2
    assert proc.stdout.startswith("lib/child.yaml:7:")
    assert "E411" in proc.stdout and "Traceback" not in proc.stderr


def test_validate_cli_refuses_a_two_file_cycle(run_cli: RunCli, tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", "version: 1\nname: b\nsteps:\n  back: {uses: ./a.yaml}\n")
    write(tmp_path, "a.yaml", "version: 1\nname: a\nsteps:\n  go: {uses: ./b.yaml}\n")
    proc = run_cli("validate", "a.yaml")
    assert proc.returncode == 2
    assert "b.yaml:4:" in proc.stdout and "a.yaml → b.yaml → a.yaml" in proc.stdout
    proc = run_cli("run", "a.yaml", "--mock")
    assert proc.returncode == 2 and "E431" in proc.stdout + proc.stderr


def test_validate_of_a_folder_reports_a_child_error_once(run_cli: RunCli, tmp_path: Path) -> None:
    # The child is checked on its own and as the parent's child: one problem, one report.
    write(tmp_path, "child.yaml", CHILD.replace("{{ inputs.topic }}", "{{ inputs.topik }}"))
    write(tmp_path, "p.yaml", parent("  r: {uses: ./child.yaml, with: {topic: x}}\n"))
    proc = run_cli("validate", ".", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout.count("E411") == 1, proc.stdout
    assert "2 files checked, 1 error(s)" in proc.stderr
