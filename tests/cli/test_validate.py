"""`agnoctl validate`, `agnoctl schema` and `agnoctl init` through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agnoctl.cli import app
from agnoctl.init_template import starter_workflow, workflow_name
from agnoctl.spec.schema import schema_text
from agnoctl.spec.validate import validate_file
from tests.conftest import RunCli

REPO = Path(__file__).resolve().parents[2]
VALID = "version: 1\nname: ok\nsteps:\n  a: {run: [echo, hi]}\n"
INVALID = (
    "version: 1\nname: bad\nsteps:\n  fetch: {run: [echo]}\n  use: {run: [x], needs: [fetc]}\n"
)
WARNING = "version: 1\nname: warn\nagents:\n  spare: {model: mock/echo}\nsteps:\n  a: {run: [x]}\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_file_exits_0_with_a_summary(run_cli: RunCli, tmp_path: Path) -> None:
    write(tmp_path, "ok.yaml", VALID)
    proc = run_cli("validate", "ok.yaml")
    assert (proc.returncode, proc.stdout) == (0, "")
    assert proc.stderr == "valid: 1 file checked, 0 error(s), 0 warning(s)\n"


def test_an_invalid_file_prints_one_line_per_problem(run_cli: RunCli, tmp_path: Path) -> None:
    write(tmp_path, "bad.yaml", INVALID)
    proc = run_cli("validate", "bad.yaml")
    assert proc.returncode == 2
    assert proc.stdout == (
        "bad.yaml:5:27: error E300 `needs` names an unknown step `fetc`\n"
        "    hint: did you mean `fetch`?\n"
    )
    assert "invalid: 1 file checked, 1 error(s)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_github_format_writes_annotations(run_cli: RunCli, tmp_path: Path) -> None:
    write(tmp_path, "bad.yaml", INVALID)
    proc = run_cli("validate", "--format", "github", "bad.yaml")
    assert proc.returncode == 2
    assert proc.stdout.startswith("::error file=bad.yaml,line=5,col=27,title=E300::")


def test_json_format_and_strict_warnings(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "warn.yaml", WARNING)
    result = cli.invoke(app, ["validate", "--format", "json", str(path)])
    report = json.loads(result.stdout)
    assert result.exit_code == 0
    assert (report["valid"], report["errors"], report["warnings"]) == (True, 0, 1)
    assert report["diagnostics"][0]["code"] == "W500"
    assert cli.invoke(app, ["validate", "--strict", str(path)]).exit_code == 2


def test_a_missing_path_is_a_usage_error(run_cli: RunCli) -> None:
    proc = run_cli("validate", "nowhere.yaml")
    assert proc.returncode == 2
    assert proc.stderr == "error: nowhere.yaml: no such file or directory\n"


def test_bad_usage_exits_2(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "ok.yaml", VALID)
    assert cli.invoke(app, ["validate", "--format", "xml", str(path)]).exit_code == 2
    assert cli.invoke(app, ["validate"]).exit_code == 2


def test_a_directory_means_its_workflows(cli: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, "flows/a.yaml", VALID)
    write(tmp_path, "flows/nested/b.yml", INVALID)
    write(tmp_path, "flows/data/fixtures.yaml", "replies: [a, b]\n")
    write(tmp_path, "flows/.hidden/c.yaml", INVALID)
    result = cli.invoke(app, ["validate", "--format", "json", str(tmp_path / "flows")])
    assert result.exit_code == 2
    files = {Path(d["file"]).name for d in json.loads(result.stdout)["diagnostics"]}
    assert files == {"b.yml"}
    assert "2 files checked" in result.stderr
    assert "1 YAML file(s) without `version:` skipped" in result.stderr


def test_a_directory_without_workflows_is_a_usage_error(cli: CliRunner, tmp_path: Path) -> None:
    write(tmp_path, "data.yaml", "a: 1\n")
    result = cli.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert "no workflow files found" in result.stderr


def test_schema_prints_the_committed_schema(run_cli: RunCli) -> None:
    proc = run_cli("schema")
    assert proc.returncode == 0
    assert proc.stdout == schema_text() == (REPO / "schemas/workflow.schema.json").read_text()


def test_schema_speaks_format_json_or_markdown(run_cli: RunCli) -> None:
    """`schema` had no `--format`: json is the JSON Schema (the default), markdown the field
    reference; `--markdown` stays as the former spelling, not advertised."""
    as_json = run_cli("schema", "--format", "json")
    assert (as_json.returncode, as_json.stdout) == (0, schema_text())
    markdown = run_cli("schema", "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout == (REPO / "docs/reference.md").read_text(encoding="utf-8")
    assert run_cli("schema", "--markdown").stdout == markdown.stdout
    report = run_cli("schema", "--report", "--format", "json")
    assert report.stdout == (REPO / "schemas/report.schema.json").read_text(encoding="utf-8")
    help_text = run_cli("schema", "-h").stdout
    assert "--format [json|markdown]" in help_text and "--markdown" not in help_text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "text"], "'text' is not one of 'json', 'markdown'"),
        (["--format", "yaml"], "'yaml' is not one of 'json', 'markdown'"),
        (["--report", "--format", "markdown"], "--report has no markdown form"),
        (["--report", "--markdown"], "pick one"),
    ],
)
def test_schema_refuses_a_format_it_has_not(run_cli: RunCli, args: list[str], message: str) -> None:
    refused = run_cli("schema", *args)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert message in refused.stderr and "Traceback" not in refused.stderr


def test_init_writes_a_valid_starter_and_refuses_to_overwrite(
    run_cli: RunCli, cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = run_cli("init")
    assert proc.returncode == 0
    written = tmp_path / "workflow.yaml"
    text = written.read_text()
    # No schema beside it: no modeline (a URL that does not resolve helps no editor).
    assert "yaml-language-server: $schema" not in text
    assert "save\n# `agnoctl schema` as a file" in text
    result = validate_file(written)
    assert result.diagnostics == [] and result.workflow is not None
    assert result.workflow.name == "workflow"
    assert {a.provider for a in result.workflow.agents.values()} == {"mock"}
    monkeypatch.chdir(tmp_path)
    again = cli.invoke(app, ["init"])
    assert again.exit_code == 2
    assert "already exists" in again.stderr
    assert written.read_text() == text


def test_init_names_the_file_and_the_workflow(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.invoke(app, ["init", "My Flow"]).exit_code == 0
    assert validate_file("My Flow.yaml").workflow is not None
    assert "name: my-flow\n" in Path("My Flow.yaml").read_text()
    assert cli.invoke(app, ["init", "other.yml"]).exit_code == 0
    assert Path("other.yml").is_file()


@pytest.mark.parametrize(
    ("file", "name"), [("x.yaml", "x"), ("Ünïcode!!.yaml", "n-code"), ("___.yaml", "workflow")]
)
def test_workflow_names_are_always_valid(file: str, name: str) -> None:
    assert workflow_name(Path(file)) == name


def test_the_modeline_is_relative_inside_a_checkout() -> None:
    text = starter_workflow(REPO / "examples" / "new.yaml")
    assert text.startswith("# yaml-language-server: $schema=../schemas/workflow.schema.json\n")


def test_init_names_a_schema_the_project_keeps_by_a_path_that_resolves(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "workflow.schema.json").write_text(schema_text(), encoding="utf-8")
    (tmp_path / "flows" / "team").mkdir(parents=True)
    assert run_cli("init", "flows/team/review").returncode == 0
    first = (tmp_path / "flows" / "team" / "review.yaml").read_text().splitlines()[0]
    reference = first.removeprefix("# yaml-language-server: $schema=")
    assert reference == "../../schemas/workflow.schema.json"
    assert (tmp_path / "flows" / "team" / reference).resolve().is_file()


def test_validate_imports_no_engine_httpx_anyio_or_live_display(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.yaml", VALID)
    probe = (
        "import sys\n"
        "from agnoctl.cli import main\n"
        f"sys.argv = ['agnoctl', 'validate', {str(path)!r}]\n"
        "try:\n    main()\n"
        "except SystemExit:\n    pass\n"
        "heavy = ('httpx', 'anyio', 'rich.live', 'agnoctl.engine', 'agnoctl.providers')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "[]"


def test_the_pre_commit_hook_selects_files_as_validate_dir(run_cli: RunCli, tmp_path: Path) -> None:
    """pre-commit names every YAML file: a Kubernetes ConfigMap is skipped, as in a folder."""
    import shlex

    import yaml

    [hook] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    write(tmp_path, "deploy/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n")
    write(tmp_path, "ok.yaml", VALID)
    command = shlex.split(hook["entry"])[1:]
    alone = run_cli(*command, "deploy/configmap.yaml")
    assert alone.returncode == 0, alone.stderr
    both = run_cli(*command, "deploy/configmap.yaml", "ok.yaml")
    folder = run_cli("validate", ".")
    assert both.returncode == folder.returncode == 0, both.stderr
    summary = "valid: 1 file checked, 0 error(s), 0 warning(s) (1 YAML file(s) without `version:`"
    assert both.stderr == folder.stderr == summary + " skipped)\n"
    write(tmp_path, "bad.yaml", INVALID)
    broken = run_cli(*command, "bad.yaml", "deploy/configmap.yaml")
    assert broken.returncode == 2 and "bad.yaml:5" in broken.stdout
