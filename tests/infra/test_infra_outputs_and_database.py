"""Stack outputs, and the optional RDS PostgreSQL (off by default)."""

from __future__ import annotations

import pytest
from infra_harness import Synth
from itemsense_infra.config import InfraConfig

BASE_OUTPUTS = {
    "kubeconfig",
    "clusterName",
    "region",
    "ecrRepositoryName",
    "ecrRepositoryUrl",
    "vpcId",
    "publicSubnetIds",
    "privateSubnetIds",
    "ciRoleArn",
    "githubOidcProviderArn",
    "irsaOidcProviderArn",
    "deployEnvironment",
}
HTTP_OUTPUTS = {"apiWarning"}
HTTPS_OUTPUTS = {"apiUrl", "apiCertificateArn", "apiCertificateValidation"}
DATABASE_OUTPUTS = {"databaseEndpoint", "databasePort", "databaseSecretArn"}
RDS_TYPES = (
    "aws:rds/instance:Instance",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:ec2/securityGroup:SecurityGroup",
)


def test_outputs_name_the_real_resources(default_stack: Synth) -> None:
    outputs = default_stack.outputs
    assert set(outputs) == BASE_OUTPUTS | HTTP_OUTPUTS
    subnets = default_stack.of_type("aws:ec2/subnet:Subnet")
    public = [s.id for s in subnets if "kubernetes.io/role/elb" in s.inputs["tags"]]
    private = [s.id for s in subnets if "kubernetes.io/role/internal-elb" in s.inputs["tags"]]
    assert outputs["publicSubnetIds"] == public
    assert outputs["privateSubnetIds"] == private
    assert outputs["vpcId"] == default_stack.one("aws:ec2/vpc:Vpc").id
    assert outputs["clusterName"] == "itemsense"
    assert outputs["region"] == "eu-west-1"
    assert outputs["ecrRepositoryName"] == "itemsense"
    assert outputs["ecrRepositoryUrl"].endswith(".dkr.ecr.eu-west-1.amazonaws.com/itemsense")
    [deploy] = [r for r in default_stack.of_type("aws:iam/role:Role") if r.name.endswith("-deploy")]
    assert outputs["ciRoleArn"] == deploy.state["arn"]
    provider = default_stack.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert outputs["githubOidcProviderArn"] == provider.state["arn"]


def test_kubeconfig_is_exported_as_a_secret_and_nothing_else_is(default_stack: Synth) -> None:
    assert default_stack.secret_outputs == {"kubeconfig"}
    assert default_stack.outputs["kubeconfig"]["kind"] == "Config"


def test_no_database_unless_enabled(default_stack: Synth) -> None:
    for typ in RDS_TYPES:
        assert default_stack.of_type(typ) == [], typ
    assert not DATABASE_OUTPUTS & set(default_stack.outputs)


@pytest.mark.parametrize("which", ["database", "custom"])
def test_enabled_database_is_private_encrypted_protected_postgres_15(
    which: str, request: pytest.FixtureRequest
) -> None:
    custom_stack: Synth = request.getfixturevalue(f"{which}_stack")
    cfg: InfraConfig = request.getfixturevalue(f"{which}_cfg")
    db = custom_stack.one("aws:rds/instance:Instance").inputs
    assert (db["engine"], db["engineVersion"]) == ("postgres", "15")
    assert db["storageEncrypted"] is True
    assert db["publiclyAccessible"] is False
    assert db["instanceClass"] == cfg.database_instance_class
    assert db["multiAz"] is cfg.database_multi_az
    assert db["deletionProtection"] is cfg.deletion_protection
    assert db["skipFinalSnapshot"] is False
    assert db["backupRetentionPeriod"] >= 7
    # RDS generates and keeps the password in Secrets Manager; none passes through Pulumi.
    assert db["manageMasterUserPassword"] is True
    assert "password" not in db
    subnet_group = custom_stack.one("aws:rds/subnetGroup:SubnetGroup")
    assert db["dbSubnetGroupName"] == subnet_group.state["name"]
    assert subnet_group.inputs["subnetIds"] == custom_stack.outputs["privateSubnetIds"]
    params = custom_stack.one("aws:rds/parameterGroup:ParameterGroup")
    assert db["parameterGroupName"] == params.state["name"]
    assert params.inputs["family"] == "postgres15"
    settings = {p["name"]: p["value"] for p in params.inputs["parameters"]}
    assert settings["rds.force_ssl"] == "1"  # clients must use TLS (sslmode=require)
    # The connection budget of the overlays is tested against this number.
    assert settings["max_connections"] == str(cfg.database_max_connections)


def test_database_accepts_postgres_only_from_the_cluster_security_group(
    custom_stack: Synth,
) -> None:
    group = custom_stack.one("aws:ec2/securityGroup:SecurityGroup")
    assert group.inputs["vpcId"] == custom_stack.outputs["vpcId"]
    assert group.inputs["ingress"] == [
        {
            "description": "PostgreSQL from EKS nodes and pods",
            "protocol": "tcp",
            "fromPort": 5432,
            "toPort": 5432,
            "securityGroups": ["sg-eks-cluster"],  # the EKS cluster SG the managed nodes use
        }
    ]
    assert "egress" not in group.inputs
    db = custom_stack.one("aws:rds/instance:Instance").inputs
    assert db["vpcSecurityGroupIds"] == [group.id]


def test_database_outputs_when_enabled(custom_stack: Synth) -> None:
    outputs = custom_stack.outputs
    assert set(outputs) == BASE_OUTPUTS | DATABASE_OUTPUTS | HTTPS_OUTPUTS
    assert outputs["databaseEndpoint"].endswith(".rds.amazonaws.com")
    assert outputs["databasePort"] == 5432
    assert outputs["databaseSecretArn"].startswith("arn:aws:secretsmanager:")


def test_without_a_domain_the_stack_warns_loudly_and_requests_no_certificate(
    default_stack: Synth,
) -> None:
    assert default_stack.of_type("aws:acm/certificate:Certificate") == []
    warning = default_stack.outputs["apiWarning"]
    assert warning.startswith("WARNING:")
    assert "PLAIN HTTP" in warning
    assert "apiDomain" in warning


def test_with_a_domain_the_stack_requests_a_dns_validated_certificate(
    custom_stack: Synth, custom_cfg: InfraConfig
) -> None:
    certificate = custom_stack.one("aws:acm/certificate:Certificate")
    assert certificate.inputs["domainName"] == custom_cfg.api_domain
    assert certificate.inputs["validationMethod"] == "DNS"
    outputs = custom_stack.outputs
    assert outputs["apiUrl"] == f"https://{custom_cfg.api_domain}"
    assert outputs["apiCertificateArn"] == certificate.state["arn"]
    [record] = outputs["apiCertificateValidation"]
    assert record["resource_record_type"] == "CNAME", record  # the record to create in DNS
