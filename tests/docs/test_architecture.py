"""docs/architecture.md: one Mermaid diagram, the decisions an adopter asks about, its numbers."""

from __future__ import annotations

import yaml

from app.config import Settings
from tests.docs.support import ARCHITECTURE, PROJECT_ROOT, anchors, fenced_blocks

DECISIONS = {
    # Anchor of the section -> what it must explain.
    "synchronous-endpoints-for-database-work-async-where-it-costs-microseconds": "sync endpoints",
    "one-process-per-pod-scale-with-replicas": "one process per pod",
    "migrations-run-as-a-job-before-the-rollout": "migrations as a Job",
    "probes-split-liveness-never-touches-the-database": "probes split",
    "the-model-artifact-a-joblib-pipeline-plus-a-metadata-json-verified-before-unpickling": (
        "model artifact format"
    ),
}


def text() -> str:
    return ARCHITECTURE.read_text(encoding="utf-8")


def test_one_mermaid_diagram_with_balanced_subgraphs() -> None:
    diagrams = fenced_blocks(text(), "mermaid")
    assert len(diagrams) == 1
    lines = [line.strip() for line in diagrams[0].splitlines()]
    assert lines[0].startswith("flowchart")
    # An unclosed subgraph is the easiest way to break the rendering on GitHub.
    assert sum(line.startswith("subgraph ") for line in lines) == lines.count("end")


def test_the_diagram_shows_every_part() -> None:
    diagram = fenced_blocks(text(), "mermaid")[0]
    for part in (
        "Service itemsense-api",
        "alembic upgrade head",
        "sha256",
        "Prometheus",
        "ECR",
        "PostgreSQL",
        "deploy.yml",
        "monitoring/rules",
    ):
        assert part in diagram, part


def test_the_design_decisions_have_sections() -> None:
    missing = {what for anchor, what in DECISIONS.items() if anchor not in anchors(text())}
    assert not missing, missing


def test_the_numbers_match_the_manifests_and_settings() -> None:
    hpa = yaml.safe_load((PROJECT_ROOT / "k8s" / "base" / "hpa.yaml").read_text(encoding="utf-8"))[
        "spec"
    ]
    config = yaml.safe_load(
        (PROJECT_ROOT / "k8s" / "base" / "configmap.yaml").read_text(encoding="utf-8")
    )["data"]
    defaults = Settings.model_fields
    body = text()
    assert f"HPA {hpa['minReplicas']} to {hpa['maxReplicas']} replicas" in body
    pool, overflow = config["DB_POOL_SIZE"], config["DB_MAX_OVERFLOW"]
    assert f"{pool} + {overflow} overflow" in body
    assert f"sync def, {config['THREADPOOL_SIZE']} worker threads" in body
    # The prose quotes the settings' defaults.
    assert f"`THREADPOOL_SIZE` ({defaults['threadpool_size'].default})" in body
    assert "equal to `DB_POOL_SIZE`" in body
    assert defaults["threadpool_size"].default == defaults["db_pool_size"].default
