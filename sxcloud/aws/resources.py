"""The AWS resource types the stack uses, declared over the CDK core (no provider package).

Attribute names and shapes are those of terraform-provider-aws; tests check them against
the real provider (`terraform validate`) and against the prebuilt cdktn-provider-aws classes.
"""

from __future__ import annotations

from ..cdk import Construct, Reference, TypedProvider, TypedResource
from . import attributes

#: Admits aws 5.x and 6.x (the image's mirror holds 5.100.0; the registry serves 6.x).
VERSION = ">= 5.0, < 7.0"


class _Aws(TypedResource):
    PROVIDER = "aws"
    VERSION = VERSION


class AwsProvider(TypedProvider):
    PROVIDER = "aws"
    SOURCE = "hashicorp/aws"
    VERSION = VERSION

    def __init__(self, scope: Construct, id_: str, *, region: str,
                 endpoints: dict[str, str] | None = None) -> None:
        custom = bool(endpoints)  # a LocalStack-style endpoint has no real account behind it
        # Without an account id the provider cannot tell a referenced group of the same
        # account from another account's: it reads such rules back as "<account>/sg-..." and
        # plans an update on every run. So the account id is skipped only when no STS
        # endpoint can answer for it.
        no_sts = custom and "sts" not in endpoints  # type: ignore[operator]
        super().__init__(scope, id_, {
            "region": region,
            "endpoints": [dict(endpoints)] if custom else None,
            "skip_credentials_validation": True if custom else None,
            "skip_metadata_api_check": "true" if custom else None,
            "skip_requesting_account_id": True if no_sts else None,
        })


class SecurityGroup(_Aws):
    TYPE = attributes.GROUP_TYPE

    def __init__(self, scope: Construct, id_: str, *, name: str, description: str, vpc_id: str,
                 tags: dict[str, str]) -> None:
        super().__init__(scope, id_, {"name": name, "description": description,
                                      "vpc_id": vpc_id, "tags": dict(tags)})

    @property
    def id(self) -> Reference:
        return self.ref("id")


class _SecurityGroupRule(_Aws):
    def __init__(self, scope: Construct, id_: str, *, security_group_id: str, ip_protocol: str,
                 description: str, from_port: int | None = None, to_port: int | None = None,
                 cidr_ipv4: str | None = None, cidr_ipv6: str | None = None,
                 prefix_list_id: str | None = None,
                 referenced_security_group_id: str | None = None,
                 tags: dict[str, str] | None = None) -> None:
        super().__init__(scope, id_, {
            "security_group_id": security_group_id, "ip_protocol": ip_protocol,
            "from_port": from_port, "to_port": to_port, "cidr_ipv4": cidr_ipv4,
            "cidr_ipv6": cidr_ipv6, "prefix_list_id": prefix_list_id,
            "referenced_security_group_id": referenced_security_group_id,
            "description": description, "tags": tags,
        })


class IngressRule(_SecurityGroupRule):
    TYPE = attributes.INGRESS_TYPE


class EgressRule(_SecurityGroupRule):
    TYPE = attributes.EGRESS_TYPE
