"""monitoring/: Prometheus config, alert rules and their unit tests, Grafana provisioning and
dashboards, all checked by promtool and against the metrics the running service exposes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import (
    DASHBOARDS_DIR,
    GRAFANA_DIR,
    MONITORING_DIR,
    RULE_TESTS_DIR,
    RULES_DIR,
    RUNBOOK_BASE,
    SCRAPE_JOB,
    grafana_to_promql,
    grouping_labels,
    load_yaml,
    metric_names,
    require_tool,
    run,
    selector_labels,
)

PROMTOOL_HINT = "apt-get install -y --no-install-recommends prometheus (ships promtool)"
REQUIRED_ALERTS = {
    "ItemsenseDown",  # service down
    "ItemsenseHigh5xxRatio",  # high 5xx ratio
    "ItemsenseHighLatencyP95",  # p95 latency over budget
    "ItemsenseNotReady",  # readiness failing
    "ItemsenseModelNotLoaded",  # model not loaded
    "ItemsensePredictionErrors",  # prediction error rate
    "ItemsenseDatabaseErrors",  # database errors
}
# Series Prometheus itself creates for every target (never in the app's /metrics).
SCRAPE_SERIES = {"up"}
# Labels Prometheus attaches at scrape time.
TARGET_LABELS = {"job", "instance"}
RULE_FILES = sorted(RULES_DIR.glob("*.yml"))
RULE_TEST_FILES = sorted(RULE_TESTS_DIR.glob("*.yml"))
DASHBOARD_FILES = sorted(DASHBOARDS_DIR.glob("*.json"))


def promtool() -> str:
    """Path of promtool (from Debian's prometheus package)."""
    return require_tool("promtool", PROMTOOL_HINT)


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule of every rule file."""
    return [
        rule
        for path in RULE_FILES
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def dashboards() -> list[dict[str, Any]]:
    """Every provisioned dashboard, parsed."""
    return [json.loads(path.read_text(encoding="utf-8")) for path in DASHBOARD_FILES]


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """All panels, including those nested in rows."""
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def panel_exprs() -> list[tuple[str, str]]:
    """(panel title, PromQL with Grafana variables substituted) for every dashboard target."""
    return [
        (panel["title"], grafana_to_promql(target["expr"]))
        for dashboard in dashboards()
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


# --- Prometheus ---------------------------------------------------------------------------


def test_promtool_check_config() -> None:
    result = run([promtool(), "check", "config", str(MONITORING_DIR / "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    # The rule glob must really pick up the rule files (a wrong path matches nothing).
    assert f"{len(RULE_FILES)} rule files found" in result.stdout


def test_promtool_check_rules() -> None:
    assert RULE_FILES
    result = run([promtool(), "check", "rules", *map(str, RULE_FILES)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests_pass() -> None:
    assert RULE_TEST_FILES
    result = run([promtool(), "test", "rules", *map(str, RULE_TEST_FILES)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rule_unit_tests_catch_a_changed_threshold(tmp_path: Path) -> None:
    # Control: the unit tests compare real values; loosening a threshold must break them.
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    for path in RULE_FILES:
        text = path.read_text(encoding="utf-8").replace("> 0.05\n", "> 0.5\n")
        (tmp_path / "rules" / path.name).write_text(text, encoding="utf-8")
    for path in RULE_TEST_FILES:
        (tmp_path / "tests" / path.name).write_text(path.read_text(encoding="utf-8"))
    result = run([promtool(), "test", "rules", *map(str, (tmp_path / "tests").glob("*.yml"))])
    assert result.returncode != 0
    assert "ItemsenseHigh5xxRatio" in result.stdout + result.stderr


def test_required_alerts_exist_with_severity_and_runbook() -> None:
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), "duplicate alert names"
    assert set(names) >= REQUIRED_ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"], rule["alert"]
        assert annotations["description"], rule["alert"]
        assert annotations["runbook_url"] == RUNBOOK_BASE + rule["alert"].lower()
        assert "for" in rule, f"{rule['alert']} would fire on a single bad scrape"


def test_every_alert_selects_the_scrape_job() -> None:
    for rule in alert_rules():
        selectors = selector_labels(rule["expr"])
        assert selectors, rule["alert"]
        for metric, labels in selectors.items():
            assert "job" in labels, f'{rule["alert"]}: {metric} without job="{SCRAPE_JOB}"'
        assert f'job="{SCRAPE_JOB}"' in rule["expr"]


def test_every_alert_has_firing_and_silent_unit_tests() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for path in RULE_TEST_FILES:
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - firing == set(), "alerts never shown to fire"
    assert names - silent == set(), "alerts never shown to stay silent"


# --- Grafana ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def datasource_uids() -> set[str]:
    """uids of the provisioned datasources."""
    uids = set()
    for path in sorted((GRAFANA_DIR / "provisioning" / "datasources").glob("*.yml")):
        for source in load_yaml(path)["datasources"]:
            assert source["uid"], f"{path.name}: datasource without a fixed uid"
            uids.add(source["uid"])
    return uids


def test_dashboards_are_valid_json_with_unique_uids() -> None:
    assert DASHBOARD_FILES
    uids = [dashboard["uid"] for dashboard in dashboards()]
    assert all(uids)
    assert len(uids) == len(set(uids))
    for dashboard in dashboards():
        ids = [panel["id"] for panel in panels(dashboard)]
        assert len(ids) == len(set(ids)), dashboard["uid"]


def test_dashboard_provider_loads_the_dashboards_folder() -> None:
    provider = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "itemsense.yml")
    [entry] = provider["providers"]
    assert entry["type"] == "file"
    assert entry["options"]["path"] == "/etc/grafana/dashboards"


def test_every_panel_reads_the_datasource_variable(datasource_uids: set[str]) -> None:
    # A template variable, not a fixed uid: the dashboard imports into any Grafana (the
    # cluster's kube-prometheus-stack, or an existing one) and picks its Prometheus there.
    assert datasource_uids  # the local stack provisions one, which the variable defaults to
    for dashboard in dashboards():
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        for panel in panels(dashboard):
            if panel["type"] == "row":
                continue
            assert panel["targets"], panel["title"]
            expected = {"type": "prometheus", "uid": "${datasource}"}
            assert panel["datasource"] == expected, panel["title"]
            for target in panel["targets"]:
                assert target["datasource"] == expected, panel["title"]


def test_the_cluster_gets_the_dashboard_from_the_same_file(rendered_app: list[Any]) -> None:
    [config_map] = [
        o
        for o in rendered_app
        if o["kind"] == "ConfigMap" and o["metadata"].get("labels", {}).get("grafana_dashboard")
    ]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert {name: json.loads(text) for name, text in config_map["data"].items()} == {
        path.name: json.loads(path.read_text(encoding="utf-8")) for path in DASHBOARD_FILES
    }


def test_dashboard_shows_what_operators_need() -> None:
    exprs = " ".join(expr for _, expr in panel_exprs())
    for needle in (
        "rate(starlette_requests_total",  # request rate
        'status_code=~"5.."',  # error ratio
        "histogram_quantile(0.5, sum by (le, path) (rate(starlette_request_duration_seconds",
        "histogram_quantile(0.95, sum by (le, path) (rate(starlette_request_duration_seconds",
        "histogram_quantile(0.99, sum by (le, path) (rate(starlette_request_duration_seconds",
        "sum by (label) (rate(itemsense_predictions_total",  # predictions by label
        "itemsense_model_inference_seconds_bucket",  # model latency
        "itemsense_ready",  # readiness
        f'count(up{{job="{SCRAPE_JOB}"}})',  # pod count
    ):
        assert needle in exprs, needle


def _check_as_recording_rules(exprs: list[str], folder: Path) -> Any:
    rules = [{"record": f"dashboard:expr_{i}", "expr": expr} for i, expr in enumerate(exprs)]
    path = folder / "dashboard-exprs.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    return run([promtool(), "check", "rules", str(path)])


def test_every_panel_expression_passes_promtool(tmp_path: Path) -> None:
    exprs = [expr for _, expr in panel_exprs()]
    result = _check_as_recording_rules(exprs, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


def test_promtool_rejects_a_broken_panel_expression(tmp_path: Path) -> None:
    # Control for the test above: a typo in PromQL must be caught.
    result = _check_as_recording_rules(["sum by (path (rate(x[5m]))"], tmp_path)
    assert result.returncode != 0


# --- cross-check with the running service -------------------------------------------------


def all_exprs() -> list[tuple[str, str]]:
    """(where, expr) for every alert rule and dashboard target."""
    return [(rule["alert"], rule["expr"]) for rule in alert_rules()] + panel_exprs()


def test_metric_name_extraction_understands_promql() -> None:
    # The cross-check below is only as good as this parser.
    expr = (
        'histogram_quantile(0.95, sum by (le, path) (rate(a_bucket{job="x", path=~"/i.*"}[5m])))'
        ' > 0.5 or absent(up{job="x"}) and on(instance) b_total offset 5m'
    )
    assert metric_names(expr) == {"a_bucket", "up", "b_total"}
    assert selector_labels(expr) == {"a_bucket": {"job", "path"}, "up": {"job"}}
    assert grouping_labels(expr) == {"le", "path", "instance"}


def test_every_metric_used_is_exposed_by_the_service(
    live_metrics: dict[str, set[str]],
) -> None:
    exposed = set(live_metrics) | SCRAPE_SERIES
    for where, expr in all_exprs():
        missing = metric_names(expr) - exposed
        assert not missing, f"{where}: {sorted(missing)} not in the service's /metrics"


def test_every_label_used_is_exposed_by_the_service(
    live_metrics: dict[str, set[str]],
) -> None:
    for where, expr in all_exprs():
        for metric, labels in selector_labels(expr).items():
            known = live_metrics.get(metric, set()) | TARGET_LABELS
            assert labels <= known, f"{where}: {metric} has no label {labels - known}"
        available = TARGET_LABELS.union(
            *(live_metrics.get(metric, set()) for metric in metric_names(expr))
        )
        grouped = grouping_labels(expr)
        assert grouped <= available, f"{where}: no label {grouped - available}"


def test_app_name_and_paths_match_the_exporter_labels(
    live_metrics: dict[str, set[str]],
) -> None:
    # The HTTP metrics carry grouped route templates, not raw ids.
    assert {"method", "path", "status_code", "app_name"} <= live_metrics["starlette_requests_total"]
