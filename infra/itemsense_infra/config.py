"""Stack configuration: one typed, validated object read once from Pulumi config.

Every key is declared (type, description, default) in ``Pulumi.yaml``; the
dataclass defaults below must match it (a unit test compares the two).
Validation runs before any resource is declared, so a bad value fails
``pulumi preview`` with a message naming the key instead of failing half-way
through ``pulumi up``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import pulumi

# Names fixed by the shared contract (image, cluster and namespace are `itemsense`).
PROJECT = "itemsense"
CLUSTER_NAME = "itemsense"
REPOSITORY_NAME = "itemsense"
APP_NAMESPACE = "itemsense"

NatStrategy = Literal["single", "one-per-az"]
DeployEnvironment = Literal["staging", "production"]
SupportType = Literal["STANDARD", "EXTENDED"]

MIN_AZS = 2
MAX_AZS = 4  # network.plan_subnets carves at most four private subnets
MAX_PUBLIC_ACCESS_CIDRS = 40  # EKS limit on publicAccessCidrs
# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557}
    | {2922, 3288, 3653}
)

_GITHUB_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
_K8S_MINOR = re.compile(r"^1\.\d{2}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ECR_REPOSITORY_ARN = re.compile(r"^arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository/[a-z0-9._/-]+$")
_OIDC_PROVIDER_ARN = re.compile(
    r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com$"
)


class ConfigError(ValueError):
    """A stack configuration value is missing or invalid."""


@dataclass(frozen=True)
class InfraConfig:
    """Everything the program needs to know about one stack.

    Field names are the snake_case form of the config keys in ``Pulumi.yaml``
    (``azCount`` -> ``az_count``); ``region`` comes from ``aws:region``.
    """

    region: str
    public_api_access_cidrs: tuple[str, ...]
    github_repository: str
    stack: str = "dev"
    az_count: int = 2
    vpc_cidr: str = "10.0.0.0/16"
    kubernetes_version: str = "1.34"
    upgrade_support_type: SupportType = "STANDARD"
    node_instance_type: str = "t3.medium"
    node_min_size: int = 2
    node_desired_size: int = 2
    node_max_size: int = 4
    nat_strategy: NatStrategy = "one-per-az"
    ecr_keep_last_images: int = 30
    control_plane_log_retention_days: int = 90
    deletion_protection: bool = True
    github_oidc_provider_arn: str = ""
    cluster_admin_role_arns: tuple[str, ...] = ()
    cluster_viewer_role_arns: tuple[str, ...] = ()
    database_enabled: bool = False
    database_instance_class: str = "db.t4g.micro"
    database_allocated_storage_gb: int = 20
    database_multi_az: bool = False
    database_max_connections: int = 100
    deploy_environment: DeployEnvironment = "production"
    api_domain: str = ""
    ecr_pull_account_ids: tuple[str, ...] = ()
    promote_from_repository_arn: str = ""

    def __post_init__(self) -> None:
        self._check_network()
        self._check_delivery()
        self._check_cluster()
        self._check_ci()
        self._check_database()
        if not 1 <= self.ecr_keep_last_images <= 1000:
            raise ConfigError("ecrKeepLastImages must be between 1 and 1000")
        if self.control_plane_log_retention_days not in LOG_RETENTION_DAYS:
            raise ConfigError(
                "controlPlaneLogRetentionDays must be a CloudWatch retention period "
                f"(one of {sorted(LOG_RETENTION_DAYS)})"
            )

    def _check_network(self) -> None:
        if not MIN_AZS <= self.az_count <= MAX_AZS:
            raise ConfigError(f"azCount must be between {MIN_AZS} and {MAX_AZS}")
        net = _parse_cidr("vpcCidr", self.vpc_cidr)
        if not 16 <= net.prefixlen <= 20:
            raise ConfigError("vpcCidr must be between /16 and /20 (EKS pods take VPC addresses)")
        if not net.is_private:
            raise ConfigError("vpcCidr must be a private (RFC 1918) range")
        if self.nat_strategy not in ("single", "one-per-az"):
            raise ConfigError("natStrategy must be 'single' or 'one-per-az'")

    def _check_cluster(self) -> None:
        if not self.region:
            raise ConfigError("aws:region is required")
        if not _K8S_MINOR.match(self.kubernetes_version):
            raise ConfigError("kubernetesVersion must be a pinned minor such as '1.34'")
        if self.upgrade_support_type not in ("STANDARD", "EXTENDED"):
            raise ConfigError("upgradeSupportType must be STANDARD or EXTENDED")
        if not 1 <= self.node_min_size <= self.node_desired_size <= self.node_max_size:
            raise ConfigError(
                "node sizes must satisfy 1 <= nodeMinSize <= nodeDesiredSize <= nodeMaxSize"
            )
        if not self.public_api_access_cidrs:
            raise ConfigError("publicApiAccessCidrs must list at least one CIDR")
        if len(self.public_api_access_cidrs) > MAX_PUBLIC_ACCESS_CIDRS:
            raise ConfigError(f"publicApiAccessCidrs allows at most {MAX_PUBLIC_ACCESS_CIDRS}")
        for cidr in self.public_api_access_cidrs:
            _parse_cidr("publicApiAccessCidrs", cidr)

    def _check_ci(self) -> None:
        if not _GITHUB_REPO.match(self.github_repository):
            raise ConfigError("githubRepository must look like 'owner/name'")
        for key, arns in (
            ("clusterAdminRoleArns", self.cluster_admin_role_arns),
            ("clusterViewerRoleArns", self.cluster_viewer_role_arns),
        ):
            for role_arn in arns:
                if not _ROLE_ARN.match(role_arn):
                    raise ConfigError(f"{key}: {role_arn!r} is not an IAM role ARN")
        names = [arn.rsplit("/", 1)[-1] for arn in self.cluster_admin_role_arns]
        names += [arn.rsplit("/", 1)[-1] for arn in self.cluster_viewer_role_arns]
        if len(names) != len(set(names)):
            raise ConfigError(
                "a role may appear once in clusterAdminRoleArns/clusterViewerRoleArns"
            )
        arn = self.github_oidc_provider_arn
        if arn and not _OIDC_PROVIDER_ARN.match(arn):
            raise ConfigError(
                "githubOidcProviderArn must be the ARN of the "
                "token.actions.githubusercontent.com OIDC provider"
            )

    def _check_delivery(self) -> None:
        if self.deploy_environment not in ("staging", "production"):
            raise ConfigError("deployEnvironment must be 'staging' or 'production'")
        if self.api_domain and not _HOSTNAME.match(self.api_domain):
            raise ConfigError("apiDomain must be a lower-case DNS name such as api.example.com")
        for account in self.ecr_pull_account_ids:
            if not _ACCOUNT_ID.match(account):
                raise ConfigError(f"ecrPullAccountIds: {account!r} is not a 12-digit account id")
        arn = self.promote_from_repository_arn
        if arn and not _ECR_REPOSITORY_ARN.match(arn):
            raise ConfigError("promoteFromRepositoryArn must be an ECR repository ARN")

    def _check_database(self) -> None:
        if not 25 <= self.database_max_connections <= 5000:
            raise ConfigError("databaseMaxConnections must be between 25 and 5000")
        if not self.database_instance_class.startswith("db."):
            raise ConfigError("databaseInstanceClass must start with 'db.'")
        if not 20 <= self.database_allocated_storage_gb <= 1000:
            raise ConfigError("databaseAllocatedStorageGb must be between 20 and 1000")

    @property
    def tags(self) -> dict[str, str]:
        """Tags every taggable resource carries (cost allocation, ownership)."""
        return {"project": PROJECT, "stack": self.stack, "managed-by": "pulumi"}


def _parse_cidr(key: str, value: str) -> ipaddress.IPv4Network:
    try:
        # strict: host bits set (10.0.0.1/16) is a typo, not a network.
        return ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ConfigError(f"{key}: {value!r} is not an IPv4 network CIDR ({exc})") from exc


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


_FIELDS = {f.name: f for f in dataclasses.fields(InfraConfig)}
# Config key -> dataclass field, for every key the project declares.
CONFIG_KEYS: dict[str, str] = {
    _camel(name): name for name in _FIELDS if name not in ("region", "stack")
}
# Keys with a default; the others (publicApiAccessCidrs, githubRepository) are required.
DEFAULTS: dict[str, Any] = {
    key: _FIELDS[name].default
    for key, name in CONFIG_KEYS.items()
    if _FIELDS[name].default is not dataclasses.MISSING
}


def _string_list(key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ConfigError(f"{key} must be a list of strings")
    items = cast(Sequence[object], value)
    if not all(isinstance(item, str) for item in items):
        raise ConfigError(f"{key} must be a list of strings")
    return tuple(cast(Sequence[str], items))


def load_config() -> InfraConfig:
    """Read and validate the current stack's configuration."""
    cfg = pulumi.Config(PROJECT)
    values: dict[str, Any] = {
        "region": pulumi.Config("aws").get("region") or "",
        "stack": pulumi.get_stack(),
    }
    for key, field_name in CONFIG_KEYS.items():
        default = DEFAULTS.get(key, dataclasses.MISSING)
        value: Any
        if key == "publicApiAccessCidrs":
            value = _string_list(key, cfg.require_object(key))
        elif isinstance(default, tuple):
            raw = cfg.get_object(key)
            value = None if raw is None else _string_list(key, raw)
        elif default is dataclasses.MISSING:
            value = cfg.require(key)
        elif isinstance(default, bool):  # before int: bool is an int subclass
            value = cfg.get_bool(key)
        elif isinstance(default, int):
            value = cfg.get_int(key)
        else:
            value = cfg.get(key)
        if value is not None:
            values[field_name] = value
    return InfraConfig(**values)
