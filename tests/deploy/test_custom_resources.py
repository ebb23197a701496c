"""The ServiceMonitor and PrometheusRule: valid against the pinned operator's CRD schemas, and
the PrometheusRule carries exactly the groups of monitoring/rules/ (one source)."""

from __future__ import annotations

import copy
import sys
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.support import CRDS_DIR, MONITORING_DIR, PROJECT_ROOT, RULES_DIR, load_yaml

Objects = list[dict[str, Any]]
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule"}

sys.path.insert(0, str(PROJECT_ROOT / "infra"))
from itemsense_infra.addons import PROMETHEUS_STACK_CHART  # noqa: E402


def strict(schema: Any) -> Any:
    """The CRD's structural schema with unknown fields refused, as `kubectl --validate=strict`
    does: every object with `properties` and no preserve-unknown-fields gets
    `additionalProperties: false`."""
    if isinstance(schema, dict):
        result = {key: strict(value) for key, value in schema.items()}
        if isinstance(schema.get("pattern"), str) and "(?i)" in schema["pattern"]:
            # Go's regexp takes inline flags anywhere; Python's only at the start.
            result["pattern"] = "(?i)" + schema["pattern"].replace("(?i)", "")
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            result["additionalProperties"] = False
        return result
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def crd_schemas() -> dict[tuple[str, str], Any]:
    """(apiVersion, kind) -> strict schema, from the vendored CRDs."""
    schemas = {}
    for path in sorted(CRDS_DIR.glob("*.yaml")):
        crd = load_yaml(path)
        for version in crd["spec"]["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            # metadata is validated by the API server itself, not by the CRD schema.
            schema["properties"]["metadata"] = {"type": "object"}
            key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
            schemas[key] = schema
    return schemas


SCHEMAS = crd_schemas()


def validate(obj: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError when `obj` does not fit its CRD."""
    jsonschema.Draft7Validator(SCHEMAS[(obj["apiVersion"], obj["kind"])]).validate(obj)


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_custom_resources_match_the_pinned_crds(
    rendered_overlays: dict[str, Objects], environment: str
) -> None:
    custom = [o for o in rendered_overlays[environment] if o["kind"] in CUSTOM_KINDS]
    assert {o["kind"] for o in custom} == CUSTOM_KINDS
    for obj in custom:
        validate(obj)


def test_strict_validation_rejects_a_misspelt_field(rendered_app: Objects) -> None:
    # Control: the classic silent mistake (an unknown field the operator would drop).
    [monitor] = [o for o in rendered_app if o["kind"] == "ServiceMonitor"]
    broken = copy.deepcopy(monitor)
    broken["spec"]["endpoints"][0]["intervall"] = "15s"
    with pytest.raises(jsonschema.ValidationError, match="intervall"):
        validate(broken)


def test_crds_are_those_of_the_operator_the_chart_installs() -> None:
    readme = (CRDS_DIR / "README.md").read_text(encoding="utf-8")
    assert f"kube-prometheus-stack chart {PROMETHEUS_STACK_CHART.version}" in readme
    versions = {
        load_yaml(path)["metadata"]["annotations"]["operator.prometheus.io/version"]
        for path in CRDS_DIR.glob("*.yaml")
    }
    assert len(versions) == 1
    assert f"v{versions.pop()}" in readme


def rule_file_groups() -> list[dict[str, Any]]:
    """The groups of monitoring/rules/*.yml, in file order."""
    groups: list[dict[str, Any]] = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        groups.extend(load_yaml(path)["groups"])
    return groups


def test_prometheus_rule_groups_are_exactly_the_rule_files(rendered_app: Objects) -> None:
    [rule] = [o for o in rendered_app if o["kind"] == "PrometheusRule"]
    assert rule["spec"]["groups"] == rule_file_groups(), (
        "monitoring/prometheusrule.yaml differs from monitoring/rules/: run `make prometheusrule`"
    )


def test_committed_prometheus_rule_is_what_the_generator_writes() -> None:
    from scripts.render_prometheusrule import render

    committed = (MONITORING_DIR / "prometheusrule.yaml").read_text(encoding="utf-8")
    assert committed == render(), "run `make prometheusrule`"
    assert yaml.safe_load(committed)["spec"]["groups"] == rule_file_groups()
