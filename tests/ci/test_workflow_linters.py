"""The workflows pass the offline linters: GitHub's workflow schema, zizmor and checkov.

Each linter is also run on a deliberately broken workflow, so a linter that silently checks
nothing (wrong flags, wrong directory) cannot make these tests pass.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.ci.support import GITHUB_DIR, PROJECT_ROOT, WORKFLOW_FILES, require_tool, run

# A workflow every linter must reject: unpinned third-party action, credentials persisted,
# attacker-controlled text expanded into a shell, write-all token, no timeout.
BAD_WORKFLOW = """\
name: bad
on:
  issues:
    types: [opened]
permissions: write-all
jobs:
  echo:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: some-org/some-action@main
      - run: echo "${{ github.event.issue.title }}"
"""


def test_there_are_workflows_to_check() -> None:
    names = {path.name for path in WORKFLOW_FILES}
    assert {"ci.yml", "deploy.yml", "infra.yml"} <= names


def test_workflows_match_githubs_workflow_schema() -> None:
    tool = require_tool("check-jsonschema")
    files = [str(path) for path in WORKFLOW_FILES]
    result = run([tool, "--builtin-schema", "vendor.github-workflows", *files])
    assert result.returncode == 0, result.stdout + result.stderr


def test_dependabot_config_matches_its_schema() -> None:
    tool = require_tool("check-jsonschema")
    result = run(
        [tool, "--builtin-schema", "vendor.dependabot", str(GITHUB_DIR / "dependabot.yml")]
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_schema_check_rejects_an_invalid_workflow(tmp_path: Path) -> None:
    tool = require_tool("check-jsonschema")
    broken = tmp_path / "broken.yml"
    # `runs-on` misspelt and `steps` given as a mapping: both schema violations.
    broken.write_text("on: push\njobs:\n  a:\n    run-on: ubuntu-latest\n    steps: {run: x}\n")
    result = run([tool, "--builtin-schema", "vendor.github-workflows", str(broken)])
    assert result.returncode != 0


def test_zizmor_offline_reports_no_findings() -> None:
    tool = require_tool("zizmor")
    # Exit codes: 0 clean, 1 error, 10-14 findings by highest severity (zizmor docs, usage).
    # The whole .github directory: the workflows and dependabot.yml.
    result = run([tool, "--offline", "--format", "json", str(GITHUB_DIR)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []


def test_zizmor_flags_a_bad_workflow(tmp_path: Path) -> None:
    tool = require_tool("zizmor")
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD_WORKFLOW)
    result = run([tool, "--offline", "--format", "json", str(bad)])
    assert result.returncode >= 10, result.stdout + result.stderr
    audits = {finding["ident"] for finding in json.loads(result.stdout)}
    assert {"template-injection", "artipacked", "unpinned-uses"} <= audits


def test_checkov_github_actions_has_no_failures(tmp_path: Path) -> None:
    tool = require_tool("checkov")
    # One checkov run (it is slow to start) over copies of the real workflows plus a bad one:
    # the bad one proves the checks ran, and the real ones must have no failed check.
    workflows = tmp_path / ".github" / "workflows"
    shutil.copytree(GITHUB_DIR / "workflows", workflows)
    (workflows / "zz-bad.yml").write_text(BAD_WORKFLOW)
    result = run(
        [
            tool,
            "--skip-download",
            "--framework",
            "github_actions",
            "-d",
            str(tmp_path),
            "--output",
            "json",
        ],
        cwd=PROJECT_ROOT,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [check for report in reports for check in report["results"]["failed_checks"]]
    passed = [check for report in reports for check in report["results"]["passed_checks"]]
    ours = [check for check in failed if not check["file_path"].endswith("zz-bad.yml")]
    assert ours == [], [(c["check_id"], c["file_path"], c["check_name"]) for c in ours]
    assert any(c["file_path"].endswith("zz-bad.yml") for c in failed), "checkov checked nothing"
    real_files = {f"/.github/workflows/{path.name}" for path in WORKFLOW_FILES}
    assert real_files <= {check["file_path"] for check in passed}


# Default yamllint rules, except: GitHub's `on:` key is not a truthy value, workflows carry no
# `---`, and long `if:`/`group:` expressions read better on one line up to 120 columns.
YAMLLINT_CONFIG = (
    "{extends: default, rules: {line-length: {max: 120}, document-start: disable, "
    "truthy: {check-keys: false}, comments: {min-spaces-from-content: 1}}}"
)


def test_yamllint_accepts_everything_under_github() -> None:
    tool = require_tool("yamllint")
    result = run([tool, "--strict", "-d", YAMLLINT_CONFIG, str(GITHUB_DIR)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_catches_a_duplicated_key(tmp_path: Path) -> None:
    # PyYAML (and so every test above) silently keeps the last of two equal keys; GitHub
    # rejects the file. yamllint is what notices.
    tool = require_tool("yamllint")
    duplicated = tmp_path / "dup.yml"
    duplicated.write_text("on: push\njobs:\n  a:\n    runs-on: x\n    runs-on: y\n")
    result = run([tool, "--strict", "-d", YAMLLINT_CONFIG, str(duplicated)])
    assert result.returncode != 0
    assert "key-duplicates" in result.stdout
