"""EKS: the inputs of the pulumi-eks components (remote: only they are registered)."""

from __future__ import annotations

import json
import re

import pytest
from infra_harness import ADMIN_ROLE, VIEWER_ROLE, Synth
from itemsense_infra.config import InfraConfig

CLUSTER = "eks:index:Cluster"
NODE_GROUP = "eks:index:ManagedNodeGroup"


def private_subnet_ids(stack: Synth) -> list[str]:
    """Ids of the subnets tagged for internal load balancers, in AZ order."""
    return [
        s.id
        for s in stack.of_type("aws:ec2/subnet:Subnet")
        if "kubernetes.io/role/internal-elb" in s.inputs["tags"]
    ]


@pytest.mark.parametrize("which", ["default", "custom"])
def test_version_and_upgrade_policy_are_pinned_from_config(
    which: str, request: pytest.FixtureRequest
) -> None:
    stack: Synth = request.getfixturevalue(f"{which}_stack")
    cfg: InfraConfig = request.getfixturevalue(f"{which}_cfg")
    cluster = stack.one(CLUSTER).inputs
    assert cluster["name"] == "itemsense"
    assert cluster["version"] == cfg.kubernetes_version
    assert cluster["upgradePolicy"] == {"supportType": cfg.upgrade_support_type}
    assert cluster["deletionProtection"] is cfg.deletion_protection


def test_default_version_is_1_34_with_standard_support(default_stack: Synth) -> None:
    cluster = default_stack.one(CLUSTER).inputs
    assert (cluster["version"], cluster["upgradePolicy"]["supportType"]) == ("1.34", "STANDARD")


def test_authentication_is_access_entries_only_with_irsa(default_stack: Synth) -> None:
    cluster = default_stack.one(CLUSTER).inputs
    assert cluster["authenticationMode"] == "API"
    assert cluster["createOidcProvider"] is True
    # No aws-auth style mappings sneak in beside access entries.
    assert "roleMappings" not in cluster
    assert "userMappings" not in cluster


def test_all_control_plane_logs_go_to_a_group_with_retention(default_stack: Synth) -> None:
    cluster = default_stack.one(CLUSTER).inputs
    assert set(cluster["enabledClusterLogTypes"]) == {
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    }
    group = default_stack.one("aws:cloudwatch/logGroup:LogGroup").inputs
    # The exact name EKS writes to; any other name and EKS creates a never-expiring group.
    assert group["name"] == "/aws/eks/itemsense/cluster"
    assert group["retentionInDays"] == 90


def test_api_endpoint_is_private_plus_public_only_from_the_given_cidrs(
    default_stack: Synth, default_cfg: InfraConfig
) -> None:
    cluster = default_stack.one(CLUSTER).inputs
    assert cluster["endpointPrivateAccess"] is True
    assert cluster["endpointPublicAccess"] is True
    assert cluster["publicAccessCidrs"] == list(default_cfg.public_api_access_cidrs)
    assert "0.0.0.0/0" not in cluster["publicAccessCidrs"]


def test_cluster_uses_the_vpc_subnets_and_no_default_node_group(default_stack: Synth) -> None:
    cluster = default_stack.one(CLUSTER).inputs
    assert cluster["vpcId"] == default_stack.one("aws:ec2/vpc:Vpc").id
    assert cluster["privateSubnetIds"] == private_subnet_ids(default_stack)
    assert cluster["skipDefaultNodeGroup"] is True


def test_kubernetes_secrets_are_encrypted_with_a_rotated_kms_key(default_stack: Synth) -> None:
    key = default_stack.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert default_stack.one(CLUSTER).inputs["encryptionConfigKeyArn"] == key.state["arn"]


@pytest.mark.parametrize("which", ["default", "custom"])
def test_managed_nodes_run_only_in_private_subnets_without_public_ips(
    which: str, request: pytest.FixtureRequest
) -> None:
    stack: Synth = request.getfixturevalue(f"{which}_stack")
    cfg: InfraConfig = request.getfixturevalue(f"{which}_cfg")
    group = stack.one(NODE_GROUP).inputs
    assert group["subnetIds"] == private_subnet_ids(stack)
    assert len(group["subnetIds"]) == cfg.az_count
    for subnet_id in group["subnetIds"]:
        assert stack.by_id(subnet_id).inputs["mapPublicIpOnLaunch"] is False
    assert "remoteAccess" not in group  # no SSH key, no SSH security group
    assert group["operatingSystem"] == "AL2023"  # AL2 has no AMIs for 1.33+
    assert group["instanceTypes"] == [cfg.node_instance_type]
    assert group["scalingConfig"] == {
        "minSize": cfg.node_min_size,
        "desiredSize": cfg.node_desired_size,
        "maxSize": cfg.node_max_size,
    }


def test_node_role_is_for_ec2_with_only_the_node_policies(default_stack: Synth) -> None:
    [role] = [r for r in default_stack.of_type("aws:iam/role:Role") if r.name.endswith("-node")]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    principals = [p for s in trust["Statement"] for p in s["principals"]]
    assert principals == [{"type": "Service", "identifiers": ["ec2.amazonaws.com"]}]
    attached = {
        a.inputs["policyArn"]
        for a in default_stack.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert attached == {
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    }


def test_application_namespace_enforces_restricted_pod_security(default_stack: Synth) -> None:
    [namespace] = [
        n.inputs["metadata"]
        for n in default_stack.of_type("kubernetes:core/v1:Namespace")
        if n.inputs["metadata"]["name"] == "itemsense"
    ]
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    # New pods wait for the ALB to see them healthy before a rollout moves on.
    assert namespace["labels"]["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled"


def test_vpc_cni_is_a_pinned_add_on_with_network_policy_enforcement(default_stack: Synth) -> None:
    options = default_stack.one(CLUSTER).inputs["vpcCniOptions"]
    assert options["enableNetworkPolicy"] is True
    assert re.fullmatch(r"v1\.\d+\.\d+-eksbuild\.\d+", options["addonVersion"])


def test_no_extra_cluster_admins_by_default(default_stack: Synth) -> None:
    assert default_stack.one(CLUSTER).inputs.get("accessEntries", {}) == {}


def test_operator_roles_get_cluster_scoped_admin_or_view_entries(custom_stack: Synth) -> None:
    entries = custom_stack.one(CLUSTER).inputs["accessEntries"]
    expected = {
        "admin-platform-admins": (ADMIN_ROLE, "AmazonEKSClusterAdminPolicy"),
        "viewer-itemsense-infra-preview": (VIEWER_ROLE, "AmazonEKSViewPolicy"),
    }
    assert set(entries) == set(expected)
    for key, (role_arn, policy) in expected.items():
        assert entries[key]["principalArn"] == role_arn
        assert entries[key]["type"] == "STANDARD"
        assert list(entries[key]["accessPolicies"].values()) == [
            {
                "policyArn": f"arn:aws:eks::aws:cluster-access-policy/{policy}",
                "accessScope": {"type": "cluster"},
            }
        ]
