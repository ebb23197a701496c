"""Stack configuration: the documented options, the example stack, validation, subnet plan."""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
import tomllib
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
STACKS = ("staging", "production")


def stack_file(name: str) -> dict[str, Any]:
    """The `config` of infra/Pulumi.<name>.yaml."""
    config: dict[str, Any] = yaml.safe_load((INFRA_DIR / f"Pulumi.{name}.yaml").read_text())
    return dict(config["config"])


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
    for name in STACKS:
        assert stack_file(name)["itemsense:kubernetesVersion"] == "1.34", name


def test_the_stack_files_are_exactly_staging_and_production() -> None:
    assert sorted(p.name for p in INFRA_DIR.glob("Pulumi.*.yaml")) == [
        "Pulumi.production.yaml",
        "Pulumi.staging.yaml",
    ]


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


@pytest.mark.parametrize("name", STACKS)
def test_stack_file_sets_every_option_and_loads(stack_config: Any, name: str) -> None:
    values = stack_file(name)
    declared = {f"itemsense:{k}" for k in CONFIG_KEYS}
    assert {k for k in values if k.startswith("itemsense:")} == declared, name
    stack_config(values)
    cfg = load_config()  # validates every value
    assert cfg.region == "eu-west-1"
    assert cfg.deploy_environment == name


def test_staging_and_production_differ_where_they_should(stack_config: Any) -> None:
    loaded = {}
    for name in STACKS:
        stack_config(stack_file(name))
        loaded[name] = load_config()
    staging, production = loaded["staging"], loaded["production"]
    assert staging.vpc_cidr != production.vpc_cidr  # peerable later
    assert staging.node_max_size < production.node_max_size
    assert (staging.nat_strategy, production.nat_strategy) == ("single", "one-per-az")
    assert (staging.deletion_protection, production.deletion_protection) == (False, True)
    assert production.database_multi_az and not staging.database_multi_az
    # Production promotes staging's images: staging lets production's account pull them,
    # and production's deploy role may read staging's repository.
    assert staging.ecr_pull_account_ids
    assert production.promote_from_repository_arn.endswith(":repository/itemsense")
    assert staging.api_domain == ""  # plain HTTP with the warning output
    assert production.api_domain


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
        ({"deploy_environment": "prod"}, "deployEnvironment"),
        ({"api_domain": "https://api.example.com"}, "apiDomain"),
        ({"api_domain": "API.example.com"}, "apiDomain"),
        ({"ecr_pull_account_ids": ("1234",)}, "ecrPullAccountIds"),
        ({"promote_from_repository_arn": "itemsense"}, "promoteFromRepositoryArn"),
        ({"database_max_connections": 10}, "databaseMaxConnections"),
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


def test_the_pulumi_programs_pins_are_the_locked_versions() -> None:
    """`pulumi install` reads infra/requirements.txt; the unit tests run what uv.lock pins."""
    requirements = (INFRA_DIR / "requirements.txt").read_text(encoding="utf-8")
    pins = dict(re.findall(r"^([a-z0-9-]+)==(\S+)$", requirements, re.MULTILINE))
    lock = tomllib.loads((INFRA_DIR.parent / "uv.lock").read_text(encoding="utf-8"))
    locked = {package["name"]: package["version"] for package in lock["package"]}
    assert set(pins) == {"pulumi", "pulumi-aws", "pulumi-eks", "pulumi-kubernetes"}
    assert pins == {name: locked[name] for name in pins}
