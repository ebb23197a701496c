"""Stack configuration: the documented options, the example stack, validation, subnet plan."""

from __future__ import annotations

import ipaddress
import itertools
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pulumi
import pytest
import yaml
from infra_harness import INFRA_DIR, RecordingMocks, Synth
from itemsense_infra.config import CONFIG_KEYS, DEFAULTS, ConfigError, InfraConfig, load_config
from itemsense_infra.network import plan_subnets

PROJECT_FILE = yaml.safe_load((INFRA_DIR / "Pulumi.yaml").read_text())
DEV_STACK = yaml.safe_load((INFRA_DIR / "Pulumi.dev.yaml").read_text())["config"]
YAML_TYPES = {"integer": int, "boolean": bool, "string": str, "array": list}


def test_every_option_is_declared_typed_and_documented_in_pulumi_yaml() -> None:
    declared = PROJECT_FILE["config"]
    assert set(declared) == set(CONFIG_KEYS), "Pulumi.yaml and config.py list different keys"
    for key, spec in declared.items():
        assert spec["type"] in YAML_TYPES, key
        assert len(spec["description"]) > 20, key


def test_pulumi_yaml_defaults_are_the_programs_defaults() -> None:
    # The CLI fills in Pulumi.yaml defaults, the unit tests use config.py's: they must agree.
    for key, spec in PROJECT_FILE["config"].items():
        if key in DEFAULTS:
            default = DEFAULTS[key]
            expected = list(default) if isinstance(default, tuple) else default
            assert spec.get("default") == expected, key
            assert isinstance(spec["default"], YAML_TYPES[spec["type"]]), key
        else:
            assert "default" not in spec, f"{key} is required, it must not have a default"
    assert set(CONFIG_KEYS) - set(DEFAULTS) == {"publicApiAccessCidrs", "githubRepository"}


def test_kubernetes_version_is_pinned_to_the_contract_version() -> None:
    assert DEFAULTS["kubernetesVersion"] == "1.34"
    assert DEV_STACK["itemsense:kubernetesVersion"] == "1.34"


@pytest.fixture
def stack_config() -> Iterator[Any]:
    """Feed config to `load_config` the way the Pulumi CLI does (strings, JSON for lists)."""
    pulumi.runtime.set_mocks(RecordingMocks(Synth()), project="itemsense", stack="dev")

    def apply(values: dict[str, Any]) -> None:
        pulumi.runtime.set_all_config(
            {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
        )

    yield apply
    pulumi.runtime.set_all_config({})


def test_example_stack_file_loads_and_means_what_its_comments_say(stack_config: Any) -> None:
    unknown = {k for k in DEV_STACK if k.startswith("itemsense:")} - {
        f"itemsense:{k}" for k in CONFIG_KEYS
    }
    assert not unknown, f"Pulumi.dev.yaml sets undeclared keys {unknown}"
    stack_config(DEV_STACK)
    cfg = load_config()
    assert cfg.region == "eu-west-1"
    assert cfg.stack == "dev"
    assert cfg.nat_strategy == "single"
    assert cfg.public_api_access_cidrs == ("203.0.113.0/24",)
    assert (cfg.node_min_size, cfg.node_desired_size, cfg.node_max_size) == (1, 2, 3)
    assert cfg.deletion_protection is False
    assert cfg.database_enabled is False
    assert cfg.control_plane_log_retention_days == 30


def test_unset_options_take_the_documented_defaults(stack_config: Any) -> None:
    stack_config(
        {
            "aws:region": "us-east-1",
            "itemsense:githubRepository": "acme/itemsense",
            "itemsense:publicApiAccessCidrs": ["10.1.0.0/16"],
        }
    )
    cfg = load_config()
    for key, field_name in CONFIG_KEYS.items():
        if key in DEFAULTS:
            assert getattr(cfg, field_name) == DEFAULTS[key], key
    assert cfg.database_enabled is False
    assert cfg.nat_strategy == "one-per-az"


@pytest.mark.parametrize(
    "missing", ["itemsense:githubRepository", "itemsense:publicApiAccessCidrs"]
)
def test_required_options_must_be_set(stack_config: Any, missing: str) -> None:
    values: dict[str, Any] = {
        "aws:region": "us-east-1",
        "itemsense:githubRepository": "acme/itemsense",
        "itemsense:publicApiAccessCidrs": ["10.1.0.0/16"],
    }
    del values[missing]
    stack_config(values)
    with pytest.raises(pulumi.ConfigMissingError, match=missing):
        load_config()


VALID = InfraConfig(
    region="eu-west-1",
    public_api_access_cidrs=("203.0.113.0/24",),
    github_repository="acme/itemsense",
)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"az_count": 1}, "azCount"),
        ({"az_count": 5}, "azCount"),
        ({"vpc_cidr": "10.0.0.0/24"}, "vpcCidr"),
        ({"vpc_cidr": "10.0.0.1/16"}, "vpcCidr"),  # host bits set: a typo
        ({"vpc_cidr": "8.8.0.0/16"}, "private"),
        ({"nat_strategy": "none"}, "natStrategy"),
        ({"kubernetes_version": "1.34.2"}, "kubernetesVersion"),
        ({"kubernetes_version": "latest"}, "kubernetesVersion"),
        ({"upgrade_support_type": "standard"}, "upgradeSupportType"),
        ({"node_min_size": 3, "node_desired_size": 2}, "node sizes"),
        ({"node_desired_size": 5, "node_max_size": 4}, "node sizes"),
        ({"node_min_size": 0, "node_desired_size": 0}, "node sizes"),
        ({"public_api_access_cidrs": ()}, "publicApiAccessCidrs"),
        ({"public_api_access_cidrs": ("my-office",)}, "publicApiAccessCidrs"),
        ({"public_api_access_cidrs": ("10.0.0.0/8",) * 41}, "publicApiAccessCidrs"),
        ({"github_repository": "itemsense"}, "githubRepository"),
        ({"github_repository": "acme/*"}, "githubRepository"),
        ({"github_oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/x.io"}, "OIDC"),
        ({"cluster_admin_role_arns": ("arn:aws:iam::123456789012:user/bob",)}, "role ARN"),
        ({"cluster_viewer_role_arns": ("arn:aws:iam::123456789012:root",)}, "role ARN"),
        (
            {
                "cluster_admin_role_arns": ("arn:aws:iam::123456789012:role/ops",),
                "cluster_viewer_role_arns": ("arn:aws:iam::123456789012:role/ops",),
            },
            "once",
        ),
        ({"ecr_keep_last_images": 0}, "ecrKeepLastImages"),
        ({"control_plane_log_retention_days": 10}, "controlPlaneLogRetentionDays"),
        ({"database_instance_class": "t4g.micro"}, "databaseInstanceClass"),
        ({"database_allocated_storage_gb": 10}, "databaseAllocatedStorageGb"),
        ({"region": ""}, "region"),
    ],
)
def test_invalid_values_are_rejected_naming_the_key(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        replace(VALID, **changes)


@pytest.mark.parametrize(
    ("cidr", "az_count"), list(itertools.product(["10.0.0.0/16", "192.168.0.0/20"], [2, 3, 4]))
)
def test_subnet_plan_fits_the_vpc_without_overlap(cidr: str, az_count: int) -> None:
    plan = plan_subnets(cidr, az_count)
    vpc = ipaddress.IPv4Network(cidr)
    subnets = [ipaddress.IPv4Network(c) for c in plan.public + plan.private]
    assert len(plan.public) == len(plan.private) == az_count
    assert all(net.subnet_of(vpc) for net in subnets)
    for a, b in itertools.combinations(subnets, 2):
        assert not a.overlaps(b), (a, b)
    # Pods take addresses from the private subnets: they get the big blocks.
    assert all(
        ipaddress.IPv4Network(p).num_addresses > ipaddress.IPv4Network(q).num_addresses
        for p, q in zip(plan.private, plan.public, strict=True)
    )
