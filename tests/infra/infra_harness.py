"""Runs the Pulumi program against recording mocks: no CLI, no cloud, no network.

`synthesize(cfg)` declares the whole stack with `pulumi.runtime.set_mocks`,
records every resource registration (type, name, inputs) and resolves the stack
outputs, so tests assert on plain dictionaries. Remote components (pulumi-eks
`Cluster`, `ManagedNodeGroup`) are registered as one resource each; their
children are created by the eks provider, which mocks never run.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi

from app import PROJECT_ROOT

INFRA_DIR = PROJECT_ROOT / "infra"
if str(INFRA_DIR) not in sys.path:
    sys.path.insert(0, str(INFRA_DIR))  # the program is run from infra/ by the Pulumi CLI

ACCOUNT_ID = "123456789012"
ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c", "eu-west-1d"]
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/platform-admins"
VIEWER_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/ci/itemsense-infra-preview"
PROMOTE_FROM = "arn:aws:ecr:eu-west-1:111111111111:repository/itemsense"
OIDC_ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
EXISTING_PROVIDER = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/token.actions.githubusercontent.com"


@dataclass(frozen=True)
class Registered:
    """One resource registration as the engine would have received it."""

    typ: str
    name: str
    inputs: dict[str, Any]
    id: str
    state: dict[str, Any]


@dataclass
class Synth:
    """Everything one run of the program declared."""

    resources: list[Registered] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, typ: str) -> list[Registered]:
        """All registrations of a Pulumi type token, sorted by name.

        Registrations reach the mock monitor from several threads, so their arrival
        order varies between runs; names (`...-private-0`, `-1`, ...) do not.
        """
        return sorted((r for r in self.resources if r.typ == typ), key=lambda r: r.name)

    def one(self, typ: str) -> Registered:
        """The single registration of ``typ`` (fails if there are none or several)."""
        found = self.of_type(typ)
        assert len(found) == 1, f"expected one {typ}, found {[r.name for r in found]}"
        return found[0]

    def by_id(self, resource_id: str) -> Registered:
        """The registration whose mock id is ``resource_id``."""
        return next(r for r in self.resources if r.id == resource_id)


class RecordingMocks(pulumi.runtime.Mocks):
    """Returns plausible provider outputs and records every registration."""

    def __init__(self, synth: Synth) -> None:
        self.synth = synth

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        """Give each resource a readable id and the computed outputs the program reads."""
        state = dict(args.inputs)
        resource_id = f"{args.name}-id"
        short = args.typ.rsplit(":", 1)[-1]
        arn_prefix = f"arn:aws:{args.typ.split(':')[1].split('/')[0]}:eu-west-1:{ACCOUNT_ID}"
        state.setdefault("arn", f"{arn_prefix}:{short.lower()}/{args.name}")
        state.setdefault("name", f"{args.name}-0a1b2c")  # what autonaming would produce
        if args.typ == "aws:ec2/subnet:Subnet":
            resource_id = f"subnet-{args.name}"
        elif args.typ == "aws:ec2/vpc:Vpc":
            resource_id = "vpc-itemsense"
        elif args.typ == "aws:ec2/natGateway:NatGateway":
            resource_id = f"nat-{args.name}"
        elif args.typ == "aws:ecr/repository:Repository":
            name = args.inputs["name"]
            state["arn"] = f"arn:aws:ecr:eu-west-1:{ACCOUNT_ID}:repository/{name}"
            state["repositoryUrl"] = f"{ACCOUNT_ID}.dkr.ecr.eu-west-1.amazonaws.com/{name}"
        elif args.typ == "aws:iam/role:Role":
            state["arn"] = f"arn:aws:iam::{ACCOUNT_ID}:role/{args.name}"
        elif args.typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            host = str(args.inputs["url"]).removeprefix("https://")
            state["arn"] = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{host}"
        elif args.typ == "aws:acm/certificate:Certificate":
            state["domainValidationOptions"] = [
                {
                    "domainName": args.inputs["domainName"],
                    "resourceRecordName": f"_x.{args.inputs['domainName']}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": "_y.acm-validations.aws.",
                }
            ]
        elif args.typ == "aws:kms/key:Key":
            state["arn"] = f"arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/{args.name}"
        elif args.typ == "eks:index:Cluster":
            state.update(_eks_cluster_outputs())
        elif args.typ == "aws:rds/instance:Instance":
            state["address"] = f"{args.name}.abc.eu-west-1.rds.amazonaws.com"
            state["port"] = 5432
            state["masterUserSecrets"] = [
                {"secretArn": f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT_ID}:secret:rds!db-1"}
            ]
        self.synth.resources.append(
            Registered(args.typ, args.name, dict(args.inputs), resource_id, state)
        )
        return resource_id, state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Answer the data-source invokes the program makes (no failures: an empty list)."""
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": list(reversed(ZONES)), "zoneIds": ["euw1-az1"] * len(ZONES)}, []
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}, []
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": "arn:aws:iam::123456789012:user/ops"}, []
        if args.token == "aws:iam/getPolicyDocument:getPolicyDocument":
            return {"json": json.dumps({"Statement": args.args.get("statements", [])})}, []
        raise AssertionError(f"unexpected invoke {args.token}")


def _eks_cluster_outputs() -> dict[str, Any]:
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubernetes", "cluster": {"server": "https://ABC.eks.aws"}}],
        "users": [{"name": "aws", "user": {"exec": {"command": "aws", "args": ["eks"]}}}],
    }
    return {
        "kubeconfig": kubeconfig,
        "kubeconfigJson": json.dumps(kubeconfig),
        "clusterSecurityGroupId": "sg-eks-cluster",
        "oidcProviderArn": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{OIDC_ISSUER}",
        "oidcIssuer": OIDC_ISSUER,
    }


def synthesize(build_outputs: Any, cfg: Any) -> Synth:
    """Run ``build_outputs(cfg)`` under mocks and return what it declared and exported."""
    synth = Synth()
    pulumi.runtime.set_mocks(
        RecordingMocks(synth), project="itemsense", stack="test", preview=False
    )

    def run() -> pulumi.Output[None]:
        outputs: dict[str, pulumi.Output[Any]] = build_outputs(cfg)
        names = list(outputs)
        flags = [_awaited(outputs[n].is_secret()) for n in names]

        def record(values: list[Any]) -> None:
            resolved, secret = values[: len(names)], values[len(names) :]
            synth.outputs.update(zip(names, resolved, strict=True))
            synth.secret_outputs.update(n for n, s in zip(names, secret, strict=True) if s)

        return pulumi.Output.all(*[outputs[n] for n in names], *flags).apply(record)

    # runtime.test runs `run` inside the Pulumi event loop and waits for every
    # registration and invoke it started.
    cast(Callable[[Callable[[], object]], Callable[[], None]], pulumi.runtime.test)(run)()
    return synth


def _awaited(value: Awaitable[bool]) -> pulumi.Output[bool]:
    return cast("pulumi.Output[bool]", pulumi.Output.from_input(cast(Any, value)))
