"""The command line as people expect it (#26): `-h` everywhere, help in the user's words,
Typer's shell completion, one `--format` for JSON, and `validate` checking `.` by default."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from agnoctl.cli import app
from tests.conftest import RunCli

AGNOCTL = Path(sys.executable).parent / "agnoctl"
# What typer prints when a parameter has no metavar: `{path}`, `<list[str]>`, `<int range>`...
TYPE_NAMES = re.compile(r"\{|<(list|int|str|path|Path|float|bool)\b")


def _commands(command: typer.core.TyperGroup, prefix: tuple[str, ...] = ()) -> Iterator[list[str]]:
    yield list(prefix)
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*prefix, name))


COMMANDS = list(_commands(typer.main.get_group(app)))


def test_the_walk_reaches_every_command() -> None:
    names = {" ".join(path) for path in COMMANDS}
    assert {"", "validate", "run", "runs list", "report diff", "fixtures export"} <= names
    assert len(names) >= 16


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "agnoctl")
def test_help_speaks_the_users_words(command: list[str], cli: CliRunner) -> None:
    result = cli.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert not TYPE_NAMES.search(result.stdout), result.stdout
    assert cli.invoke(app, [*command, "-h"]).stdout == result.stdout


def test_metavars_name_what_to_type(cli: CliRunner) -> None:
    run = cli.invoke(app, ["run", "-h"]).stdout
    assert "Usage: agnoctl run [OPTIONS] FILE\n" in run
    for option in ("-i, --input KEY=VALUE", "--report-dir DIR", "--seed N", "--resume RUN"):
        assert option in run
    assert "--progress [auto|live|plain]" in run
    validate = cli.invoke(app, ["validate", "-h"]).stdout
    assert "Usage: agnoctl validate [OPTIONS] [PATH]..." in validate
    assert "[default: .]" in validate


def _under(
    shell: str, *args: str, home: Path, module: bool = False
) -> subprocess.CompletedProcess[str]:
    """`agnoctl ARGS` run from a shell called `shell` (bash under that name: Typer completes
    the shell agnoctl runs under, which it tells by the parent process's name)."""
    link = home / "bin" / shell
    link.parent.mkdir(exist_ok=True)
    if not link.exists():
        link.symlink_to(shutil.which("bash") or "/bin/bash")
    program = [sys.executable, "-m", "agnoctl"] if module else [str(AGNOCTL)]
    # `; exit $?`: a lone command would be exec'd in the shell's place, leaving no parent shell.
    command = shlex.join([*program, *args]) + "; exit $?"
    env = {**os.environ, "HOME": str(home), "SHELL": "/bin/sh", "NO_COLOR": "1"}
    return subprocess.run(
        [str(link), "-c", command], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_install_completion_for_the_shell_it_runs_in(tmp_path: Path) -> None:
    result = _under("bash", "--install-completion", home=tmp_path)
    assert result.returncode == 0, result.stderr
    script = tmp_path / ".bash_completions" / "agnoctl.sh"
    assert "_AGNOCTL_COMPLETE=complete_bash" in script.read_text()
    assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()
    assert "bash completion installed" in result.stdout


def test_show_completion_of_the_shell_it_runs_in(tmp_path: Path) -> None:
    zsh = _under("zsh", "--show-completion", home=tmp_path)
    assert zsh.returncode == 0, zsh.stderr
    assert "compdef _agnoctl_completion agnoctl" in zsh.stdout
    fish = _under("fish", "--show-completion", home=tmp_path)
    assert "complete --command agnoctl" in fish.stdout
    as_module = _under("zsh", "--show-completion", home=tmp_path, module=True)
    assert as_module.stdout == zsh.stdout  # the script calls `agnoctl`, however it was printed
    unknown = _under("tcsh", "--show-completion", home=tmp_path)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert "Shell tcsh not supported" in unknown.stderr


@pytest.mark.parametrize("option", ["--install-completion", "--show-completion"])
def test_a_shell_named_after_the_completion_options_is_refused(option: str, tmp_path: Path) -> None:
    """Typer's completion options are flags: a shell named after one would have been taken for
    a command while the options completed another shell. It is a usage error, installing
    nothing."""
    named = _under("bash", option, "zsh", home=tmp_path)
    assert (named.returncode, named.stdout) == (2, "")
    assert f"{option} takes no shell name" in named.stderr and "run it from zsh" in named.stderr
    assert not (tmp_path / ".bashrc").exists() and not (tmp_path / ".zshrc").exists()


def test_the_cli_leans_on_no_private_typer_completion_module() -> None:
    source = (Path(__file__).parents[2] / "agnoctl" / "cli.py").read_text(encoding="utf-8")
    assert "_completion_shared" not in source and "_completion_classes" not in source


def test_completion_answers_the_shell(tmp_path: Path) -> None:
    env = {**os.environ, "_AGNOCTL_COMPLETE": "complete_bash", "COMP_CWORD": "1"}
    words = subprocess.run(
        [str(AGNOCTL)],
        env={**env, "COMP_WORDS": "agnoctl va"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert words.stdout.split() == ["validate"]
    options = subprocess.run(
        [str(AGNOCTL)],
        env={**env, "COMP_WORDS": "agnoctl run --pro", "COMP_CWORD": "2"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert options.stdout.split() == ["--progress"]


def test_validate_checks_the_current_directory_by_default(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "flow.yaml").write_text(
        "version: 1\nname: x\nagents: {a: {model: mock/m}}\nsteps: {s: {agent: a, prompt: hi}}\n"
    )
    (tmp_path / "configmap.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    result = run_cli("validate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "valid: 1 file checked" in result.stderr and "1 YAML file(s)" in result.stderr


def test_runs_list_speaks_format_json(cli: CliRunner, tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "version: 1\nname: x\nagents: {a: {model: mock/m}}\nsteps: {s: {agent: a, prompt: hi}}\n"
    )
    runs = tmp_path / "runs"
    done = cli.invoke(app, ["run", str(flow), "-q", "--report-dir", str(runs / "r1")])
    assert done.exit_code == 0, done.output
    as_format = cli.invoke(app, ["runs", "list", "--runs-dir", str(runs), "--format", "json"])
    assert as_format.exit_code == 0, as_format.output
    [row] = [json.loads(line) for line in as_format.stdout.splitlines()]
    assert row["path"] == str(runs / "r1") and row["status"] == "passed"
    alias = cli.invoke(app, ["runs", "list", "--runs-dir", str(runs), "--json"])
    assert alias.stdout == as_format.stdout  # the old spelling still works
    assert "--json" not in cli.invoke(app, ["runs", "list", "-h"]).stdout  # but is not advertised


def test_report_show_and_cache_stats_speak_format_json(cli: CliRunner, tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "version: 1\nname: x\nagents: {a: {model: mock/m}}\nsteps: {s: {agent: a, prompt: hi}}\n"
    )
    run_dir = tmp_path / "runs" / "r1"
    assert cli.invoke(app, ["run", str(flow), "-q", "--report-dir", str(run_dir)]).exit_code == 0
    shown = cli.invoke(app, ["report", "show", str(run_dir), "--format", "json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == json.loads((run_dir / "report.json").read_text())
    stats = cli.invoke(
        app, ["cache", "stats", "--cache-dir", str(tmp_path / "no"), "--format", "json"]
    )
    assert json.loads(stats.stdout)["entries"] == 0
