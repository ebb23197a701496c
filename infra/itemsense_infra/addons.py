"""Cluster add-ons the service depends on, as pinned Helm releases (why each: architecture.md).

* AWS Load Balancer Controller: turns the Ingress into an internet-facing ALB (IRSA role).
* metrics-server: the resource metrics API the HPA reads.
* Cluster Autoscaler: grows and shrinks the managed node group within its min/max (IRSA role).
* kube-prometheus-stack: Prometheus, Alertmanager and Grafana in `monitoring`; it picks up
  every ServiceMonitor, PrometheusRule and dashboard ConfigMap, the service's included.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from itemsense_infra.irsa import irsa_role

MONITORING_NAMESPACE = "monitoring"
SYSTEM_NAMESPACE = "kube-system"


@dataclass(frozen=True)
class Chart:
    """One pinned Helm chart and where it is installed."""

    release: str
    chart: str
    version: str
    repository: str
    namespace: str


LOAD_BALANCER_CONTROLLER_CHART = Chart(
    release="aws-load-balancer-controller",
    chart="aws-load-balancer-controller",
    version="3.4.3",  # controller v3.4.3; the IAM policy in policies/ is that version's
    repository="https://aws.github.io/eks-charts",
    namespace=SYSTEM_NAMESPACE,
)
METRICS_SERVER_CHART = Chart(
    release="metrics-server",
    chart="metrics-server",
    version="3.13.1",  # metrics-server 0.8.1
    repository="https://kubernetes-sigs.github.io/metrics-server/",
    namespace=SYSTEM_NAMESPACE,
)
CLUSTER_AUTOSCALER_CHART = Chart(
    release="cluster-autoscaler",
    chart="cluster-autoscaler",
    version="9.53.0",  # Cluster Autoscaler 1.34.2: its minor must match Kubernetes'
    repository="https://kubernetes.github.io/autoscaler",
    namespace=SYSTEM_NAMESPACE,
)
PROMETHEUS_STACK_CHART = Chart(
    release="kube-prometheus-stack",
    chart="kube-prometheus-stack",
    version="88.5.3",  # prometheus-operator v0.93.1 (tests/deploy/crds holds its CRDs)
    repository="https://prometheus-community.github.io/helm-charts",
    namespace=MONITORING_NAMESPACE,
)
# The Prometheus object the chart creates (`<release>-prometheus`); the operator labels its
# pods `operator.prometheus.io/name: <this>`, which the app's NetworkPolicy admits.
PROMETHEUS_NAME = f"{PROMETHEUS_STACK_CHART.release}-prometheus"

LOAD_BALANCER_CONTROLLER_POLICY = (
    Path(__file__).parent / "policies" / ("aws-load-balancer-controller.json")
)

# Actions from the Cluster Autoscaler's AWS guide: discovery everywhere, changes only to the
# node groups of this cluster (managed node groups tag their Auto Scaling groups with it).
AUTOSCALER_DESCRIBE_ACTIONS = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
    "eks:DescribeNodegroup",
)
AUTOSCALER_CHANGE_ACTIONS = (
    "autoscaling:SetDesiredCapacity",
    "autoscaling:TerminateInstanceInAutoScalingGroup",
)


def cluster_autoscaler_policy(cluster_name: str) -> str:
    """Describe anything; resize or terminate only this cluster's Auto Scaling groups."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Discover",
                    "Effect": "Allow",
                    "Action": list(AUTOSCALER_DESCRIBE_ACTIONS),
                    "Resource": "*",
                },
                {
                    "Sid": "ScaleThisClustersNodeGroups",
                    "Effect": "Allow",
                    "Action": list(AUTOSCALER_CHANGE_ACTIONS),
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"
                        }
                    },
                },
            ],
        },
        sort_keys=True,
    )


def prometheus_stack_values() -> dict[str, Any]:
    """kube-prometheus-stack settings: the parts that differ from the chart's defaults."""
    return {
        # EKS runs the control plane: its components cannot be scraped, so their targets
        # and rules would only raise false "down" alerts.
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "kubeProxy": {"enabled": False},
        # node-exporter needs host namespaces and paths, which the namespace's `baseline`
        # Pod Security forbids; the kubelet's cAdvisor still gives per-pod CPU and memory.
        "nodeExporter": {"enabled": False},
        "defaultRules": {
            "rules": {
                "etcd": False,
                "kubeControllerManager": False,
                "kubeSchedulerAlerting": False,
                "kubeSchedulerRecording": False,
                "kubeProxy": False,
                "node": False,
                "nodeExporterAlerting": False,
                "nodeExporterRecording": False,
                "windows": False,
            }
        },
        "prometheus": {
            "prometheusSpec": {
                # Pick up every ServiceMonitor and PrometheusRule in every namespace, not only
                # those labelled for this release: the service ships its own with k8s/.
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "retention": "15d",
                "retentionSize": "8GB",
                "resources": {
                    "requests": {"cpu": "200m", "memory": "1Gi"},
                    "limits": {"memory": "2Gi"},
                },
            }
        },
        # Dashboards from ConfigMaps labelled grafana_dashboard=1 in any namespace; the admin
        # password is generated into the Secret kube-prometheus-stack-grafana (none in code).
        "grafana": {
            "sidecar": {"dashboards": {"enabled": True, "searchNamespace": "ALL"}},
        },
    }


class PlatformAddons(pulumi.ComponentResource):
    """Load balancing, resource metrics, node autoscaling and monitoring for one cluster."""

    def __init__(
        self,
        name: str,
        *,
        cluster_name: str,
        region: str,
        vpc_id: pulumi.Input[str],
        oidc_provider_arn: pulumi.Input[str],
        oidc_issuer: pulumi.Input[str],
        provider: k8s.Provider,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("itemsense:infra:PlatformAddons", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        on_cluster = pulumi.ResourceOptions(parent=self, provider=provider)

        lbc = LOAD_BALANCER_CONTROLLER_CHART
        lbc_role = irsa_role(
            f"{name}-load-balancer-controller",
            provider_arn=oidc_provider_arn,
            issuer=oidc_issuer,
            namespace=lbc.namespace,
            service_account=lbc.release,
            policy=LOAD_BALANCER_CONTROLLER_POLICY.read_text(encoding="utf-8"),
            tags=tags,
            opts=child,
        )
        _release(
            lbc,
            {
                "clusterName": cluster_name,
                # Given, not looked up from instance metadata (IMDSv2 hop limit on AL2023).
                "region": region,
                "vpcId": vpc_id,
                "replicaCount": 2,
                "serviceAccount": {
                    "name": lbc.release,
                    "annotations": {"eks.amazonaws.com/role-arn": lbc_role.arn},
                },
            },
            on_cluster,
        )

        _release(
            METRICS_SERVER_CHART,
            {"replicas": 2, "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1}},
            on_cluster,
        )

        autoscaler = CLUSTER_AUTOSCALER_CHART
        autoscaler_role = irsa_role(
            f"{name}-cluster-autoscaler",
            provider_arn=oidc_provider_arn,
            issuer=oidc_issuer,
            namespace=autoscaler.namespace,
            service_account=autoscaler.release,
            policy=cluster_autoscaler_policy(cluster_name),
            tags=tags,
            opts=child,
        )
        _release(
            autoscaler,
            {
                "cloudProvider": "aws",
                "awsRegion": region,
                "autoDiscovery": {"clusterName": cluster_name},
                "rbac": {
                    "serviceAccount": {
                        "name": autoscaler.release,
                        "annotations": {"eks.amazonaws.com/role-arn": autoscaler_role.arn},
                    }
                },
                # Spread over zones evenly, and never remove a node that holds kube-system pods.
                "extraArgs": {
                    "balance-similar-node-groups": True,
                    "skip-nodes-with-system-pods": True,
                    "expander": "least-waste",
                },
            },
            on_cluster,
        )

        namespace = k8s.core.v1.Namespace(
            MONITORING_NAMESPACE,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=MONITORING_NAMESPACE,
                labels={
                    "pod-security.kubernetes.io/enforce": "baseline",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            ),
            opts=on_cluster,
        )
        _release(
            PROMETHEUS_STACK_CHART,
            prometheus_stack_values(),
            pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[namespace]),
        )
        self.register_outputs({})


def _release(chart: Chart, values: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
    k8s.helm.v3.Release(
        chart.release,
        name=chart.release,  # a fixed name: service accounts and objects are named after it
        chart=chart.chart,
        version=chart.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repository),
        namespace=chart.namespace,
        values=values,
        # Wait for the workloads, so what depends on them (CRDs, webhooks) exists afterwards.
        atomic=True,
        timeout=900,
        opts=opts,
    )
