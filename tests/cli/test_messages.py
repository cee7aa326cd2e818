"""Messages a new user meets first (#26): each problem said once, the list form shown when a
string was written, `init`'s next command ready to paste, and an `if:` error that points into
the text the user wrote."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RunCli


def _validate(run_cli: RunCli, tmp_path: Path, text: str) -> str:
    (tmp_path / "flow.yaml").write_text(text, encoding="utf-8")
    result = run_cli("validate", "flow.yaml")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_a_step_read_without_its_need_is_said_once(run_cli: RunCli, tmp_path: Path) -> None:
    out = _validate(
        run_cli,
        tmp_path,
        "version: 1\nname: x\nagents: {w: {model: mock/m}}\nsteps:\n"
        "  a: {run: [echo, hi]}\n"
        "  c:\n    agent: w\n"
        "    prompt: '{{ steps.a.output }} and {{ steps.a.output }}'\n"
        "    if: steps.a.output == 'x'\n",
    )
    assert out.count("E406") == 1, out
    assert "flow.yaml:8:" in out and "add `a` to the needs of `c`" in out


def test_strings_where_lists_go_get_the_list_form(run_cli: RunCli, tmp_path: Path) -> None:
    out = _validate(
        run_cli,
        tmp_path,
        "version: 1\nname: x\nsteps:\n  b: {run: echo hi}\n  c: {run: [echo], needs: b}\n",
    )
    assert "hint: write it as a list: `run: [echo, hi]`" in out, out
    assert "hint: write it as a list: `needs: [b]`" in out, out


def test_a_broken_if_is_reported_in_the_users_text(run_cli: RunCli, tmp_path: Path) -> None:
    out = _validate(
        run_cli,
        tmp_path,
        "version: 1\nname: x\nsteps:\n  fast: {run: [echo]}\n"
        "  e:\n    run: [echo]\n    needs: [fast]\n    if: steps.fast.output ==\n",
    )
    assert "')'" not in out, out  # a character the user never wrote
    assert "unexpected end of expression" in out
    # at the last thing written, `==`, not at a bracket it was wrapped in
    assert "flow.yaml:8:27: error E405" in out, out  # at `==`


def test_init_suggests_commands_ready_to_paste(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("init", "My Flow")
    assert result.returncode == 0, result.stderr
    assert "agnoctl validate 'My Flow.yaml' && agnoctl run 'My Flow.yaml'" in result.stdout
    text = (tmp_path / "My Flow.yaml").read_text(encoding="utf-8")
    assert "docs/spec.md" in text and "SPEC.md" not in text.replace("docs/spec.md", "")
    assert "#   agnoctl validate 'My Flow.yaml'" in text
