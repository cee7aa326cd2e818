"""`--executor ray` without a cluster: its flags, the missing extra, `resources:` validation, and
the working directory's cap, through the real CLI (in-process where a module must be hidden or
a cap lowered).

None of these starts Ray: each is refused before a connection is made.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agnoctl.cli import app
from agnoctl.engine import ray_executor, remote_model
from agnoctl.errors import UsageError
from agnoctl.spec.models import ProviderSpec, ResourcesSpec
from agnoctl.spec.resource_checks import memory_bytes
from tests.conftest import RunCli

COMMANDS = """\
version: 1
name: commands
steps:
  hello:
    run: [echo, hello]
    resources: {cpus: 0.5, memory: 64MiB, custom: {ssd: 1}}
"""


def _workflow(tmp_path: Path, text: str = COMMANDS) -> Path:
    path = tmp_path / "wf.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_ray_agents_without_the_ray_executor_is_refused(tmp_path: Path, run_cli: RunCli) -> None:
    _workflow(tmp_path)
    proc = run_cli("run", "wf.yaml", "--ray-agents")
    assert proc.returncode == 2, proc.stderr
    assert "--ray-agents sends agent steps' model calls to the cluster of --executor ray" in (
        proc.stderr
    )
    assert not (tmp_path / ".agnoctl").exists()


def test_ray_address_without_the_ray_executor_is_refused(tmp_path: Path, run_cli: RunCli) -> None:
    _workflow(tmp_path)
    proc = run_cli("run", "wf.yaml", "--ray-address", "127.0.0.1:6379")
    assert proc.returncode == 2, proc.stderr
    assert "--ray-address names the cluster of --executor ray" in proc.stderr
    assert not (tmp_path / ".agnoctl").exists()  # refused before anything was written


def test_an_unknown_executor_is_a_usage_error(tmp_path: Path, run_cli: RunCli) -> None:
    _workflow(tmp_path)
    proc = run_cli("run", "wf.yaml", "--executor", "dask")
    assert proc.returncode == 2
    assert "local" in proc.stderr and "ray" in proc.stderr and "Traceback" not in proc.stderr


def test_a_dry_run_refuses_the_executor_flags(tmp_path: Path, run_cli: RunCli) -> None:
    _workflow(tmp_path)
    proc = run_cli("run", "wf.yaml", "--dry-run", "--executor", "ray")
    assert proc.returncode == 2
    assert "--executor" in proc.stderr and "would be ignored" in proc.stderr


def test_the_local_executor_runs_resources_as_they_are(tmp_path: Path, run_cli: RunCli) -> None:
    _workflow(tmp_path)
    proc = run_cli("run", "wf.yaml", "--executor", "local", "-q")
    assert proc.returncode == 0, proc.stderr


def test_without_ray_installed_the_error_says_how_to_install_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _workflow(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)  # find_spec("ray") is None: not installed
    result = CliRunner().invoke(app, ["run", "wf.yaml", "--executor", "ray"])
    assert result.exit_code == 2, result.output
    assert "--executor ray needs Ray, which is not installed" in result.output
    assert "pip install 'ray>=2.40'" in result.output
    assert "pip install -e '.[ray]' in a checkout of agnoctl" in result.output
    assert "pip install agnoctl" not in result.output
    assert not (tmp_path / ".agnoctl").exists()


@pytest.mark.parametrize("where", ["flag", "env"])
def test_a_ray_client_address_is_refused_with_what_to_give_instead(
    tmp_path: Path, run_cli: RunCli, where: str
) -> None:
    _workflow(tmp_path)
    address = "ray://head.example:10001"
    flags = ("--ray-address", address) if where == "flag" else ()
    env = {"RAY_ADDRESS": address} if where == "env" else {}
    proc = run_cli("run", "wf.yaml", "--executor", "ray", *flags, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "ray://head.example:10001 is a Ray Client address" in proc.stderr
    assert "host:6379" in proc.stderr and "Traceback" not in proc.stderr


def test_a_working_directory_over_the_cap_is_refused_before_any_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _workflow(tmp_path)
    (tmp_path / "data.bin").write_bytes(b"\0" * 4096)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "pack").write_bytes(b"\0" * 8192)  # never shipped: not counted
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(ray_executor, "MAX_WORKING_DIR", 8192)
    ray_executor.check_working_dir(tmp_path)  # 4 KiB shipped: under the cap
    monkeypatch.setattr(ray_executor, "MAX_WORKING_DIR", 4000)
    result = CliRunner().invoke(app, ["run", "wf.yaml", "--executor", "ray"])
    assert result.exit_code == 2, result.output
    assert "ships the directory agnoctl runs in" in result.output
    assert "holds more than" in result.output and "Traceback" not in result.output


INVALID = """\
version: 1
name: invalid
agents:
  writer: {model: mock/echo}
steps:
  think:
    agent: writer
    prompt: hi
    resources: {gpus: 1}
  build:
    run: [make]
    resources: {memory: lots, custom: {CPU: 2}}
  group:
    steps:
      inner: {run: [echo, hi]}
    resources: {cpus: 1}
  negative:
    run: [echo]
    resources: {cpus: -1}
"""


def test_validate_checks_the_form_and_the_place_of_resources(
    tmp_path: Path, run_cli: RunCli
) -> None:
    _workflow(tmp_path, INVALID)
    proc = run_cli("validate", "wf.yaml")
    assert proc.returncode == 2
    out = proc.stdout
    assert "E471 `resources` does nothing on an agent step" not in out  # its model calls
    assert "wf.yaml:12:25: error E470 resources.memory 'lots' is not a memory size" in out
    assert "error E470 `CPU` is not a custom resource: it is Ray's own" in out
    assert "reserve it with `resources.cpus`" in out
    assert "wf.yaml:16:5: error E471 `resources` does nothing on a group step" in out
    assert "only command and agent steps run as Ray tasks" in out
    assert "E204" in out  # cpus: -1, out of range


@pytest.mark.parametrize(
    ("text", "size"),
    [
        (512, 512),
        ("512", 512),
        ("64MiB", 64 * 2**20),
        ("1.5GB", 1_500_000_000),
        (" 2 GiB ", 2 * 2**30),
        ("1kb", None),
        ("lots", None),
        (-1, None),
    ],
)
def test_memory_sizes(text: int | str, size: int | None) -> None:
    assert memory_bytes(text) == size


def test_resources_become_the_ray_task_request() -> None:
    resources = ResourcesSpec(cpus=0.5, gpus=1, memory="64MiB", custom={"ssd": 1})
    assert ray_executor.request(resources) == {
        "num_cpus": 0.5,
        "num_gpus": 1,
        "memory": 64 * 2**20,
        "resources": {"ssd": 1},
    }
    assert ray_executor.request(ResourcesSpec()) == {}


def test_the_endpoint_sent_to_a_worker_holds_the_key_apart_and_out_of_its_repr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-driver-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1/")
    target = remote_model.endpoint("openai", None)
    assert (target.spec.type, target.spec.base_url, target.spec.api_key) == (
        "openai",
        "http://127.0.0.1:8000/v1",  # resolved here, on the driver
        None,
    )
    assert target.key == "sk-driver-0123456789"
    assert "sk-driver" not in repr(target)


def test_a_worker_prefers_the_key_of_its_own_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-driver-0123456789")
    target = remote_model.endpoint("openai", None)
    monkeypatch.delenv("OPENAI_API_KEY")
    assert remote_model._with_key(target).api_key == "sk-driver-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-worker-9876543210")
    assert remote_model._with_key(target).api_key == "sk-worker-9876543210"
    # An entry of its own reads no variable of the worker's: the driver's key goes.
    local = ProviderSpec(type="openai", base_url="http://localhost:8000/v1", api_key="sk-entry")
    assert remote_model._with_key(remote_model.endpoint("local", local)).api_key == "sk-entry"


@pytest.mark.parametrize(("address", "reported"), [(None, "0"), ("127.0.0.1:6379", None)])
def test_a_cluster_started_for_the_run_reports_no_usage_to_rays_makers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, address: str | None, reported: str | None
) -> None:
    # Ray sends usage statistics from a cluster it starts unless told not to: agnoctl makes
    # no network call the user did not ask for. A cluster it only connects to is left alone.
    import ray

    seen: list[str | None] = []
    monkeypatch.delenv("RAY_USAGE_STATS_ENABLED", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(
        ray, "init", lambda **_: seen.append(os.environ.get("RAY_USAGE_STATS_ENABLED"))
    )
    ray_executor._connect(ray_executor.RayOptions(address), tmp_path)
    assert seen == [reported]


def test_a_users_own_usage_stats_choice_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ray

    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "1")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(ray, "init", lambda **_: None)
    ray_executor._connect(ray_executor.RayOptions(), tmp_path)
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "1"


@pytest.mark.parametrize("address", ["garbage", "head:notaport"])
def test_an_address_of_no_form_ray_reads_is_a_usage_error(
    tmp_path: Path, run_cli: RunCli, address: str
) -> None:
    _workflow(tmp_path)
    proc = run_cli("run", "wf.yaml", "--executor", "ray", "--ray-address", address)
    assert proc.returncode == 2, proc.stderr
    assert f"cannot reach the Ray cluster at {address}:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_amounts_below_rays_smallest_are_refused_by_validate(
    tmp_path: Path, run_cli: RunCli
) -> None:
    # Ray refuses a task asking for less than a ten-thousandth: at submission, mid-run.
    _workflow(
        tmp_path,
        "version: 1\nname: tiny\nsteps:\n  a:\n    run: [echo]\n"
        "    resources: {cpus: 0.00001, gpus: 0, custom: {ssd: 0.00005, hdd: 0.0001}}\n",
    )
    proc = run_cli("validate", "wf.yaml")
    assert proc.returncode == 2, proc.stdout
    assert "error E470 resources.cpus 1e-05 is below Ray's smallest amount, 0.0001" in proc.stdout
    assert "error E470 resources.custom.ssd 5e-05 is below" in proc.stdout
    assert "gpus" not in proc.stdout and "hdd" not in proc.stdout


@pytest.mark.parametrize("link", ["file", "folder"])
def test_the_cap_counts_what_symbolic_links_point_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, link: str
) -> None:
    # Ray's upload follows links: a link to a large file or folder ships all of it.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big.bin").write_bytes(b"\0" * 8192)
    root = tmp_path / "root"
    root.mkdir()
    target = outside / "big.bin" if link == "file" else outside
    (root / "link").symlink_to(target)
    monkeypatch.setattr(ray_executor, "MAX_WORKING_DIR", 4000)
    with pytest.raises(UsageError, match="holds more than"):
        ray_executor.check_working_dir(root)


def test_a_custom_resource_without_a_name_is_refused_by_validate(
    tmp_path: Path, run_cli: RunCli
) -> None:
    # No node declares a resource named "": a task asking for it would wait forever.
    _workflow(
        tmp_path,
        "version: 1\nname: unnamed\nsteps:\n  a:\n    run: [echo]\n"
        "    resources: {custom: {'': 1, ' ': 2, fast_disk: 1}}\n",
    )
    proc = run_cli("validate", "wf.yaml")
    assert proc.returncode == 2, proc.stdout
    assert proc.stdout.count("a custom resource needs a name") == 2
    assert "fast_disk" not in proc.stdout


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound and not listening: a connection to it is refused, and no other
    process can start listening there meanwhile."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


@pytest.mark.parametrize("where", ["flag", "env"])
def test_an_address_where_nothing_listens_is_refused_at_once(
    tmp_path: Path, run_cli: RunCli, closed_port: int, where: str
) -> None:
    # Ray retries an unreachable cluster for many minutes; the timeout is this test's guard.
    _workflow(tmp_path)
    address = f"127.0.0.1:{closed_port}"
    flags = ("--ray-address", address) if where == "flag" else ()
    env = {"RAY_ADDRESS": address} if where == "env" else {}
    proc = run_cli("run", "wf.yaml", "--executor", "ray", *flags, env=env, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert f"cannot reach the Ray cluster at {address}: nothing listens there" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / ".agnoctl").exists()  # refused before anything was written


def test_a_run_that_could_not_reach_its_cluster_leaves_no_run_behind(
    tmp_path: Path, run_cli: RunCli
) -> None:
    # Ray refuses the address only once the run directory is made: the run never started,
    # so nothing of it is kept, and `latest` still names the run before it.
    _workflow(tmp_path)
    assert run_cli("run", "wf.yaml", "-q").returncode == 0
    runs = tmp_path / ".agnoctl" / "runs"
    before = sorted(runs.iterdir())
    latest = os.readlink(runs / "latest")
    proc = run_cli("run", "wf.yaml", "--executor", "ray", "--ray-address", "garbage")
    assert proc.returncode == 2, proc.stderr
    assert "cannot reach the Ray cluster at garbage" in proc.stderr
    assert sorted(runs.iterdir()) == before
    assert os.readlink(runs / "latest") == latest
    listed = run_cli("runs", "list")
    assert "incomplete" not in listed.stdout and listed.stdout.count("commands") == 1


def test_a_first_run_that_never_started_leaves_no_latest(tmp_path: Path, run_cli: RunCli) -> None:
    _workflow(tmp_path)
    proc = run_cli("run", "wf.yaml", "--executor", "ray", "--ray-address", "garbage")
    assert proc.returncode == 2, proc.stderr
    assert list((tmp_path / ".agnoctl" / "runs").iterdir()) == []
    report = tmp_path / "given"
    proc = run_cli(
        "run", "wf.yaml", "--executor", "ray", "--ray-address", "garbage", "--report-dir", report
    )
    assert proc.returncode == 2, proc.stderr
    assert list(report.iterdir()) == []  # the directory named is the caller's: kept, empty
