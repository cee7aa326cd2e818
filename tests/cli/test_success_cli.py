"""Success shares through ``agnoctl run`` (SPEC "Limits and success"): for_each and group
``success_threshold``, the workflow's ``success_threshold`` with steps that do not count, and
the reason in summary.md."""

from __future__ import annotations

from pathlib import Path

from issue5 import DATA, Run, RunCli, run_in_process, run_subprocess, write_yaml

SCATTER = DATA / "scatter-gather.yaml"
SUCCESS = DATA / "success.yaml"


def test_scatter_gather_passes_with_two_of_three_sources(run_cli: RunCli, tmp_path: Path) -> None:
    run = run_subprocess(run_cli, SCATTER, DATA / "scatter-one-fails.yaml", tmp_path / "run")
    assert run.exit_code == 0, run.stdout + run.stderr
    collect = run.step("collect")
    assert (collect["status"], collect["succeeded"], collect["total"]) == ("succeeded", 2, 3)
    assert (collect["share"], collect["success_threshold"]) == (0.67, 0.67)
    assert [i["status"] for i in collect["items"]] == ["succeeded", "failed", "succeeded"]
    assert collect["items"][1]["error"]["message"].startswith("HTTP 500: filings server down")
    assert collect["output"] == ["facts", None, "facts"]
    # the gather step sees every item's status, the failed one included
    assert run.report["outputs"]["brief"] == (
        "Brief from:\n- web: succeeded facts\n- filings: failed None\n- news: succeeded facts\n"
    )
    assert run.report["reason"] == "2 of 2 steps succeeded (1.00)"
    assert "| `collect` | ✅ succeeded (2/3) |" in run.summary
    assert run.junit["collect"].find("failure") is None


def test_scatter_gather_fails_with_one_of_three_sources(tmp_path: Path) -> None:
    run = run_in_process(SCATTER, DATA / "scatter-two-fail.yaml", tmp_path / "run")
    assert run.exit_code == 1
    collect = run.step("collect")
    assert (collect["status"], collect["share"]) == ("failed", 0.33)
    message = collect["error"]["message"]
    assert collect["error"]["kind"] == "threshold"
    assert message.startswith(
        "step collect: 1 of 3 items succeeded (0.33) is below its success_threshold 0.67; "
        "collect[0]: HTTP 500: web server down"
    )
    assert run.statuses()["gather"] == "skipped:upstream_failed"
    reason = (
        "0 of 2 steps succeeded (0.00), below the success_threshold 1; "
        "not succeeded: collect (failed), gather (upstream_failed)"
    )
    assert run.report["reason"] == reason
    assert reason in run.summary and "| `collect` | ❌ failed (1/3) |" in run.summary
    assert "- **collect**: step collect: 1 of 3 items succeeded (0.33)" in run.summary
    failure = run.junit["collect"].find("failure")
    assert failure is not None and failure.get("type") == "threshold"


def test_group_and_workflow_thresholds_leave_out_what_does_not_count(tmp_path: Path) -> None:
    run = run_in_process(SUCCESS, DATA / "success-passes.yaml", tmp_path / "run")
    assert run.exit_code == 0, run.stdout + run.stderr
    panel = run.step("panel")
    assert (panel["status"], panel["succeeded"], panel["total"], panel["share"]) == (
        "succeeded",
        2,
        3,
        0.67,
    )
    assert run.step("panel.tech")["status"] == "failed"
    assert run.statuses() == {
        "panel": "succeeded",
        "optional": "failed",
        "skipped": "skipped:condition",
        "core": "succeeded",
        "extra": "failed",
    }
    # counted: panel, core, extra (the condition skip and continue_on_error are left out)
    report = run.report
    assert (report["succeeded"], report["total"], report["share"]) == (2, 3, 0.67)
    assert report["steps"]["optional"]["continue_on_error"] is True
    reason = (
        "2 of 3 steps succeeded (0.67); 1 skipped by their condition; "
        "1 failed under continue_on_error, not counted"
    )
    assert report["reason"] == reason
    assert run.summary.startswith(f"## ✅ success: passed\n\n{reason}\n")


def test_a_group_below_its_threshold_fails_and_the_run_with_it(tmp_path: Path) -> None:
    run = run_in_process(SUCCESS, DATA / "success-fails.yaml", tmp_path / "run")
    assert run.exit_code == 1
    panel = run.step("panel")
    assert (panel["status"], panel["share"], panel["error"]["kind"]) == (
        "failed",
        0.33,
        "threshold",
    )
    assert panel["error"]["message"].startswith(
        "step panel: 1 of 3 steps succeeded (0.33) is below its success_threshold 0.6; "
        "panel.money: HTTP 400: money reviewer refused"
    )
    reason = (
        "1 of 3 steps succeeded (0.33), below the success_threshold 0.5; "
        "not succeeded: panel (failed), extra (failed)"
    )
    assert run.report["reason"] == reason
    assert run.summary.startswith(f"## ❌ success: failed\n\n{reason}\n")
    assert run.stdout.startswith(f"failed: {reason}")


def _fan_out(folder: Path, items: int, failed: int, threshold: float | None) -> Run:
    """A ``for_each`` of ``items`` mock calls whose item ``failed`` fails."""
    step: dict[str, object] = {"agent": "a", "for_each": list(range(items)), "prompt": "{{ item }}"}
    if threshold is not None:
        step["success_threshold"] = threshold
    flow = {
        "version": 1,
        "name": "fan",
        "agents": {"a": {"model": "mock/m"}},
        "defaults": {"retry": {"max_attempts": 1}},
        "steps": {"fan": step},
    }
    refused = {"error": {"status": 400, "message": "no"}}
    fixtures = {"steps": {"fan": {"items": {failed: refused}, "default": {"text": "ok"}}}}
    run_dir = folder / f"run-{items}"
    return run_in_process(
        write_yaml(folder, f"fan-{items}.yaml", flow),
        write_yaml(folder, f"fan-{items}-fixtures.yaml", fixtures),
        run_dir,
    )


def test_a_threshold_of_one_means_every_item(tmp_path: Path) -> None:
    """SPEC: 199 of 200 fails the default threshold 1, though 0.995 rounds to 1.00."""
    run = _fan_out(tmp_path, 200, failed=7, threshold=None)
    assert run.exit_code == 1, run.stdout + run.stderr
    fan = run.step("fan")
    assert (fan["status"], fan["succeeded"], fan["total"]) == ("failed", 199, 200)
    assert fan["error"]["kind"] == "threshold"
    assert fan["error"]["message"].startswith(
        "step fan: 199 of 200 items succeeded (0.995) is below its success_threshold 1;"
    )


def test_two_of_three_still_pass_a_threshold_of_067(tmp_path: Path) -> None:
    run = _fan_out(tmp_path, 3, failed=1, threshold=0.67)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert (run.step("fan")["succeeded"], run.step("fan")["share"]) == (2, 0.67)


def test_the_runs_own_share_never_shows_a_failure_as_one(tmp_path: Path) -> None:
    """199 of 200 top-level steps: the run fails, and its verdict prints 0.995, not 1.00."""
    steps: dict[str, object] = {f"s{n}": {"run": ["true"]} for n in range(199)}
    steps["broken"] = {"run": ["false"]}
    flow = {"version": 1, "name": "many", "steps": steps}
    run = run_in_process(write_yaml(tmp_path, "many.yaml", flow), None, tmp_path / "run")
    assert run.exit_code == 1, run.stdout + run.stderr
    assert "199 of 200 steps succeeded (0.995), below the success_threshold 1" in run.stdout
