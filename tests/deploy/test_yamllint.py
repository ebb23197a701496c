"""Every deployment YAML file passes yamllint (duplicate keys, indentation, syntax)."""

from __future__ import annotations

from pathlib import Path

from tests.deploy.support import K8S_DIR, MONITORING_DIR, PROJECT_ROOT, require_tool, run

# Default rules, with room for the long PromQL and URLs these files carry. Compose and
# Kubernetes files are single documents without `---` headers; `on`-style keys are not used.
CONFIG = (
    "{extends: default, rules: {line-length: {max: 120}, document-start: disable,"
    " truthy: {check-keys: false}, comments: {min-spaces-from-content: 1}}}"
)
HINT = "yamllint: a dev dependency, installed by make test"


def test_deployment_yaml_is_clean() -> None:
    yamllint = require_tool("yamllint", HINT)
    targets = [PROJECT_ROOT / "docker-compose.yml", K8S_DIR, MONITORING_DIR]
    result = run([yamllint, "--strict", "-d", CONFIG, *map(str, targets)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_catches_a_duplicate_key(tmp_path: Path) -> None:
    # Control: a duplicate key silently overrides the first value in most YAML parsers.
    yamllint = require_tool("yamllint", HINT)
    bad = tmp_path / "bad.yml"
    bad.write_text("spec:\n  replicas: 2\n  replicas: 1\n")
    result = run([yamllint, "--strict", "-d", CONFIG, str(bad)])
    assert result.returncode != 0
    assert "duplication of key" in result.stdout
