"""GitHub Actions -> AWS via OIDC: a role the deploy pipeline assumes, no stored keys."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com"

# What `docker push` and `docker buildx` need against one repository.
ECR_PUSH_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:DescribeImages",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
)


def allowed_subjects(repository: str, environment: str) -> list[str]:
    """OIDC `sub` values allowed to assume the role: one GitHub environment's jobs only.

    A job that declares `environment: <name>` gets this subject, and only after the
    environment's protection rules (deployment branches `main`, required reviewers for
    production) let it run. A job without an environment, a pull request, a fork or the
    other environment carries another subject, so it cannot reach this stack's account.
    """
    return [f"repo:{repository}:environment:{environment}"]


def trust_policy(provider_arn: str, repository: str, environment: str) -> str:
    """Role trust policy: web identity from GitHub's OIDC provider, this repository only."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "GitHubActionsDeploy",
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        # StringEquals, not StringLike: no wildcard can widen the match.
                        "StringEquals": {
                            f"{GITHUB_OIDC_HOST}:aud": GITHUB_OIDC_AUDIENCE,
                            f"{GITHUB_OIDC_HOST}:sub": allowed_subjects(repository, environment),
                        }
                    },
                }
            ],
        },
        sort_keys=True,
    )


# Reading an image from another account's repository, to copy it here by digest.
ECR_PULL_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
)


def permissions_policy(repository_arn: str, cluster_arn: str, promote_from: str = "") -> str:
    """Just what the pipeline does: push one image repository, find one cluster, and (for
    production) read the staging repository whose image it promotes."""
    promote = [
        {
            "Sid": "EcrPullPromoted",
            "Effect": "Allow",
            "Action": list(ECR_PULL_ACTIONS),
            "Resource": promote_from,
        }
    ]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                *(promote if promote_from else []),
                {
                    # Registry login; this action has no resource-level permissions.
                    "Sid": "EcrLogin",
                    "Effect": "Allow",
                    "Action": "ecr:GetAuthorizationToken",
                    "Resource": "*",
                },
                {
                    "Sid": "EcrPush",
                    "Effect": "Allow",
                    "Action": list(ECR_PUSH_ACTIONS),
                    "Resource": repository_arn,
                },
                {
                    # `aws eks update-kubeconfig`; what kubectl may then do is decided by
                    # the access entry below, not by IAM.
                    "Sid": "EksDescribe",
                    "Effect": "Allow",
                    "Action": "eks:DescribeCluster",
                    "Resource": cluster_arn,
                },
            ],
        },
        sort_keys=True,
    )


class CiAccess(pulumi.ComponentResource):
    """OIDC provider, deploy role and its namespace-scoped access to the cluster."""

    role_arn: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        github_repository: str,
        environment: str,
        existing_oidc_provider_arn: str,
        promote_from_repository_arn: str,
        kubernetes_groups: Sequence[str],
        repository_arn: pulumi.Input[str],
        cluster_name: str,
        cluster_arn: pulumi.Input[str],
        cluster: pulumi.Resource,
        namespaces: Sequence[str],
        partition: pulumi.Input[str],
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("itemsense:infra:CiAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        provider_arn: pulumi.Output[str]
        if existing_oidc_provider_arn:
            # IAM allows one provider per URL per account; reuse it if it exists.
            provider_arn = pulumi.Output.from_input(existing_oidc_provider_arn)
        else:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github",
                url=f"https://{GITHUB_OIDC_HOST}",
                client_id_lists=[GITHUB_OIDC_AUDIENCE],
                # No thumbprint: IAM validates GitHub's certificate against its own
                # trusted CA store for this provider.
                tags=tags,
                opts=child,
            )
            provider_arn = provider.arn

        role = aws.iam.Role(
            f"{name}-deploy",
            description=f"GitHub Actions deploy role for {github_repository} ({environment})",
            assume_role_policy=provider_arn.apply(
                lambda arn: trust_policy(arn, github_repository, environment)
            ),
            max_session_duration=3600,
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-deploy",
            role=role.id,
            policy=pulumi.Output.all(repository_arn, cluster_arn).apply(
                lambda arns: permissions_policy(
                    str(arns[0]), str(arns[1]), promote_from_repository_arn
                )
            ),
            opts=child,
        )

        # Kubernetes side: the role is a STANDARD access entry bound to AmazonEKSEditPolicy
        # in the application namespace only (create/update workloads, Services, Ingresses,
        # Jobs there; no RBAC, no cluster-scoped objects, nothing in other namespaces), plus
        # a group whose Role (cluster.py) covers the service's ServiceMonitor and PrometheusRule.
        after_cluster = pulumi.ResourceOptions(parent=self, depends_on=[cluster])
        entry = aws.eks.AccessEntry(
            f"{name}-deploy",
            cluster_name=cluster_name,
            principal_arn=role.arn,
            type="STANDARD",
            kubernetes_groups=list(kubernetes_groups),
            tags=tags,
            opts=after_cluster,
        )
        aws.eks.AccessPolicyAssociation(
            f"{name}-deploy",
            cluster_name=cluster_name,
            principal_arn=role.arn,
            policy_arn=pulumi.Output.concat(
                "arn:", partition, ":eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
            ),
            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(
                type="namespace", namespaces=list(namespaces)
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster, entry]),
        )

        self.role_arn = role.arn
        self.oidc_provider_arn = provider_arn
        self.register_outputs({"roleArn": self.role_arn})
