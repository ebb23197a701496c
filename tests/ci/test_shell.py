"""shellcheck over the deploy scripts and over every `run:` block of the workflows.

GitHub runs a `run:` block with `bash -e {0}`; each block is checked as such a script, with
`${{ ... }}` expressions (expanded by GitHub before bash sees them) replaced by a plain word.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.ci.support import SCRIPTS_DIR, WORKFLOW_FILES, load_workflow, require_tool, run

SCRIPTS = sorted(SCRIPTS_DIR.glob("*.sh"))


def run_blocks() -> list[tuple[str, str]]:
    """(workflow:job:step, script) for every run block."""
    blocks = []
    for path in WORKFLOW_FILES:
        for job_id, job in load_workflow(path.name)["jobs"].items():
            for number, step in enumerate(job.get("steps", []), 1):
                if "run" in step:
                    where = f"{path.name}:{job_id}:{step.get('name', number)}"
                    blocks.append((where, str(step["run"])))
    return blocks


def test_there_are_scripts_and_run_blocks() -> None:
    assert {p.name for p in SCRIPTS} >= {"kustomize-overlay.sh", "smoke-test.sh", "wait-for-job.sh"}
    assert len(run_blocks()) >= 15


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_deploy_scripts_pass_shellcheck(script: Path) -> None:
    tool = require_tool("shellcheck")
    result = run([tool, "--severity=style", str(script)])
    assert result.returncode == 0, result.stdout


def test_every_run_block_passes_shellcheck() -> None:
    tool = require_tool("shellcheck")
    problems = []
    for where, block in run_blocks():
        script = "#!/usr/bin/env bash\nset -e\n" + re.sub(r"\$\{\{.*?\}\}", "EXPR", block)
        result = run([tool, "--shell=bash", "--severity=style", "-"], input=script)
        if result.returncode != 0:
            problems.append(f"{where}\n{result.stdout}")
    assert problems == []


def test_shellcheck_flags_an_unquoted_expansion() -> None:
    tool = require_tool("shellcheck")
    result = run([tool, "--shell=bash", "-"], input="#!/usr/bin/env bash\nrm -rf $DIR/*\n")
    assert result.returncode != 0
    assert "SC2086" in result.stdout
