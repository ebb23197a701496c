"""Fixtures for the infra/ unit tests: the Pulumi program synthesized under mocks.

The suite runs with `--import-mode=importlib`, so the harness next to this file and the
program in infra/ are put on sys.path here, before any test module imports them.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The harness also puts infra/ on sys.path (the Pulumi CLI runs the program from there).
from infra_harness import (
    ADMIN_ROLE,
    EXISTING_PROVIDER,
    PROMOTE_FROM,
    VIEWER_ROLE,
    Synth,
    synthesize,
)
from itemsense_infra.config import InfraConfig
from itemsense_infra.stack import build


@pytest.fixture(scope="session")
def default_cfg() -> InfraConfig:
    """Only the required settings: every other option at its production default."""
    return InfraConfig(
        region="eu-west-1",
        stack="test",
        public_api_access_cidrs=("203.0.113.0/24", "198.51.100.7/32"),
        github_repository="acme/itemsense",
    )


@pytest.fixture(scope="session")
def custom_cfg(default_cfg: InfraConfig) -> InfraConfig:
    """Every optional feature switched the other way: DB on, 3 AZs, one NAT, reuse OIDC,
    a domain, the staging environment, promotion settings."""
    return replace(
        default_cfg,
        az_count=3,
        vpc_cidr="172.16.0.0/18",
        nat_strategy="single",
        kubernetes_version="1.33",
        upgrade_support_type="EXTENDED",
        node_instance_type="m7i.large",
        node_min_size=3,
        node_desired_size=4,
        node_max_size=9,
        ecr_keep_last_images=7,
        deletion_protection=False,
        github_oidc_provider_arn=EXISTING_PROVIDER,
        cluster_admin_role_arns=(ADMIN_ROLE,),
        cluster_viewer_role_arns=(VIEWER_ROLE,),
        database_enabled=True,
        database_multi_az=True,
        database_max_connections=250,
        deploy_environment="staging",
        api_domain="api.itemsense.example.com",
        ecr_pull_account_ids=("222222222222",),
        promote_from_repository_arn=PROMOTE_FROM,
    )


@pytest.fixture(scope="session")
def default_stack(default_cfg: InfraConfig) -> Synth:
    """The program run once with the default configuration."""
    return synthesize(build, default_cfg)


@pytest.fixture(scope="session")
def custom_stack(custom_cfg: InfraConfig) -> Synth:
    """The program run once with the custom configuration."""
    return synthesize(build, custom_cfg)


@pytest.fixture(scope="session")
def database_cfg(default_cfg: InfraConfig) -> InfraConfig:
    """Defaults plus the database: proves the database follows the production defaults."""
    return replace(default_cfg, database_enabled=True)


@pytest.fixture(scope="session")
def database_stack(database_cfg: InfraConfig) -> Synth:
    """The program run once with the defaults and the database enabled."""
    return synthesize(build, database_cfg)
