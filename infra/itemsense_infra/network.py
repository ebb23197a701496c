"""VPC for the cluster: public subnets for load balancers, private ones for nodes.

Layout of a /16 (other sizes scale the same way):

* the VPC is cut into eight /19 blocks; private subnet *i* is block *i*
  (8,190 addresses each, because the VPC CNI gives every pod a VPC address);
* the last /19 is cut into /22s; public subnet *i* is /22 number *i*
  (load balancers and NAT gateways need few addresses);
* blocks 4-6 stay free for later (database or extra subnets).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from itemsense_infra.config import MAX_AZS, NatStrategy


@dataclass(frozen=True)
class SubnetPlan:
    """CIDR blocks for one public and one private subnet per availability zone."""

    public: tuple[str, ...]
    private: tuple[str, ...]


def plan_subnets(vpc_cidr: str, az_count: int) -> SubnetPlan:
    """Carve non-overlapping public and private subnet CIDRs out of ``vpc_cidr``."""
    if not 1 <= az_count <= MAX_AZS:
        raise ValueError(f"az_count must be between 1 and {MAX_AZS}")
    vpc = ipaddress.IPv4Network(vpc_cidr)
    blocks = list(vpc.subnets(prefixlen_diff=3))
    private = blocks[:az_count]
    public = list(blocks[-1].subnets(prefixlen_diff=3))[:az_count]
    return SubnetPlan(
        public=tuple(str(net) for net in public),
        private=tuple(str(net) for net in private),
    )


class Network(pulumi.ComponentResource):
    """VPC, internet gateway, NAT gateway(s), subnets and routes across the given AZs."""

    vpc_id: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnet_ids: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        *,
        cidr: str,
        availability_zones: Sequence[str],
        nat_strategy: NatStrategy,
        cluster_name: str,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("itemsense:infra:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        plan = plan_subnets(cidr, len(availability_zones))
        # Lets the AWS Load Balancer Controller and EKS find the subnets.
        cluster_tag = {f"kubernetes.io/cluster/{cluster_name}": "shared"}

        vpc = aws.ec2.Vpc(
            name,
            cidr_block=cidr,
            enable_dns_hostnames=True,  # EKS private endpoint and nodes need both
            enable_dns_support=True,
            tags={**tags, "Name": name},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(name, vpc_id=vpc.id, tags={**tags, "Name": name}, opts=child)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={**tags, "Name": f"{name}-public"},
            opts=child,
        )

        public_subnets: list[aws.ec2.Subnet] = []
        private_subnets: list[aws.ec2.Subnet] = []
        nat_gateways: list[aws.ec2.NatGateway] = []
        for i, az in enumerate(availability_zones):
            public = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=vpc.id,
                cidr_block=plan.public[i],
                availability_zone=az,
                # Internet-facing NLB/ALB only; nothing launched here needs a public IP.
                map_public_ip_on_launch=False,
                tags={
                    **tags,
                    **cluster_tag,
                    "Name": f"{name}-public-{az}",
                    "kubernetes.io/role/elb": "1",
                },
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}",
                subnet_id=public.id,
                route_table_id=public_rt.id,
                opts=child,
            )
            public_subnets.append(public)
            if nat_strategy == "one-per-az" or i == 0:
                nat_gateways.append(self._nat_gateway(f"{name}-{i}", public, tags, child))

        for i, az in enumerate(availability_zones):
            private = aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=vpc.id,
                cidr_block=plan.private[i],
                availability_zone=az,
                map_public_ip_on_launch=False,
                tags={
                    **tags,
                    **cluster_tag,
                    "Name": f"{name}-private-{az}",
                    "kubernetes.io/role/internal-elb": "1",
                },
                opts=child,
            )
            # With one NAT per AZ, an AZ outage does not cut the others off the internet.
            nat = nat_gateways[i] if nat_strategy == "one-per-az" else nat_gateways[0]
            route_table = aws.ec2.RouteTable(
                f"{name}-private-{i}",
                vpc_id=vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags={**tags, "Name": f"{name}-private-{az}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}",
                subnet_id=private.id,
                route_table_id=route_table.id,
                opts=child,
            )
            private_subnets.append(private)

        self.vpc_id = vpc.id
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public_subnets])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private_subnets])
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "publicSubnetIds": self.public_subnet_ids,
                "privateSubnetIds": self.private_subnet_ids,
            }
        )

    @staticmethod
    def _nat_gateway(
        name: str,
        subnet: aws.ec2.Subnet,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions,
    ) -> aws.ec2.NatGateway:
        eip = aws.ec2.Eip(name, domain="vpc", tags={**tags, "Name": name}, opts=opts)
        return aws.ec2.NatGateway(
            name,
            allocation_id=eip.id,
            subnet_id=subnet.id,
            tags={**tags, "Name": name},
            opts=opts,
        )
