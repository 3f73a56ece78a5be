"""Reading a deployment's live NSG from Azure Resource Manager, and nothing but reading.

One read, nothing written: `GET` of the NSG through azure-mgmt-network's
`network_security_groups.get`, which returns the security rules and the default rules in one
consistent answer and needs only `Microsoft.Network/networkSecurityGroups/read`. (Listing the
rules through `security_rules.list` would need a second permission and several pages.)
The comparison is `sxcloud.azure.drift` against `sxcloud.azure.plan.plan`; the command
around both is sxcloud.commands.audit.azure.

The Azure SDK is imported inside `read` (and the credential comes from
sxcloud.azure.credentials, which imports it), so that other commands never load it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import InputError
from . import drift

DEFAULT_ENDPOINT = "https://management.azure.com"
PERMISSION = "Microsoft.Network/networkSecurityGroups/read"

#: The Resource Manager hosts of the Azure clouds: global Azure, Azure Government, Azure
#: operated by 21Vianet (China). Source: Microsoft Learn, "Regional code names and
#: endpoints" (learn.microsoft.com/azure/media-services/latest/azure-regions-code-names, and
#: docs.azure.cn/media-services/latest/azure-regions-code-names for China); the same three
#: as azure-mgmt-core's `get_arm_endpoints` (a test holds them equal).
ARM_HOSTS = ("management.azure.com", "management.usgovcloudapi.net",
             "management.chinacloudapi.cn")
#: Token audiences of those clouds (same source, "Token audience"), beside the ARM hosts
#: themselves: a token for one of them opens that cloud, wherever it is sent.
ARM_AUDIENCE_HOSTS = (*ARM_HOSTS, "management.core.windows.net",
                      "management.core.usgovcloudapi.net", "management.core.chinacloudapi.cn")

#: Seconds to wait for a connection and for each answer (azure-core waits 300 s to read),
#: and retries after the first try (azure-core's default is 10, with growing back-off).
TIMEOUT = 20.0
RETRIES = 2


@dataclass(frozen=True)
class Target:
    """Where the audited NSG lives, for the request and for every message."""

    file: Path
    stack: str
    subscription: str
    resource_group: str
    nsg_name: str
    endpoint: str

    @property
    def nsg_id(self) -> str:
        return drift.arm_id(self.subscription, self.resource_group, "networkSecurityGroups",
                            self.nsg_name)

    def describe(self) -> str:
        return (f"network security group {self.nsg_name} in resource group "
                f"{self.resource_group} (subscription {self.subscription})")


def read(target: Target, credential: Any, credential_name: str, scope: str,
         api_version: str | None, timeout: float = TIMEOUT) -> Any:
    """The NSG as azure-mgmt-network returns it; every failure becomes an InputError.

    `credential` (from sxcloud.azure.credentials.choose) signs the request for `scope`;
    `timeout` bounds connecting and each read, and a request is retried RETRIES times.
    """
    return get(target, credential, credential_name, scope, api_version, timeout,
               Resource(target.describe(), PERMISSION, (target.file, "azure"),
                        f"Has the stack {target.stack} been applied, to this subscription?"),
               lambda client, kwargs: client.network_security_groups.get(
                   target.resource_group, target.nsg_name, **kwargs))


@dataclass(frozen=True)
class Resource:
    """What one GET reads, for its messages: how to name it, the permission it needs,
    where a problem with it is reported (file or "command line", key), and a hint for a
    404."""

    describe: str
    permission: str
    source: tuple[Path | str, str]
    not_found_hint: str


def get(target: Target, credential: Any, credential_name: str, scope: str,
        api_version: str | None, timeout: float, resource: Resource,
        call: Callable[[Any, dict[str, str]], Any]) -> Any:
    """`call(client, kwargs)` with a NetworkManagementClient for `target`'s subscription and
    endpoint; every failure becomes an InputError about `resource`."""
    from azure.core.exceptions import (AzureError, ClientAuthenticationError, DecodeError,
                                       DeserializationError, HttpResponseError,
                                       ResourceNotFoundError, ServiceRequestError,
                                       ServiceResponseTimeoutError)
    from azure.mgmt.network import NetworkManagementClient

    # azure-identity logs each credential it tried as a warning; the error below says it once.
    logging.getLogger("azure").setLevel(logging.ERROR)
    kwargs = {"api_version": api_version} if api_version else {}

    def problem(message: str) -> InputError:
        return InputError.one(*resource.source, message)

    try:
        with NetworkManagementClient(credential, target.subscription, base_url=target.endpoint,
                                     credential_scopes=[scope], connection_timeout=timeout,
                                     read_timeout=timeout, retry_total=RETRIES) as client:
            return call(client, kwargs)
    except ResourceNotFoundError as error:
        raise _not_found(target, resource, error) from None
    except ClientAuthenticationError as error:
        if error.response is None:  # the credential could not get a token at all
            reason = _first_line(error.message).rstrip(".")
            raise problem(f"{credential_name} could not get a token for {scope}: "
                          f"{reason}. Sign in (az login), run where a managed or workload "
                          "identity is available, or set SXCLOUD_AZURE_TOKEN") from None
        raise problem(f"{target.endpoint} refused {credential_name} "
                      f"({_arm_error(error)}): use a valid, unexpired token for {scope} of "
                      f"an identity that holds {resource.permission} on the "
                      f"{resource.describe}") from None
    except DecodeError as error:  # an HttpResponseError whose body is not JSON
        raise problem(f"the answer of {target.endpoint} ({error.status_code}) is not "
                      f"the JSON ARM sends: {_first_line(str(error))}; is it a Resource "
                      "Manager endpoint?") from None
    except UnicodeDecodeError as error:  # azure-core decodes a body before it checks it
        raise problem(f"the answer of {target.endpoint} is not the JSON ARM sends: "
                      f"it is not UTF-8 text ({error.reason} at byte {error.start}); is it "
                      "a Resource Manager endpoint?") from None
    except HttpResponseError as error:
        if error.status_code == 403:
            raise problem(f"access denied ({_arm_error(error)}): the identity needs "
                          f"{resource.permission} on the {resource.describe}, for example "
                          "through the Reader or Network Contributor role") from None
        raise problem(f"{target.endpoint} answered {error.status_code} "
                      f"({_arm_error(error)}) when reading the {resource.describe}") from None
    except ServiceRequestError as error:
        raise InputError.one("command line", "--arm-endpoint", f"cannot reach {target.endpoint}: "
                             f"{_first_line(str(error))} (TLS certificates are verified "
                             "against REQUESTS_CA_BUNDLE when it is set)") from None
    except ServiceResponseTimeoutError as error:
        raise InputError.one("command line", "--arm-endpoint", f"{target.endpoint} did not "
                             f"answer ({_first_line(str(error))}; tried {RETRIES + 1} times, "
                             "--timeout seconds each)") from None
    except (AzureError, DeserializationError) as error:  # a broken or foreign answer
        raise problem(f"reading the {resource.describe} from {target.endpoint} "
                      f"failed: {type(error).__name__}: {_first_line(str(error))}") from None


def _not_found(target: Target, resource: Resource, error: Any) -> InputError:
    code = error.error.code if error.error else ""
    if code == "ResourceGroupNotFound":
        return InputError.one(target.file, "azure.resource_group",
                              f"resource group {target.resource_group} does not exist in "
                              f"subscription {target.subscription} ({_arm_error(error)})")
    if code == "SubscriptionNotFound":
        return InputError.one("command line", "--subscription",
                              f"subscription {target.subscription} was not found "
                              f"({_arm_error(error)})")
    return InputError.one(*resource.source, f"the {resource.describe} does not exist "
                          f"({_arm_error(error)}). {resource.not_found_hint}")


def _arm_error(error: Any) -> str:
    """'403 AuthorizationFailed: message', from ARM's error body where there is one."""
    detail = error.error
    if detail is not None and detail.code:
        return f"{error.status_code} {detail.code}: {_first_line(detail.message or '')}"
    return f"{error.status_code} {_first_line(error.reason or '')}".strip()


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
