"""The examples, made deployable to moto: each gets a VPC in its region, and the objects its
bindings name (peer security groups, managed prefix lists), all created through boto3; the
file then points at them and at moto (aws.endpoints ec2 and sts), with the default local
backend (a path relative to the stack folder).

Also what the tests need to know about moto's known difference from AWS (MOTO_DROPS_*).
"""

from __future__ import annotations

import copy
import ipaddress
from pathlib import Path
from typing import Any, Iterable

import boto3
import yaml

from sxcloud.aws.plan import PREFIX_LIST, SECURITY_GROUP, SgRule

#: moto 5.2.5 keeps the description given when a rule is created (AuthorizeSecurityGroup-
#: Ingress/Egress) only for CIDR peers: for a rule whose peer is a security group or a
#: prefix list, in either direction, DescribeSecurityGroupRules then returns no description.
#: AWS returns the description it was given. A later ModifySecurityGroupRules (Terraform's
#: in-place update) does store it, and moto returns it from then on. So right after the
#: apply that creates such rules, audit sees their descriptions as changed and Terraform
#: plans to set them again, once. The tests expect exactly that, for exactly those rules.
MOTO_DROPS_DESCRIPTION_OF = (SECURITY_GROUP, PREFIX_LIST)

#: moto 5.x answers AuthorizeSecurityGroupEgress for a protocol without ports (ESP, 50) with
#: a 500 Internal Server Error, which the aws provider retries until its timeout; AWS accepts
#: it (test_exceptions_synth.py validates such a rule with the real provider). So on_moto
#: leaves out the site exceptions for a protocol number (examples/exceptions-both.yaml's
#: X-vpn-esp).
MOTO_REFUSES_PROTOCOL_NUMBERS = True


def moto_description_loss(rules: Iterable[SgRule]) -> list[SgRule]:
    """Of rules just created in moto, those whose description moto drops (see above)."""
    return [r for r in rules if r.peer.kind in MOTO_DROPS_DESCRIPTION_OF]


def ec2(url: str, region: str) -> Any:
    """A plain (unfenced) EC2 client on moto, for setting up and for out-of-band changes."""
    return boto3.client("ec2", region_name=region, endpoint_url=url)


def on_moto(example: Path, url: str) -> dict[str, Any]:
    """The example's deployment data, pointed at new objects in moto (without what moto
    refuses: MOTO_REFUSES_PROTOCOL_NUMBERS)."""
    data = copy.deepcopy(yaml.safe_load(example.read_text()))
    aws = data["aws"]
    client = ec2(url, aws["region"])
    networks = [ipaddress.ip_network(c) for c in data["roles"]["internal_network"]]
    v4 = next(n for n in networks if n.version == 4)
    vpc = client.create_vpc(CidrBlock=str(v4))["Vpc"]["VpcId"]
    if data.get("appliance", {}).get("ipv6"):
        client.associate_vpc_cidr_block(VpcId=vpc, AmazonProvidedIpv6CidrBlock=True)
    bindings: dict[str, dict[str, list[str]]] = {}
    for role, binding in aws.get("bindings", {}).items():
        bound: dict[str, list[str]] = {}
        for index, _ in enumerate(binding.get("security_group_ids", [])):
            bound.setdefault("security_group_ids", []).append(client.create_security_group(
                GroupName=f"{data['name']}-{role}-{index}", VpcId=vpc,
                Description=f"stands for {role} in the tests")["GroupId"])
        for index, _ in enumerate(binding.get("prefix_list_ids", [])):
            cidrs = data["roles"].get(role) or [str(next(v4.subnets(new_prefix=24)))]
            bound.setdefault("prefix_list_ids", []).append(client.create_managed_prefix_list(
                PrefixListName=f"{data['name']}-{role}-{index}", AddressFamily="IPv4",
                MaxEntries=len(cidrs) + 1, Entries=[{"Cidr": c} for c in cidrs],
            )["PrefixList"]["PrefixListId"])
        bindings[role] = bound
    aws.update(vpc_id=vpc, endpoints={"ec2": url, "sts": url})
    if bindings:
        aws["bindings"] = bindings
    aws.pop("backend", None)  # the default: local, terraform.tfstate beside cdk.tf.json
    if MOTO_REFUSES_PROTOCOL_NUMBERS and "exceptions" in data:
        data["exceptions"] = [e for e in data["exceptions"] if not isinstance(e["protocol"], int)]
    return data


def write(data: dict[str, Any], folder: Path) -> Path:
    """The deployment data as a file (audit reads files)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def aws_examples(paths: list[Path]) -> list[Path]:
    """The examples that have an aws section."""
    return [p for p in paths if "aws" in (yaml.safe_load(p.read_text()) or {})]
