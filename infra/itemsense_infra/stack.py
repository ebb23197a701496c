"""Wires the components together and names the stack outputs."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from itemsense_infra.addons import PlatformAddons
from itemsense_infra.certificate import api_certificate
from itemsense_infra.ci_access import CiAccess
from itemsense_infra.cluster import DEPLOYER_GROUP, Cluster
from itemsense_infra.config import (
    APP_NAMESPACE,
    CLUSTER_NAME,
    REPOSITORY_NAME,
    ConfigError,
    InfraConfig,
)
from itemsense_infra.database import Database
from itemsense_infra.network import Network
from itemsense_infra.registry import Registry


def availability_zones(count: int) -> list[str]:
    """The first ``count`` regular AZs of the region (Local/Wavelength Zones excluded)."""
    zones = aws.get_availability_zones(
        state="available",
        filters=[
            aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])
        ],
    )
    names = sorted(zones.names)
    if len(names) < count:
        raise ConfigError(f"azCount={count} but the region has only {len(names)} zones")
    return names[:count]


def build(cfg: InfraConfig) -> dict[str, pulumi.Output[Any]]:
    """Declare every resource for ``cfg`` and return the stack outputs by name."""
    tags = cfg.tags
    partition = aws.get_partition_output().partition
    account_id = aws.get_caller_identity_output().account_id

    network = Network(
        "itemsense",
        cidr=cfg.vpc_cidr,
        availability_zones=availability_zones(cfg.az_count),
        nat_strategy=cfg.nat_strategy,
        cluster_name=CLUSTER_NAME,
        tags=tags,
    )
    registry = Registry(
        "itemsense",
        repository_name=REPOSITORY_NAME,
        keep_last_images=cfg.ecr_keep_last_images,
        pull_account_ids=list(cfg.ecr_pull_account_ids),
        tags=tags,
    )
    cluster = Cluster(
        "itemsense",
        cluster_name=CLUSTER_NAME,
        vpc_id=network.vpc_id,
        public_subnet_ids=network.public_subnet_ids,
        private_subnet_ids=network.private_subnet_ids,
        kubernetes_version=cfg.kubernetes_version,
        upgrade_support_type=cfg.upgrade_support_type,
        public_access_cidrs=cfg.public_api_access_cidrs,
        instance_type=cfg.node_instance_type,
        min_size=cfg.node_min_size,
        desired_size=cfg.node_desired_size,
        max_size=cfg.node_max_size,
        log_retention_days=cfg.control_plane_log_retention_days,
        deletion_protection=cfg.deletion_protection,
        app_namespace=APP_NAMESPACE,
        admin_role_arns=cfg.cluster_admin_role_arns,
        viewer_role_arns=cfg.cluster_viewer_role_arns,
        partition=partition,
        tags=tags,
    )
    PlatformAddons(
        "itemsense",
        cluster_name=CLUSTER_NAME,
        region=cfg.region,
        vpc_id=network.vpc_id,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer,
        provider=cluster.provider,
        tags=tags,
    )
    ci = CiAccess(
        "itemsense-ci",
        github_repository=cfg.github_repository,
        environment=cfg.deploy_environment,
        existing_oidc_provider_arn=cfg.github_oidc_provider_arn,
        promote_from_repository_arn=cfg.promote_from_repository_arn,
        kubernetes_groups=[DEPLOYER_GROUP],
        repository_arn=registry.repository_arn,
        cluster_name=CLUSTER_NAME,
        cluster_arn=pulumi.Output.concat(
            "arn:", partition, ":eks:", cfg.region, ":", account_id, ":cluster/", CLUSTER_NAME
        ),
        cluster=cluster.eks_cluster,
        namespaces=[APP_NAMESPACE],
        partition=partition,
        tags=tags,
    )

    outputs: dict[str, pulumi.Output[Any]] = {
        # Secret: it names the endpoint and CA, and `pulumi stack output` should not
        # print it by accident (it holds no credentials: `aws eks get-token` does).
        "kubeconfig": pulumi.Output.secret(cluster.kubeconfig),
        "clusterName": pulumi.Output.from_input(CLUSTER_NAME),
        "region": pulumi.Output.from_input(cfg.region),
        "ecrRepositoryName": registry.repository_name,
        "ecrRepositoryUrl": registry.repository_url,
        "vpcId": network.vpc_id,
        "publicSubnetIds": network.public_subnet_ids,
        "privateSubnetIds": network.private_subnet_ids,
        "ciRoleArn": ci.role_arn,
        "githubOidcProviderArn": ci.oidc_provider_arn,
        "irsaOidcProviderArn": cluster.oidc_provider_arn,
        "deployEnvironment": pulumi.Output.from_input(cfg.deploy_environment),
        **api_certificate(cfg.api_domain, tags),
    }
    if cfg.database_enabled:
        database = Database(
            "itemsense-db",
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            client_security_group_id=cluster.cluster_security_group_id,
            instance_class=cfg.database_instance_class,
            allocated_storage_gb=cfg.database_allocated_storage_gb,
            multi_az=cfg.database_multi_az,
            deletion_protection=cfg.deletion_protection,
            max_connections=cfg.database_max_connections,
            tags=tags,
        )
        outputs["databaseEndpoint"] = database.address
        outputs["databasePort"] = database.port
        outputs["databaseSecretArn"] = database.master_secret_arn
    return outputs
