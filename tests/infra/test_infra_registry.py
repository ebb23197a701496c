"""ECR: immutable, scanned, encrypted, pruned to the last N images."""

from __future__ import annotations

import json

import pytest
from infra_harness import Synth
from itemsense_infra.config import InfraConfig


def test_repository_is_immutable_scanned_and_kms_encrypted(default_stack: Synth) -> None:
    repo = default_stack.one("aws:ecr/repository:Repository")
    assert repo.inputs["name"] == "itemsense"
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
    assert repo.inputs["forceDelete"] is False


@pytest.mark.parametrize("which", ["default", "custom"])
def test_lifecycle_policy_keeps_exactly_the_configured_number_of_images(
    which: str, request: pytest.FixtureRequest
) -> None:
    stack: Synth = request.getfixturevalue(f"{which}_stack")
    cfg: InfraConfig = request.getfixturevalue(f"{which}_cfg")
    repo = stack.one("aws:ecr/repository:Repository")
    policy = stack.one("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert policy.inputs["repository"] == repo.inputs["name"]
    [rule] = json.loads(policy.inputs["policy"])["rules"]
    assert rule["selection"] == {
        "tagStatus": "any",
        "countType": "imageCountMoreThan",
        "countNumber": cfg.ecr_keep_last_images,
    }
    assert rule["action"] == {"type": "expire"}
