"""Write monitoring/prometheusrule.yaml: the alert rules of monitoring/rules/ as a PrometheusRule.

The rule files stay the one source (promtool tests them, the local Prometheus loads them);
this object carries the same groups into the cluster's Prometheus Operator, and a test fails
when the two differ. Run it through `make prometheusrule` after changing a rule file.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml

from app import PROJECT_ROOT

RULES_DIR = PROJECT_ROOT / "monitoring" / "rules"
TARGET = PROJECT_ROOT / "monitoring" / "prometheusrule.yaml"
HEADER = (
    "# GENERATED from monitoring/rules/*.yml by `make prometheusrule`; do not edit by hand\n"
    "# (tests/deploy fails when it differs from the rule files).\n"
)


class _Dumper(yaml.SafeDumper):
    """Indented lists and multi-line strings (PromQL) as literal blocks, as yamllint wants."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def rule_groups() -> list[dict[str, Any]]:
    """Every group of every rule file, in file order."""
    groups: list[dict[str, Any]] = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        groups.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["groups"])
    return groups


def render() -> str:
    """The PrometheusRule manifest for the current rule files."""
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "itemsense-api",
            "labels": {"app.kubernetes.io/name": "itemsense", "app.kubernetes.io/component": "api"},
        },
        "spec": {"groups": rule_groups()},
    }
    return HEADER + yaml.dump(rule, Dumper=_Dumper, sort_keys=False, width=100)


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {TARGET.relative_to(PROJECT_ROOT)}\n")
