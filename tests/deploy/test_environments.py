"""The two environments: each overlay agrees with its infra stack, and they differ on purpose.

Staging and production render from the same base; replicas, resources, hostnames and HPA
bounds differ. Each overlay is checked against infra/Pulumi.<environment>.yaml: the load
balancer subnets it admits, the hostname and TLS, and the database connection budget.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
import yaml

from tests.deploy.support import OVERLAYS, PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "infra"))
from itemsense_infra.addons import PROMETHEUS_NAME
from itemsense_infra.network import plan_subnets

Objects = list[dict[str, Any]]
ENVIRONMENTS = sorted(OVERLAYS)
# PostgreSQL keeps this many connections for superusers (superuser_reserved_connections).
RESERVED = 3


def stack(environment: str) -> dict[str, Any]:
    """infra/Pulumi.<environment>.yaml's settings, keys without the `itemsense:` prefix."""
    text = (PROJECT_ROOT / "infra" / f"Pulumi.{environment}.yaml").read_text(encoding="utf-8")
    config = yaml.safe_load(text)["config"]
    return {key.removeprefix("itemsense:"): value for key, value in config.items()}


def one(objects: Objects, kind: str, name: str = "itemsense-api") -> dict[str, Any]:
    """The single object of this kind and name."""
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_overlay_renders_the_whole_application(
    rendered_overlays: dict[str, Objects], environment: str
) -> None:
    kinds = {o["kind"] for o in rendered_overlays[environment]}
    assert {
        "Deployment",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ServiceMonitor",
        "PrometheusRule",
        "ConfigMap",
    } <= kinds
    for obj in rendered_overlays[environment]:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/environment"] == environment, obj["metadata"]["name"]


def test_environments_differ_in_size_and_hostname(rendered_overlays: dict[str, Objects]) -> None:
    staging, production = rendered_overlays["staging"], rendered_overlays["production"]
    for kind, field in (
        ("HorizontalPodAutoscaler", lambda o: (o["spec"]["minReplicas"], o["spec"]["maxReplicas"])),
        ("Deployment", lambda o: o["spec"]["template"]["spec"]["containers"][0]["resources"]),
        ("Ingress", lambda o: [rule.get("host") for rule in o["spec"]["rules"]]),
    ):
        assert field(one(staging, kind)) != field(one(production, kind)), kind


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_deployment_starts_at_the_hpa_minimum(
    rendered_overlays: dict[str, Objects], environment: str
) -> None:
    objects = rendered_overlays[environment]
    hpa = one(objects, "HorizontalPodAutoscaler")["spec"]
    assert one(objects, "Deployment")["spec"]["replicas"] == hpa["minReplicas"]
    assert hpa["maxReplicas"] > hpa["minReplicas"] >= 2


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_connection_budget_fits_the_environments_database(
    rendered_overlays: dict[str, Objects], environment: str
) -> None:
    # Worst case: every replica the HPA may run plus the rollout's surge pod, each holding
    # its whole pool and overflow, plus the migration Job.
    objects = rendered_overlays[environment]
    hpa = one(objects, "HorizontalPodAutoscaler")["spec"]
    surge = one(objects, "Deployment")["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    config = one(objects, "ConfigMap", "itemsense-config")["data"]
    workers = 1  # one uvicorn process per pod (the image's CMD has no --workers)
    per_process = int(config["DB_POOL_SIZE"]) + int(config["DB_MAX_OVERFLOW"])
    budget = (hpa["maxReplicas"] + surge) * workers * per_process + 1
    max_connections = stack(environment)["databaseMaxConnections"]
    assert budget < max_connections - RESERVED, (environment, budget, max_connections)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_load_balancer_subnets_admitted_are_the_stacks_public_subnets(
    rendered_overlays: dict[str, Objects], environment: str
) -> None:
    settings = stack(environment)
    public = set(plan_subnets(settings["vpcCidr"], settings["azCount"]).public)
    policy = one(rendered_overlays[environment], "NetworkPolicy")["spec"]
    blocks = {
        peer["ipBlock"]["cidr"]
        for rule in policy["ingress"]
        for peer in rule["from"]
        if "ipBlock" in peer
    }
    assert blocks == public
    # Everything else that may reach the pods is the Prometheus infra/ installs.
    others = [peer for rule in policy["ingress"] for peer in rule["from"] if "ipBlock" not in peer]
    assert others == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"operator.prometheus.io/name": PROMETHEUS_NAME}},
        }
    ]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_https_exactly_when_the_stack_has_a_domain(
    rendered_overlays: dict[str, Objects], environment: str
) -> None:
    domain = stack(environment)["apiDomain"]
    ingress = one(rendered_overlays[environment], "Ingress")
    annotations = ingress["metadata"]["annotations"]
    ports = json.loads(annotations["alb.ingress.kubernetes.io/listen-ports"])
    hosts = [rule.get("host") for rule in ingress["spec"]["rules"]]
    if domain:
        assert hosts == [domain]
        assert ingress["spec"]["tls"] == [{"hosts": [domain]}]
        assert ports == [{"HTTP": 80}, {"HTTPS": 443}]
        assert annotations["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
        assert annotations["alb.ingress.kubernetes.io/ssl-policy"].startswith(
            "ELBSecurityPolicy-TLS13"
        )
    else:
        # Plain HTTP on the ALB's own name; the stack's apiWarning output says so.
        assert hosts == [None]
        assert "tls" not in ingress["spec"]
        assert ports == [{"HTTP": 80}]
