"""The settings that send state, credentials or tokens to a host, and the hosts trusted with them.

A deployment file can point the deploy job's Terraform at any host: the provider's
`aws.endpoints`, and the backend settings below. Whoever runs that host receives what the
setting sends (the state, the job's cloud credentials or tokens, its signed requests), or
answers a request for credentials with their own. So every such setting a change adds or
changes, and every one of a stack the change adds or renames, is a finding unless its host
is trusted: one of the clouds' own service hosts (`cloud_host`), reached over https, or a host
that the review policy file at the base lists (`policyfile`).
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass

#: Per backend type, the settings that name a host, and what that host receives. A setting
#: with a mapping value (the s3 backend's `endpoints`) names one host per service.
BACKEND_HOSTS: dict[str, dict[str, str]] = {
    "s3": {
        "endpoints.s3": "the state, in requests signed with the deploy job's AWS credentials",
        "endpoints.dynamodb": "the state lock, in requests signed with the deploy job's AWS "
                              "credentials",
        "endpoints.iam": "requests signed with the deploy job's AWS credentials",
        "endpoints.sts": "requests signed with the deploy job's AWS credentials (and it "
                         "answers with the credentials the backend then uses)",
        "endpoints.sso": "the deploy job's SSO token",
        "ec2_metadata_service_endpoint": "the job's request for AWS credentials; whoever "
                                         "answers chooses them, and so where the state goes",
        "http_proxy": "every request of the backend, the state included",
        "https_proxy": "every request of the backend, the state included",
    },
    "azurerm": {
        "metadata_host": "the job's request for Azure's endpoints; whoever answers chooses "
                         "where the job's Azure tokens go",
        "oidc_request_url": "the CI's OIDC request token, to obtain an ID token for Azure",
        "msi_endpoint": "the job's request for a managed-identity token; whoever answers "
                        "chooses it",
    },
    "gcs": {"storage_custom_endpoint": "the state, with the job's Google credentials"},
    "http": {
        "address": "the state, with the backend's user name and password",
        "lock_address": "lock requests, with the backend's user name and password",
        "unlock_address": "unlock requests, with the backend's user name and password",
    },
    "remote": {"hostname": "the state, with the job's Terraform API token"},
}

PROVIDER = "the provider's {service} requests, signed with the deploy job's AWS credentials"

#: AWS service hosts: SERVICE[-fips][.dualstack][.REGION].amazonaws.com (or .com.cn, or
#: the dual-stack .api.aws). Only named services: other hosts under amazonaws.com can belong
#: to anyone (a bucket's virtual host, an API Gateway, a load balancer's name).
_AWS_SERVICES = "ec2|iam|sts|s3|dynamodb|portal\\.sso|oidc"
_AWS_HOST = re.compile(rf"(?:{_AWS_SERVICES})(?:-fips)?(?:\.dualstack)?"
                       r"(?:\.[a-z]{2}(?:-[a-z]+)+-\d{1,2})?\.(?:amazonaws\.com(?:\.cn)?|api\.aws)")
#: Azure Resource Manager of the public, US Government and China clouds (the azurerm
#: backend's metadata host is one of them), Google Cloud Storage, HCP Terraform (the remote
#: backend's default host).
_OTHER_CLOUD_HOSTS = frozenset({
    "management.azure.com", "management.usgovcloudapi.net", "management.chinacloudapi.cn",
    "storage.googleapis.com", "app.terraform.io"})
#: The instance metadata services, which only the machine's own cloud answers (over http).
_METADATA = frozenset({"169.254.169.254", "fd00:ec2::254"})


@dataclass(frozen=True)
class HostSetting:
    key: str  # e.g. "aws.backend.endpoints.s3", "aws.endpoints.ec2"
    value: str  # as written
    receives: str  # what the host gets, in words

    @property
    def host(self) -> str:
        """The host the value names (lower case), or the whole value when it names none."""
        return host_of(self.value)


def host_of(value: str) -> str:
    """The host of a URL, or a host name as it is (lower case)."""
    if "://" not in value:
        return value.strip().lower()
    try:
        return (urllib.parse.urlsplit(value).hostname or value).lower()
    except ValueError:
        return value.lower()


def cloud_host(value: str) -> bool:
    """Whether `value` (a URL or a host name) is one of the clouds' own service hosts,
    reached over https (the metadata services: http, as they are only served)."""
    host = host_of(value)
    scheme = value.split("://", 1)[0].lower() if "://" in value else "https"
    if _normalised(host) in _METADATA:
        return True
    return scheme == "https" and (host in _OTHER_CLOUD_HOSTS or bool(_AWS_HOST.fullmatch(host)))


def _normalised(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def of_backend(prefix: str, kind: str, settings: dict[str, object]) -> list[HostSetting]:
    """The host settings of a backend (`prefix`: "aws" or "azure")."""
    out = []
    for key, receives in BACKEND_HOSTS.get(kind, {}).items():
        name, _, inner = key.partition(".")
        value = settings.get(name)
        if inner:
            value = value.get(inner) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            out.append(HostSetting(f"{prefix}.backend.{key}", value, receives))
    return out


def of_endpoints(endpoints: dict[str, str]) -> list[HostSetting]:
    """The provider's endpoints (`aws.endpoints`)."""
    return [HostSetting(f"aws.endpoints.{service}", url, PROVIDER.format(service=service))
            for service, url in sorted(endpoints.items())]
