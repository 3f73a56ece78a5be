"""Reading a deployment's live security group through boto3, and nothing but reading.

`ec2_client` makes the client the audit uses and fences it: a `before-call` hook refuses
every EC2 operation that is not a Describe call, before the request leaves the process.
The readers take any EC2 client and raise LookupProblem with a message for the user.
boto3 is imported only where a client is made, so importing this module stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Operations the audit needs. The fence admits any Describe* call (they are read-only by
#: AWS's own naming), so a reader added later does not need to touch it.
READ_PREFIX = "Describe"

#: The tag the stack puts on the appliance group (sxcloud.aws.plan.tags).
DEPLOYMENT_TAG = "sxcloud:deployment"


class LookupProblem(Exception):
    """The group or its rules cannot be read; the message says why, for the user."""

    def __init__(self, message: str, option: str = "") -> None:
        super().__init__(message)
        self.option = option  # the command-line option the user can change, if any


class ReadOnlyViolation(RuntimeError):
    """An operation that could change the account was attempted through a fenced client."""


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    vpc_id: str
    tags: dict[str, str]


def ec2_client(region: str, *, profile: str | None = None,
               endpoint_url: str | None = None) -> Any:
    """An EC2 client from the standard boto3 credential chain, fenced to Describe calls."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as error:
        raise LookupProblem(f"{error}", "--profile") from None
    try:
        client = session.client("ec2", endpoint_url=endpoint_url)
    except ValueError as error:  # botocore: "Invalid endpoint: ..."
        raise LookupProblem(f"{error} (give a URL such as https://ec2.eu-central-1."
                            "amazonaws.com)", "--endpoint-url") from None
    fence_read_only(client)
    return client


def fence_read_only(client: Any) -> None:
    """Make `client` refuse every operation whose name does not start with Describe."""

    def refuse_writes(model: Any, **_: Any) -> None:
        if not model.name.startswith(READ_PREFIX):
            raise ReadOnlyViolation(f"sxcloud audit is read-only; refused to call {model.name}")

    client.meta.events.register("before-call.ec2", refuse_writes)


def find_group(client: Any, deployment: str, vpc_id: str) -> Group:
    """The one group in `vpc_id` tagged `sxcloud:deployment=<deployment>`."""
    filters = [{"Name": f"tag:{DEPLOYMENT_TAG}", "Values": [deployment]},
               {"Name": "vpc-id", "Values": [vpc_id]}]
    groups = [g for page in _call(client.get_paginator("describe_security_groups")
                                  .paginate, Filters=filters)
              for g in page["SecurityGroups"]]
    if not groups:
        raise LookupProblem(
            f"no security group in {vpc_id} is tagged {DEPLOYMENT_TAG}={deployment}; "
            "has the stack been applied in this account and region? (--region, --profile, "
            "--endpoint-url), or name the group with --group-id")
    if len(groups) > 1:
        ids = ", ".join(sorted(g["GroupId"] for g in groups))
        raise LookupProblem(f"{len(groups)} security groups in {vpc_id} are tagged "
                            f"{DEPLOYMENT_TAG}={deployment} ({ids}); name one with --group-id")
    return _group(groups[0])


def get_group(client: Any, group_id: str) -> Group:
    """The group with this id."""
    from botocore.exceptions import ClientError

    try:
        groups = _call(client.describe_security_groups, GroupIds=[group_id])["SecurityGroups"]
    except ClientError:  # _call lets only InvalidGroup.NotFound through
        groups = []
    if not groups:
        raise LookupProblem(f"security group {group_id} does not exist in this account and "
                            "region", "--group-id")
    return _group(groups[0])


def read_rules(client: Any, group_id: str, page_size: int | None = None) -> list[dict[str, Any]]:
    """Every rule of the group, through as many DescribeSecurityGroupRules pages as it takes."""
    paginator = client.get_paginator("describe_security_group_rules")
    config = {"PageSize": page_size} if page_size else {}
    pages = _call(paginator.paginate, Filters=[{"Name": "group-id", "Values": [group_id]}],
                  PaginationConfig=config)
    return [rule for page in pages for rule in page["SecurityGroupRules"]]


def _group(item: dict[str, Any]) -> Group:
    tags = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
    return Group(item["GroupId"], item.get("GroupName", ""), item.get("VpcId", ""), tags)


def _call(method: Any, **kwargs: Any) -> Any:
    """Call boto3; a paginator's pages are read here too, so errors surface in one place."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        result = method(**kwargs)
        # A paginator is lazy: read it now so that its errors are ours to explain.
        return list(result) if hasattr(result, "build_full_result") else result
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "InvalidGroup.NotFound":
            raise
        raise _problem(error) from None
    except BotoCoreError as error:
        raise _problem(error) from None


def _problem(error: Exception) -> LookupProblem:
    """A boto3 error in the user's terms, with the option that would change the outcome."""
    from botocore.exceptions import (ClientError, EndpointConnectionError, NoCredentialsError,
                                     NoRegionError, PartialCredentialsError)

    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return LookupProblem(f"{error}; sxcloud uses the standard AWS credential chain "
                             "(environment, shared credentials and config files, --profile, "
                             "instance or container role)", "--profile")
    if isinstance(error, EndpointConnectionError):
        return LookupProblem(f"{error}", "--endpoint-url")
    if isinstance(error, NoRegionError):
        return LookupProblem(f"{error}", "--region")
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return LookupProblem(f"AWS refused {error.operation_name}: {info.get('Code')}: "
                             f"{info.get('Message')}")
    return LookupProblem(str(error))
