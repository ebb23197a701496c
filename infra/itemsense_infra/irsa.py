"""IAM roles for Kubernetes service accounts (IRSA): one role per controller that calls AWS."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

STS_AUDIENCE = "sts.amazonaws.com"


def service_account_subject(namespace: str, service_account: str) -> str:
    """The `sub` claim of a projected service-account token."""
    return f"system:serviceaccount:{namespace}:{service_account}"


def irsa_trust_policy(provider_arn: str, issuer: str, namespace: str, service_account: str) -> str:
    """Trust: tokens of exactly one service account of this cluster, for STS only."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{issuer}:sub": service_account_subject(namespace, service_account),
                            f"{issuer}:aud": STS_AUDIENCE,
                        }
                    },
                }
            ],
        },
        sort_keys=True,
    )


def irsa_role(
    name: str,
    *,
    provider_arn: pulumi.Input[str],
    issuer: pulumi.Input[str],
    namespace: str,
    service_account: str,
    policy: pulumi.Input[str],
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.iam.Role:
    """A role only `namespace/service_account` can assume, with one inline policy."""
    role = aws.iam.Role(
        name,
        description=f"IRSA: {namespace}/{service_account}",
        assume_role_policy=pulumi.Output.all(provider_arn, issuer).apply(
            lambda values: irsa_trust_policy(values[0], values[1], namespace, service_account)
        ),
        tags=tags,
        opts=opts,
    )
    aws.iam.RolePolicy(name, role=role.id, policy=policy, opts=opts)
    return role
