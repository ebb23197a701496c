"""GitHub Actions OIDC: who may assume the deploy role, and what it may then do."""

from __future__ import annotations

import json
from typing import Any

from infra_harness import ACCOUNT_ID, EXISTING_PROVIDER, Registered, Synth

PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
CLUSTER_ARN = f"arn:aws:eks:eu-west-1:{ACCOUNT_ID}:cluster/itemsense"
REPOSITORY_ARN = f"arn:aws:ecr:eu-west-1:{ACCOUNT_ID}:repository/itemsense"


def deploy_role(stack: Synth) -> Registered:
    """The IAM role GitHub Actions assumes."""
    [role] = [r for r in stack.of_type("aws:iam/role:Role") if r.name.endswith("-deploy")]
    return role


def deploy_policy(stack: Synth) -> Registered:
    """The inline policy of the deploy role."""
    role_id = deploy_role(stack).id
    [policy] = [
        p for p in stack.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role_id
    ]
    return policy


def trust_statement(stack: Synth) -> dict[str, Any]:
    """The single statement of the deploy role's trust policy."""
    [statement] = json.loads(deploy_role(stack).inputs["assumeRolePolicy"])["Statement"]
    return dict(statement)


def test_github_oidc_provider_is_for_sts_only(default_stack: Synth) -> None:
    provider = default_stack.one(PROVIDER).inputs
    assert provider["url"] == "https://token.actions.githubusercontent.com"
    assert provider["clientIdLists"] == ["sts.amazonaws.com"]


def test_role_trusts_only_its_environment_of_this_repository(default_stack: Synth) -> None:
    statement = trust_statement(default_stack)
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": default_stack.one(PROVIDER).state["arn"]}
    # Exact matches only: a StringLike with `repo:acme/itemsense:*` would admit every branch,
    # pull request and tag. No `ref:refs/heads/main` either: a job on main without the
    # environment would skip its approval.
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": [
                "repo:acme/itemsense:environment:production",
            ],
        }
    }


def test_staging_role_trusts_the_staging_environment_only(custom_stack: Synth) -> None:
    subjects = trust_statement(custom_stack)["Condition"]["StringEquals"]
    assert subjects["token.actions.githubusercontent.com:sub"] == [
        "repo:acme/itemsense:environment:staging"
    ]


def test_an_existing_account_provider_is_reused_not_duplicated(custom_stack: Synth) -> None:
    assert custom_stack.of_type(PROVIDER) == []
    assert trust_statement(custom_stack)["Principal"] == {"Federated": EXISTING_PROVIDER}


def test_permissions_are_push_to_this_repository_and_describe_this_cluster(
    default_stack: Synth,
) -> None:
    policy = deploy_policy(default_stack)
    statements = json.loads(policy.inputs["policy"])["Statement"]
    grants: dict[str, set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource"}  # no NotAction
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            assert "*" not in action, f"wildcard action {action}"
            grants.setdefault(statement["Resource"], set()).add(action)
    assert default_stack.one("aws:ecr/repository:Repository").state["arn"] == REPOSITORY_ARN
    assert grants == {
        # GetAuthorizationToken has no resource-level permission; it alone gets "*".
        "*": {"ecr:GetAuthorizationToken"},
        REPOSITORY_ARN: {
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchGetImage",
            "ecr:CompleteLayerUpload",
            "ecr:DescribeImages",
            "ecr:GetDownloadUrlForLayer",
            "ecr:InitiateLayerUpload",
            "ecr:PutImage",
            "ecr:UploadLayerPart",
        },
        CLUSTER_ARN: {"eks:DescribeCluster"},
    }


def test_production_may_read_the_staging_repository_it_promotes_from(
    custom_stack: Synth, custom_cfg: Any
) -> None:
    statements = json.loads(deploy_policy(custom_stack).inputs["policy"])["Statement"]
    [pull] = [s for s in statements if s["Sid"] == "EcrPullPromoted"]
    assert pull["Resource"] == custom_cfg.promote_from_repository_arn
    assert set(pull["Action"]) == {
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    }


def test_role_is_mapped_to_the_cluster_with_edit_rights_in_the_app_namespace_only(
    default_stack: Synth,
) -> None:
    role_arn = deploy_role(default_stack).state["arn"]
    entry = default_stack.one("aws:eks/accessEntry:AccessEntry").inputs
    assert (entry["clusterName"], entry["principalArn"]) == ("itemsense", role_arn)
    assert entry["type"] == "STANDARD"
    # One group of our own (no system:masters): bound to a Role in the app namespace only.
    assert entry["kubernetesGroups"] == ["itemsense-deployers"]
    [binding] = default_stack.of_type("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
    assert binding.inputs["metadata"]["namespace"] == "itemsense"
    assert binding.inputs["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "itemsense-deployers"}
    ]
    [role] = default_stack.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
    assert role.inputs["metadata"]["namespace"] == "itemsense"
    [rule] = role.inputs["rules"]
    assert rule["apiGroups"] == ["monitoring.coreos.com"]
    assert set(rule["resources"]) == {"servicemonitors", "prometheusrules"}
    assert not default_stack.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")
    association = default_stack.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert association.inputs["clusterName"] == "itemsense"
    assert association.inputs["principalArn"] == role_arn
    assert association.inputs["policyArn"] == (
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
    )
    assert association.inputs["accessScope"] == {"type": "namespace", "namespaces": ["itemsense"]}
