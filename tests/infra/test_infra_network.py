"""VPC layout: subnets per AZ, tags the load balancer controller needs, NAT routing."""

from __future__ import annotations

import ipaddress
import itertools

import pytest
from infra_harness import Registered, Synth
from itemsense_infra.config import InfraConfig

SUBNET = "aws:ec2/subnet:Subnet"
CLUSTER_TAG = "kubernetes.io/cluster/itemsense"


def subnets(stack: Synth, kind: str) -> list[Registered]:
    """Public or private subnets, told apart by their load-balancer role tag."""
    tag = "kubernetes.io/role/elb" if kind == "public" else "kubernetes.io/role/internal-elb"
    return [s for s in stack.of_type(SUBNET) if tag in s.inputs["tags"]]


def default_route_target(stack: Synth, subnet: Registered) -> str:
    """Id of the gateway the subnet's route table sends 0.0.0.0/0 to."""
    [association] = [
        a
        for a in stack.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
        if a.inputs["subnetId"] == subnet.id
    ]
    table = stack.by_id(association.inputs["routeTableId"])
    [route] = [r for r in table.inputs["routes"] if r["cidrBlock"] == "0.0.0.0/0"]
    return str(route.get("natGatewayId") or route.get("gatewayId"))


@pytest.mark.parametrize("which", ["default", "custom"])
def test_one_public_and_one_private_subnet_per_az_inside_the_vpc(
    which: str, request: pytest.FixtureRequest
) -> None:
    stack: Synth = request.getfixturevalue(f"{which}_stack")
    cfg: InfraConfig = request.getfixturevalue(f"{which}_cfg")
    vpc = ipaddress.IPv4Network(stack.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"])
    assert str(vpc) == cfg.vpc_cidr
    all_subnets = stack.of_type(SUBNET)
    assert len(all_subnets) == 2 * cfg.az_count
    for kind in ("public", "private"):
        zones = [s.inputs["availabilityZone"] for s in subnets(stack, kind)]
        assert len(set(zones)) == cfg.az_count, f"{kind} subnets share a zone: {zones}"
    networks = [ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in all_subnets]
    assert all(net.subnet_of(vpc) for net in networks)
    for a, b in itertools.combinations(networks, 2):
        assert not a.overlaps(b), (a, b)


def test_subnets_carry_the_elb_role_and_cluster_tags(default_stack: Synth) -> None:
    public, private = subnets(default_stack, "public"), subnets(default_stack, "private")
    assert len(public) == len(private) == 2
    for subnet in public:
        assert subnet.inputs["tags"]["kubernetes.io/role/elb"] == "1"
        assert "kubernetes.io/role/internal-elb" not in subnet.inputs["tags"]
    for subnet in private:
        assert subnet.inputs["tags"]["kubernetes.io/role/internal-elb"] == "1"
        assert "kubernetes.io/role/elb" not in subnet.inputs["tags"]
    for subnet in public + private:
        assert subnet.inputs["tags"][CLUSTER_TAG] == "shared"
        assert subnet.inputs["tags"]["project"] == "itemsense"


def test_no_subnet_gives_instances_a_public_ip(default_stack: Synth) -> None:
    for subnet in default_stack.of_type(SUBNET):
        assert subnet.inputs["mapPublicIpOnLaunch"] is False, subnet.name


def test_vpc_has_dns_hostnames_and_support(default_stack: Synth) -> None:
    vpc = default_stack.one("aws:ec2/vpc:Vpc")
    assert vpc.inputs["enableDnsHostnames"] is True
    assert vpc.inputs["enableDnsSupport"] is True


def test_public_subnets_route_to_the_internet_gateway(default_stack: Synth) -> None:
    igw = default_stack.one("aws:ec2/internetGateway:InternetGateway")
    assert igw.inputs["vpcId"] == default_stack.one("aws:ec2/vpc:Vpc").id
    for subnet in subnets(default_stack, "public"):
        assert default_route_target(default_stack, subnet) == igw.id


def test_one_per_az_nat_keeps_each_zones_egress_in_that_zone(default_stack: Synth) -> None:
    nats = default_stack.of_type("aws:ec2/natGateway:NatGateway")
    assert len(nats) == 2
    public_by_id = {s.id: s for s in subnets(default_stack, "public")}
    nat_zone = {n.id: public_by_id[n.inputs["subnetId"]].inputs["availabilityZone"] for n in nats}
    for subnet in subnets(default_stack, "private"):
        target = default_route_target(default_stack, subnet)
        assert target in nat_zone, f"{subnet.name} does not route through a NAT gateway"
        assert nat_zone[target] == subnet.inputs["availabilityZone"]
    # Each NAT gateway has its own Elastic IP.
    assert len({n.inputs["allocationId"] for n in nats}) == 2


def test_single_nat_serves_every_private_subnet(custom_stack: Synth) -> None:
    [nat] = custom_stack.of_type("aws:ec2/natGateway:NatGateway")
    assert nat.inputs["subnetId"] in {s.id for s in subnets(custom_stack, "public")}
    private = subnets(custom_stack, "private")
    assert len(private) == 3
    for subnet in private:
        assert default_route_target(custom_stack, subnet) == nat.id
