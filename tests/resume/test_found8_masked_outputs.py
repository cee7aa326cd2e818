"""A resumed run never hands a later step the masked copy of an output that held a secret
(found by the sub-workflows/approvals/resume pass).

The journal holds every output through the run's redactor. A step that printed a token
(`gh auth token`, a secret from the environment) was reused on `--resume` from its journal
line, `***`, and the step that needed it ran with `***` in place of the token. Such a task is
now run again, as the response cache does not store a reply that holds a secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

RunCli = Any

TOKEN = "tok-resume-7c1e9a55d0"
ENV = {"DEPLOY_TOKEN": TOKEN}  # a secret by its name: the redactor masks its value


def test_a_step_whose_output_held_a_secret_runs_again_for_its_dependents(
    run_cli: RunCli, tmp_path: Path
) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "name": "masked",
                "steps": {
                    "token": {"run": ["sh", "-c", 'echo "$DEPLOY_TOKEN"']},
                    "use": {
                        "needs": ["token"],
                        # Fails while `broken` exists; writes what it was given.
                        "run": [
                            "sh",
                            "-c",
                            'test ! -e broken && printf %s "$1" > given.txt',
                            "sh",
                            "{{ steps.token.output }}",
                        ],
                    },
                },
            }
        ),
        encoding="utf-8",
    )
    (tmp_path / "broken").touch()
    assert run_cli("run", flow, "-q", env=ENV).returncode == 1
    (tmp_path / "broken").unlink()
    resumed = run_cli("run", flow, "--resume", "latest", "-q", env=ENV)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (tmp_path / "given.txt").read_text(encoding="utf-8") == TOKEN
    journal = (tmp_path / ".agnoctl" / "runs" / "latest" / "events.jsonl").read_text()
    assert TOKEN not in journal
