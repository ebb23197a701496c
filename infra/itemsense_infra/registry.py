"""ECR repository for the service image."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws


def lifecycle_policy(keep_last: int) -> str:
    """ECR lifecycle policy JSON that expires all but the newest ``keep_last`` images.

    One rule over every image (tagged or not) rather than a separate
    "expire untagged" rule: such a rule would also delete the untagged
    per-platform manifests that a multi-arch image index points at.
    """
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Keep the last {keep_last} images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": keep_last,
                    },
                    "action": {"type": "expire"},
                }
            ]
        },
        sort_keys=True,
    )


def pull_policy(account_ids: list[str], partition: str = "aws") -> str:
    """Repository policy letting other accounts (production's) read images by digest."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PullForPromotion",
                    "Effect": "Allow",
                    "Principal": {
                        "AWS": [f"arn:{partition}:iam::{account}:root" for account in account_ids]
                    },
                    "Action": [
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                    ],
                }
            ],
        },
        sort_keys=True,
    )


class Registry(pulumi.ComponentResource):
    """Immutable, scanned, KMS-encrypted ECR repository with a retention policy."""

    repository_name: pulumi.Output[str]
    repository_url: pulumi.Output[str]
    repository_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        repository_name: str,
        keep_last_images: int,
        pull_account_ids: list[str],
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("itemsense:infra:Registry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        repository = aws.ecr.Repository(
            name,
            name=repository_name,
            # A tag names one build forever: deployments are reproducible and a
            # compromised pipeline cannot silently replace a released image.
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                scan_on_push=True
            ),
            # KMS with the AWS-managed key (aws/ecr): key use shows in CloudTrail, no key
            # to administer or pay for. Set kms_key to a customer key for cross-account
            # control. Changing encryption later replaces the repository.
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS")
            ],
            force_delete=False,  # `pulumi destroy` must not silently drop released images
            tags={**tags, "Name": repository_name},
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            name,
            repository=repository.name,
            policy=lifecycle_policy(keep_last_images),
            opts=child,
        )

        if pull_account_ids:
            # Each account still needs its own IAM grant (ci_access.permissions_policy).
            aws.ecr.RepositoryPolicy(
                name,
                repository=repository.name,
                policy=pull_policy(pull_account_ids),
                opts=child,
            )

        self.repository_name = repository.name
        self.repository_url = repository.repository_url
        self.repository_arn = repository.arn
        self.register_outputs(
            {"repositoryUrl": self.repository_url, "repositoryArn": self.repository_arn}
        )
