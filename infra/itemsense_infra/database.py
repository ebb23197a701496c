"""Optional RDS PostgreSQL 15 for users who do not bring their own database."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

POSTGRES_PORT = 5432
POSTGRES_MAJOR = "15"  # the shared contract: PostgreSQL 15 in production


class Database(pulumi.ComponentResource):
    """Private, encrypted PostgreSQL reachable only from the cluster's security group.

    The master password is generated and rotated by RDS in Secrets Manager
    (``manage_master_user_password``): it never passes through Pulumi state.
    """

    address: pulumi.Output[str]
    port: pulumi.Output[int]
    master_secret_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        vpc_id: pulumi.Input[str],
        subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]],
        client_security_group_id: pulumi.Input[str],
        instance_class: str,
        allocated_storage_gb: int,
        multi_az: bool,
        deletion_protection: bool,
        max_connections: int,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("itemsense:infra:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        subnet_group = aws.rds.SubnetGroup(name, subnet_ids=subnet_ids, tags=tags, opts=child)
        security_group = aws.ec2.SecurityGroup(
            name,
            vpc_id=vpc_id,
            description="PostgreSQL from the EKS cluster security group only",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    description="PostgreSQL from EKS nodes and pods",
                    protocol="tcp",
                    from_port=POSTGRES_PORT,
                    to_port=POSTGRES_PORT,
                    security_groups=[client_security_group_id],
                )
            ],
            # No egress rules: the database starts no connections of its own.
            tags={**tags, "Name": name},
            opts=child,
        )
        parameters = aws.rds.ParameterGroup(
            name,
            family=f"postgres{POSTGRES_MAJOR}",
            description="itemsense: TLS required, fixed connection limit",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
                # Fixed instead of derived from the instance's memory, so the connection
                # budget of the overlays (replicas x pool) is checked against a known number.
                aws.rds.ParameterGroupParameterArgs(
                    name="max_connections",
                    value=str(max_connections),
                    apply_method="pending-reboot",
                ),
            ],
            tags=tags,
            opts=child,
        )
        instance = aws.rds.Instance(
            name,
            identifier=name,
            engine="postgres",
            engine_version=POSTGRES_MAJOR,  # major pinned; RDS applies minor versions
            auto_minor_version_upgrade=True,
            # Past end of standard support, fail loudly rather than bill extended support.
            engine_lifecycle_support="open-source-rds-extended-support-disabled",
            instance_class=instance_class,
            allocated_storage=allocated_storage_gb,
            max_allocated_storage=allocated_storage_gb * 5,  # storage autoscaling ceiling
            storage_type="gp3",
            storage_encrypted=True,
            db_name="itemsense",
            username="itemsense",
            manage_master_user_password=True,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[security_group.id],
            parameter_group_name=parameters.name,
            publicly_accessible=False,
            multi_az=multi_az,
            backup_retention_period=7,
            copy_tags_to_snapshot=True,
            deletion_protection=deletion_protection,
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{name}-final",
            tags=tags,
            opts=child,
        )

        self.address = instance.address
        self.port = instance.port
        self.master_secret_arn = instance.master_user_secrets.apply(
            lambda secrets: (secrets[0].secret_arn or "") if secrets else ""
        )
        self.register_outputs({"address": self.address, "secretArn": self.master_secret_arn})
