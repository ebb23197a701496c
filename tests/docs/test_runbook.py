"""The operations runbook matches the alert rules, the manifests and PromQL's grammar."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.main import create_app
from tests.docs.support import (
    OPERATIONS,
    PROJECT_ROOT,
    anchors,
    fenced_blocks,
    github_anchor,
    headings,
    prose_lines,
    require_tool,
)
from tests.support import make_settings, migrate

RULE_FILES = sorted((PROJECT_ROOT / "monitoring" / "rules").glob("*.yml"))
# The procedures an operator needs, by the anchor other documents link to.
REQUIRED_SECTIONS = {
    "scaling",
    "rolling-back-a-deploy",
    "rolling-out-a-new-model-version",
    "rotating-api-keys",
    "rotating-database-credentials",
    "backup-and-restore-of-postgresql",
    "logs",
    "metrics",
}


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule (recording rules have no `alert`) in monitoring/rules."""
    rules: list[dict[str, Any]] = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            rules.extend(rule for rule in group["rules"] if "alert" in rule)
    return rules


ALERTS = alert_rules()


def operations_text() -> str:
    return OPERATIONS.read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The prose under one heading, up to the next heading of any level."""
    lines = list(prose_lines(text))
    start = next(
        i for i, line in enumerate(lines) if re.fullmatch(rf"#+\s+{re.escape(heading)}\s*", line)
    )
    end = next(
        (i for i in range(start + 1, len(lines)) if re.match(r"#{1,6}\s", lines[i])), len(lines)
    )
    return "\n".join(lines[start + 1 : end])


def test_there_are_alerts_to_document() -> None:
    assert len(ALERTS) >= 5, RULE_FILES


@pytest.mark.parametrize("rule", ALERTS, ids=[rule["alert"] for rule in ALERTS])
def test_alert_runbook_url_points_at_its_section(rule: dict[str, Any]) -> None:
    url = rule["annotations"]["runbook_url"]
    parts = urlsplit(url)
    assert parts.scheme == "https", url
    assert parts.path.endswith("/docs/operations.md"), url
    assert parts.fragment == rule["alert"].lower(), url
    assert parts.fragment in anchors(operations_text()), f"no section for {rule['alert']}"


@pytest.mark.parametrize("rule", ALERTS, ids=[rule["alert"] for rule in ALERTS])
def test_alert_section_says_what_it_means_how_to_confirm_and_fix(rule: dict[str, Any]) -> None:
    body = section(operations_text(), rule["alert"])
    for part in ("**Meaning.**", "**Confirm.**", "**Fix.**"):
        assert part in body, f"{rule['alert']}: missing {part}"


def test_every_alert_section_has_a_rule() -> None:
    # A renamed or deleted alert must not leave a stale runbook section behind.
    alert_names = {rule["alert"] for rule in ALERTS}
    documented = {h for h in headings(operations_text()) if re.fullmatch(r"Itemsense\w+", h)}
    assert documented == alert_names


def test_operations_has_the_required_procedures() -> None:
    missing = REQUIRED_SECTIONS - anchors(operations_text())
    assert not missing, missing


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("ItemsenseDown", "itemsensedown"),
        ("Rolling back a deploy", "rolling-back-a-deploy"),
        ("Backup and restore of PostgreSQL", "backup-and-restore-of-postgresql"),
        (
            "Probes split: liveness never touches the database",
            "probes-split-liveness-never-touches-the-database",
        ),
        (
            "Synchronous endpoints, `async` where it is cheap",
            "synchronous-endpoints-async-where-it-is-cheap",
        ),
        ("One process per pod; scale with replicas", "one-process-per-pod-scale-with-replicas"),
        ("ETag and If-Match (412)", "etag-and-if-match-412"),
        ("[Link](x.md) text", "link-text"),
    ],
)
def test_github_anchor_rules(heading: str, anchor: str) -> None:
    assert github_anchor(heading) == anchor


def test_anchors_skip_code_blocks_and_number_repeats() -> None:
    text = "# Title\n```sh\n# not a heading\n```\n## Title\n### Other\n"
    assert anchors(text) == {"title", "title-1", "other"}


def test_connection_budget_in_the_scaling_section_matches_the_manifests() -> None:
    # The documented worst case: (maxReplicas + maxSurge) pods x (pool + overflow), plus the
    # migration Job. Raising any of these without redoing the arithmetic fails here.
    hpa = yaml.safe_load((PROJECT_ROOT / "k8s" / "base" / "hpa.yaml").read_text(encoding="utf-8"))
    deployment = yaml.safe_load(
        (PROJECT_ROOT / "k8s" / "base" / "deployment.yaml").read_text(encoding="utf-8")
    )
    config = yaml.safe_load(
        (PROJECT_ROOT / "k8s" / "base" / "configmap.yaml").read_text(encoding="utf-8")
    )["data"]
    max_replicas = hpa["spec"]["maxReplicas"]
    surge = deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    pool, overflow = int(config["DB_POOL_SIZE"]), int(config["DB_MAX_OVERFLOW"])
    total = (max_replicas + surge) * (pool + overflow) + 1
    expected = f"({max_replicas} + {surge}) x 1 x ({pool} + {overflow}) + 1 = {total}"
    assert expected in section(operations_text(), "Scaling")
    # PostgreSQL's default max_connections (100) minus its 3 reserved superuser slots.
    assert total < 97
    # Threads never outnumber connections, so a thread never waits for one.
    assert int(config["THREADPOOL_SIZE"]) <= pool


def promql_expressions(block: str) -> list[str]:
    """Split a promql block into expressions: an unindented line that does not start with
    `)` begins a new one; indented lines and `)` lines continue the previous one."""
    expressions: list[str] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        if expressions and (line[0].isspace() or line.startswith(")")):
            expressions[-1] += "\n" + line
        else:
            expressions.append(line)
    return expressions


def check_promql(expressions: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`promtool check rules` on a file with each expression as a recording rule."""
    rules = [{"record": f"docs:query_{n}", "expr": expr} for n, expr in enumerate(expressions)]
    path = tmp_path / "docs.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "docs", "rules": rules}]}))
    return subprocess.run(
        [require_tool("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_runbook_promql_parses(tmp_path: Path) -> None:
    expressions = [
        expr
        for block in fenced_blocks(operations_text(), "promql")
        for expr in promql_expressions(block)
    ]
    assert len(expressions) >= 20
    result = check_promql(expressions, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promql_check_rejects_a_broken_query(tmp_path: Path) -> None:
    # Control: the checker really parses (an unclosed parenthesis must fail).
    result = check_promql(['sum(rate(up{job="x"}[5m])'], tmp_path)
    assert result.returncode != 0


def test_promql_splitting_keeps_multi_line_expressions_together() -> None:
    block = "up  # one\nsum by (path) (\n  rate(x[5m])\n)\na\n  / b\n"
    assert promql_expressions(block) == [
        "up  # one",
        "sum by (path) (\n  rate(x[5m])\n)",
        "a\n  / b",
    ]


@pytest.fixture(scope="module")
def exposed_series(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Metric family and sample names on /metrics after one request of each kind."""
    url = f"sqlite:///{tmp_path_factory.mktemp('metrics') / 'items.db'}"
    migrate(url)
    with TestClient(create_app(make_settings(url, model_path))) as client:
        assert client.post("/items", json={"name": "lamp", "price": "1.00"}).status_code == 201
        assert client.get("/items").status_code == 200
        assert client.post("/predict", json={"text": "great"}).status_code == 200
        text = client.get("/metrics").text
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


def test_every_metric_the_runbook_names_is_exposed(exposed_series: set[str]) -> None:
    # Names in the PromQL blocks and in the first column of the metrics table. `up` is
    # Prometheus' own; everything else must come from the service's /metrics.
    text = operations_text()
    metric = r"(?:itemsense|starlette|process)_[a-z_]*[a-z]"
    named = {
        name
        for block in fenced_blocks(text, "promql")
        for name in re.findall(rf"\b{metric}\b", block)
    }
    named |= set(re.findall(rf"^\| `({metric})` \|", section(text, "Metrics"), re.MULTILINE))
    assert len(named) >= 12
    missing = named - exposed_series
    assert not missing, f"the runbook names metrics the service does not expose: {missing}"
