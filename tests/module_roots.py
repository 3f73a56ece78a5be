"""Terraform roots that call the modules of modules/, pointed at moto, for the end-to-end test
and the benchmark: a copy of modules/ and of a root laid out as in the repository (the
wrappers call ../sxcloud-rules, which only a relative source allows)."""

from __future__ import annotations

import ipaddress
import json
import shutil
from pathlib import Path
from typing import Any

import yaml

import aws_sites

ROOT = Path(__file__).resolve().parent.parent


def copy_modules(tmp: Path) -> None:
    """modules/ into tmp, where the roots below find it."""
    shutil.copytree(ROOT / "modules", tmp / "modules",
                    ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))


def moto_provider(url: str, region: str | None = None) -> str:
    """A provider block for moto; without a region, an override of the root's own block."""
    first = f'  region = "{region}"\n' if region else ""
    return (f'provider "aws" {{\n{first}  skip_credentials_validation = true\n'
            f'  skip_metadata_api_check = true\n'
            f'  endpoints {{\n    ec2 = "{url}"\n    sts = "{url}"\n  }}\n}}\n')


def subnet(url: str, data: dict[str, Any]) -> str:
    """A new subnet in the deployment's VPC (the first /24 of its IPv4 internal network)."""
    v4 = next(n for n in map(ipaddress.ip_network, data["roles"]["internal_network"])
              if n.version == 4)
    client = aws_sites.ec2(url, data["aws"]["region"])
    return client.create_subnet(VpcId=data["aws"]["vpc_id"], CidrBlock=str(
        next(v4.subnets(new_prefix=24))))["Subnet"]["SubnetId"]


def example_root(tmp: Path, data: dict[str, Any], url: str) -> Path:
    """A copy of examples/terraform/aws/ with `data` as its sxcloud.yaml, an override file
    pointing it at moto (as a user would for LocalStack) and a subnet for its interface."""
    root = tmp / "examples" / "terraform" / data["name"]
    shutil.copytree(ROOT / "examples" / "terraform" / "aws", root,
                    ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*", "sxcloud.yaml"))
    (root / "sxcloud.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    (root / "moto_override.tf").write_text(moto_provider(url))
    (root / "terraform.tfvars.json").write_text(json.dumps({"subnet_id": subnet(url, data)}))
    return root


MINIMAL = """
module "fw" {
  source     = "../../../modules/aws-appliance-sg"
  deployment = yamldecode(file("${path.module}/sxcloud.yaml"))
}

output "security_group_id" {
  value = module.fw.security_group_id
}
"""


def minimal_root(tmp: Path, data: dict[str, Any], url: str) -> Path:
    """The provider and the module call alone: the same resources as the CDK stack."""
    root = tmp / "examples" / "terraform" / f"{data['name']}-minimal"
    root.mkdir(parents=True)
    (root / "sxcloud.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    (root / "main.tf").write_text(moto_provider(url, data["aws"]["region"]) + MINIMAL)
    return root
