"""EKS control plane (pulumi-eks), a managed node group and the application namespace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from itemsense_infra.config import SupportType

# All five control-plane log streams; `audit` and `authenticator` answer "who did what".
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

# The VPC CNI as an EKS add-on, pinned (the EKS user guide's version table lists the latest
# per Kubernetes version; `aws eks describe-addon-versions --addon-name vpc-cni` confirms it).
VPC_CNI_VERSION = "v1.20.1-eksbuild.3"

# Kubernetes group the deploy role's access entry carries: AmazonEKSEditPolicy has no rights
# on the Prometheus Operator's kinds, which the application ships (k8s/base).
DEPLOYER_GROUP = "itemsense-deployers"

# Managed policies the node role needs (PullOnly rather than ReadOnly: nodes never list).
NODE_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
)


def operator_access_entries(
    admin_role_arns: Sequence[str],
    viewer_role_arns: Sequence[str],
    partition: pulumi.Input[str],
) -> dict[str, eks.AccessEntryArgs]:
    """Cluster-wide access entries for operators and the infra pipeline.

    Admins (AmazonEKSClusterAdminPolicy): whoever else runs `pulumi up` (this program
    manages the application namespace) or administers the cluster; the principal of
    the first `pulumi up` is admin anyway through EKS' bootstrap entry.
    Viewers (AmazonEKSViewPolicy: read, no Secrets): e.g. the role `pulumi preview` runs as.
    """
    entries: dict[str, eks.AccessEntryArgs] = {}
    for prefix, policy, role_arns in (
        ("admin", "AmazonEKSClusterAdminPolicy", admin_role_arns),
        ("viewer", "AmazonEKSViewPolicy", viewer_role_arns),
    ):
        policy_arn = pulumi.Output.concat(
            "arn:", partition, ":eks::aws:cluster-access-policy/", policy
        )
        for arn in role_arns:
            # Keyed by role name, not position: reordering a list must not replace entries.
            entries[f"{prefix}-{arn.rsplit('/', 1)[-1]}"] = eks.AccessEntryArgs(
                principal_arn=arn,
                type=eks.AccessEntryType.STANDARD,
                access_policies={
                    policy: eks.AccessPolicyAssociationArgs(
                        policy_arn=policy_arn,
                        access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    )
                },
            )
    return entries


class Cluster(pulumi.ComponentResource):
    """An EKS cluster whose nodes live only in private subnets."""

    kubeconfig: pulumi.Output[Any]
    kubeconfig_json: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    eks_cluster: eks.Cluster
    provider: k8s.Provider

    def __init__(
        self,
        name: str,
        *,
        cluster_name: str,
        vpc_id: pulumi.Input[str],
        public_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]],
        private_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]],
        kubernetes_version: str,
        upgrade_support_type: SupportType,
        public_access_cidrs: Sequence[str],
        instance_type: str,
        min_size: int,
        desired_size: int,
        max_size: int,
        log_retention_days: int,
        deletion_protection: bool,
        app_namespace: str,
        admin_role_arns: Sequence[str],
        viewer_role_arns: Sequence[str],
        partition: pulumi.Input[str],
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("itemsense:infra:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Created before the cluster so EKS writes into a group with a retention
        # period; EKS would otherwise create one that keeps logs forever.
        log_group = aws.cloudwatch.LogGroup(
            name,
            name=f"/aws/eks/{cluster_name}/cluster",
            retention_in_days=log_retention_days,
            tags=tags,
            opts=child,
        )
        # Envelope encryption of Kubernetes Secrets in etcd with a key we control.
        secrets_key = aws.kms.Key(
            f"{name}-secrets",
            description=f"EKS {cluster_name}: envelope encryption of Kubernetes Secrets",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=child,
        )

        self.eks_cluster = eks.Cluster(
            name,
            name=cluster_name,
            version=kubernetes_version,
            # STANDARD: EKS upgrades the control plane itself at the end of standard
            # support instead of silently billing extended support (6x the hourly fee).
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type=upgrade_support_type),
            vpc_id=vpc_id,
            public_subnet_ids=public_subnet_ids,
            private_subnet_ids=private_subnet_ids,
            endpoint_private_access=True,  # nodes reach the API inside the VPC
            endpoint_public_access=True,
            public_access_cidrs=list(public_access_cidrs),
            # Access entries only: no aws-auth ConfigMap to drift or be edited by hand.
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=operator_access_entries(admin_role_arns, viewer_role_arns, partition),
            create_oidc_provider=True,  # IAM roles for service accounts (IRSA)
            # The network policy agent enforces the NetworkPolicies of k8s/ (off by default).
            vpc_cni_options=eks.VpcCniOptionsArgs(
                addon_version=VPC_CNI_VERSION, enable_network_policy=True
            ),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            encryption_config_key_arn=secrets_key.arn,
            deletion_protection=deletion_protection,
            # Nodes come from the managed node group below, not pulumi-eks' default
            # self-managed group; managed nodes use the EKS-created cluster security
            # group, so the extra groups pulumi-eks would create stay unused.
            skip_default_node_group=True,
            skip_default_security_groups=True,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
        )

        node_role = aws.iam.Role(
            f"{name}-node",
            assume_role_policy=aws.iam.get_policy_document_output(
                statements=[
                    aws.iam.GetPolicyDocumentStatementArgs(
                        actions=["sts:AssumeRole"],
                        principals=[
                            aws.iam.GetPolicyDocumentStatementPrincipalArgs(
                                type="Service", identifiers=["ec2.amazonaws.com"]
                            )
                        ],
                    )
                ]
            ).json,
            tags=tags,
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{policy}",
                role=node_role.name,
                policy_arn=pulumi.Output.concat("arn:", partition, ":iam::aws:policy/", policy),
                opts=child,
            )
            for policy in NODE_POLICIES
        ]
        eks.ManagedNodeGroup(
            f"{name}-nodes",
            cluster=self.eks_cluster,
            node_role=node_role,
            # Private subnets only (no public IP on launch): nodes are reachable
            # from the load balancers and the control plane, never from the internet.
            subnet_ids=private_subnet_ids,
            # AL2 has no AMIs for Kubernetes 1.33+; AL2023 also enforces IMDSv2.
            operating_system=eks.OperatingSystem.AL2023,
            instance_types=[instance_type],
            capacity_type="ON_DEMAND",
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=min_size, desired_size=desired_size, max_size=max_size
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=attachments),
        )

        # The namespace belongs to the platform: the deploy role may only act inside
        # it (namespace-scoped access policy), so it cannot create it itself.
        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.eks_cluster.kubeconfig_json,
            opts=child,
        )
        on_cluster = pulumi.ResourceOptions(parent=self, provider=provider)
        namespace = k8s.core.v1.Namespace(
            app_namespace,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=app_namespace,
                labels={
                    # Pod Security Admission: reject pods that are not non-root,
                    # seccomp-confined and capability-free.
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                    # The load balancer controller adds a readiness gate to new pods: a
                    # rollout waits until the ALB has registered them as healthy.
                    "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled",
                },
            ),
            opts=on_cluster,
        )
        _deployer_rbac(app_namespace, namespace, on_cluster)

        self.kubeconfig = self.eks_cluster.kubeconfig
        self.kubeconfig_json = self.eks_cluster.kubeconfig_json
        self.cluster_security_group_id = self.eks_cluster.cluster_security_group_id
        self.oidc_provider_arn = self.eks_cluster.oidc_provider_arn
        self.oidc_issuer = self.eks_cluster.oidc_issuer
        self.provider = provider
        self.register_outputs({"clusterSecurityGroupId": self.cluster_security_group_id})


def _deployer_rbac(
    app_namespace: str, namespace: k8s.core.v1.Namespace, opts: pulumi.ResourceOptions
) -> None:
    """Let DEPLOYER_GROUP manage the service's monitoring objects in its namespace only."""
    meta = k8s.meta.v1.ObjectMetaArgs(name="itemsense-deployer-monitoring", namespace=app_namespace)
    after = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace]))
    role = k8s.rbac.v1.Role(
        "itemsense-deployer-monitoring",
        metadata=meta,
        rules=[
            k8s.rbac.v1.PolicyRuleArgs(
                api_groups=["monitoring.coreos.com"],
                resources=["servicemonitors", "prometheusrules"],
                verbs=["get", "list", "watch", "create", "update", "patch", "delete"],
            )
        ],
        opts=after,
    )
    k8s.rbac.v1.RoleBinding(
        "itemsense-deployer-monitoring",
        metadata=meta,
        role_ref=k8s.rbac.v1.RoleRefArgs(
            api_group="rbac.authorization.k8s.io", kind="Role", name=role.metadata.name
        ),
        subjects=[
            k8s.rbac.v1.SubjectArgs(
                api_group="rbac.authorization.k8s.io", kind="Group", name=DEPLOYER_GROUP
            )
        ],
        opts=after,
    )
