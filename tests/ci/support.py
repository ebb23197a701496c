"""Shared helpers for the workflow tests: repository paths, YAML loading, tool lookup."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from app import PROJECT_ROOT
from tests.support import in_ci, require_tool

GITHUB_DIR = PROJECT_ROOT / ".github"
WORKFLOWS_DIR = GITHUB_DIR / "workflows"
SCRIPTS_DIR = GITHUB_DIR / "scripts"
WORKFLOW_FILES = sorted(WORKFLOWS_DIR.glob("*.yml"))


def require_file(path: Path) -> Path:
    """Return `path`, failing (under CI) or skipping (locally) when it does not exist yet."""
    if not path.exists():
        message = f"{path.relative_to(PROJECT_ROOT)} does not exist"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(
    args: list[str], cwd: Path = PROJECT_ROOT, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run a command without a shell, capturing text output; never raises on a non-zero exit."""
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, check=False, timeout=240, **kwargs
    )


def load_yaml(path: Path) -> Any:
    """Parse one YAML document."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_docs(text: str) -> list[dict[str, Any]]:
    """Parse a multi-document YAML stream, dropping empty documents."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def load_workflow(name: str) -> dict[str, Any]:
    """Load .github/workflows/<name>, mapping PyYAML's boolean `on` key back to "on"."""
    data = load_yaml(WORKFLOWS_DIR / name)
    assert isinstance(data, dict), f"{name} is not a mapping"
    if True in data:  # YAML 1.1 reads the bare key `on` as the boolean true
        data["on"] = data.pop(True)
    return data


def steps_of(workflow: dict[str, Any], job: str) -> list[dict[str, Any]]:
    """The steps of one job, asserting the job exists."""
    assert job in workflow["jobs"], f"job {job!r} missing"
    steps = workflow["jobs"][job].get("steps", [])
    assert isinstance(steps, list)
    return steps


def uses_step(steps: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    """Steps that use `action` (owner/repo, any pinned ref)."""
    return [s for s in steps if str(s.get("uses", "")).split("@", 1)[0] == action]


def rendered_kustomize(directory: Path) -> list[dict[str, Any]]:
    """Objects rendered by `kubectl kustomize <directory>` (kubectl's built-in kustomize)."""
    kubectl = require_tool("kubectl")
    result = run([kubectl, "kustomize", str(directory)])
    assert result.returncode == 0, result.stderr
    return load_yaml_docs(result.stdout)


def containers_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """All containers (init and regular) of a Deployment or Job pod template."""
    pod = obj["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


SHA_PIN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[^@\s]+)?@[0-9a-f]{40}$")
