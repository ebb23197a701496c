"""Cluster add-ons: pinned Helm releases, their values, and the IAM roles they assume (IRSA)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from infra_harness import INFRA_DIR, OIDC_ISSUER, Registered, Synth
from itemsense_infra.addons import LOAD_BALANCER_CONTROLLER_POLICY, PROMETHEUS_NAME

RELEASE = "kubernetes:helm.sh/v3:Release"
PINNED = {
    # release: (chart, version, repository, namespace)
    "aws-load-balancer-controller": (
        "aws-load-balancer-controller",
        "3.4.3",
        "https://aws.github.io/eks-charts",
        "kube-system",
    ),
    "metrics-server": (
        "metrics-server",
        "3.13.1",
        "https://kubernetes-sigs.github.io/metrics-server/",
        "kube-system",
    ),
    "cluster-autoscaler": (
        "cluster-autoscaler",
        "9.53.0",
        "https://kubernetes.github.io/autoscaler",
        "kube-system",
    ),
    "kube-prometheus-stack": (
        "kube-prometheus-stack",
        "88.5.3",
        "https://prometheus-community.github.io/helm-charts",
        "monitoring",
    ),
}


def releases(stack: Synth) -> dict[str, dict[str, Any]]:
    """Helm releases by their (fixed) release name."""
    return {r.inputs["name"]: r.inputs for r in stack.of_type(RELEASE)}


def role(stack: Synth, suffix: str) -> Registered:
    """The IAM role whose resource name ends with `suffix`."""
    [found] = [r for r in stack.of_type("aws:iam/role:Role") if r.name.endswith(suffix)]
    return found


def inline_policy(stack: Synth, of_role: Registered) -> dict[str, Any]:
    """The inline policy attached to a role."""
    [policy] = [
        p for p in stack.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == of_role.id
    ]
    document: dict[str, Any] = json.loads(policy.inputs["policy"])
    return document


def test_every_release_is_pinned_to_an_exact_chart_version(default_stack: Synth) -> None:
    found = releases(default_stack)
    assert set(found) == set(PINNED)
    for name, (chart, version, repository, namespace) in PINNED.items():
        release = found[name]
        assert release["chart"] == chart, name
        assert release["version"] == version, name
        assert re.fullmatch(r"\d+\.\d+\.\d+", release["version"]), name
        assert release["repositoryOpts"] == {"repo": repository}, name
        assert release["namespace"] == namespace, name
        assert release["atomic"] is True, name


@pytest.mark.parametrize(
    ("suffix", "namespace", "service_account"),
    [
        ("-load-balancer-controller", "kube-system", "aws-load-balancer-controller"),
        ("-cluster-autoscaler", "kube-system", "cluster-autoscaler"),
    ],
)
def test_irsa_roles_trust_exactly_one_service_account_of_this_cluster(
    default_stack: Synth, suffix: str, namespace: str, service_account: str
) -> None:
    trust = json.loads(role(default_stack, suffix).inputs["assumeRolePolicy"])
    [statement] = trust["Statement"]
    cluster = default_stack.one("eks:index:Cluster")
    assert statement["Principal"] == {"Federated": cluster.state["oidcProviderArn"]}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{OIDC_ISSUER}:sub": f"system:serviceaccount:{namespace}:{service_account}",
            f"{OIDC_ISSUER}:aud": "sts.amazonaws.com",
        }
    }


def test_the_load_balancer_controller_runs_as_its_role_for_this_cluster(
    default_stack: Synth, default_cfg: Any
) -> None:
    values = releases(default_stack)["aws-load-balancer-controller"]["values"]
    lbc_role = role(default_stack, "-load-balancer-controller")
    assert values["serviceAccount"] == {
        "name": "aws-load-balancer-controller",
        "annotations": {"eks.amazonaws.com/role-arn": lbc_role.state["arn"]},
    }
    assert values["clusterName"] == "itemsense"
    assert values["region"] == default_cfg.region
    assert values["vpcId"] == default_stack.one("aws:ec2/vpc:Vpc").id
    assert values["replicaCount"] >= 2
    # The upstream policy, unmodified, for the pinned controller version.
    upstream = json.loads(LOAD_BALANCER_CONTROLLER_POLICY.read_text())
    assert inline_policy(default_stack, lbc_role) == upstream
    actions = {
        action
        for statement in upstream["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }
    assert "elasticloadbalancing:CreateLoadBalancer" in actions
    assert "acm:ListCertificates" in actions  # certificate discovery by hostname


def test_vendored_policy_is_the_pinned_controller_version() -> None:
    readme = (INFRA_DIR / "itemsense_infra" / "policies" / "README.md").read_text()
    assert f"v{PINNED['aws-load-balancer-controller'][1]}" in readme


def test_cluster_autoscaler_changes_only_this_clusters_node_groups(default_stack: Synth) -> None:
    values = releases(default_stack)["cluster-autoscaler"]["values"]
    autoscaler_role = role(default_stack, "-cluster-autoscaler")
    assert values["cloudProvider"] == "aws"
    assert values["autoDiscovery"] == {"clusterName": "itemsense"}
    assert values["rbac"]["serviceAccount"] == {
        "name": "cluster-autoscaler",
        "annotations": {"eks.amazonaws.com/role-arn": autoscaler_role.state["arn"]},
    }
    statements = {s["Sid"]: s for s in inline_policy(default_stack, autoscaler_role)["Statement"]}
    change = statements["ScaleThisClustersNodeGroups"]
    assert set(change["Action"]) == {
        "autoscaling:SetDesiredCapacity",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
    }
    # Managed node groups tag their Auto Scaling groups with this; other clusters' are out.
    assert change["Condition"] == {
        "StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/itemsense": "owned"}
    }
    assert not [a for a in statements["Discover"]["Action"] if not re.search(r":(Describe|Get)", a)]


def test_node_group_has_room_for_the_autoscaler_to_act(default_stack: Synth) -> None:
    scaling = default_stack.one("eks:index:ManagedNodeGroup").inputs["scalingConfig"]
    assert scaling["maxSize"] > scaling["minSize"]


def test_metrics_server_is_highly_available(default_stack: Synth) -> None:
    values = releases(default_stack)["metrics-server"]["values"]
    assert values["replicas"] >= 2
    assert values["podDisruptionBudget"]["enabled"] is True


def test_prometheus_stack_picks_up_the_services_own_monitoring_objects(
    default_stack: Synth,
) -> None:
    values = releases(default_stack)["kube-prometheus-stack"]["values"]
    spec = values["prometheus"]["prometheusSpec"]
    # Otherwise only objects labelled for the Helm release are selected: k8s/'s would not be.
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False
    assert spec["ruleSelectorNilUsesHelmValues"] is False
    sidecar = values["grafana"]["sidecar"]["dashboards"]
    assert sidecar == {"enabled": True, "searchNamespace": "ALL"}
    assert "adminPassword" not in values["grafana"]  # generated into a Secret, not in code
    # Control-plane targets EKS does not expose would only raise false alerts.
    for component in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"):
        assert values[component] == {"enabled": False}, component
    assert PROMETHEUS_NAME == "kube-prometheus-stack-prometheus"


def test_monitoring_namespace_exists_with_pod_security(default_stack: Synth) -> None:
    [namespace] = [
        n.inputs["metadata"]
        for n in default_stack.of_type("kubernetes:core/v1:Namespace")
        if n.inputs["metadata"]["name"] == "monitoring"
    ]
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
