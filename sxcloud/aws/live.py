"""Reading a deployment's live security group through boto3, and nothing but reading.

`client` (or `ec2_client`) makes the client the audit uses and fences it: a `before-call`
hook refuses every EC2 operation that is not a Describe call, before the request leaves the
process. It waits a bounded time for an answer. The readers take any EC2 client and raise
LookupProblem, with a message for the user, for every error of the SDK, the transport, or an
answer that is not what EC2 sends.
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

#: Seconds to wait for a connection, and for each answer (botocore's default is 60 each).
TIMEOUT = 20.0
#: Tries per request, the first included (botocore's standard retry mode; its default is 3
#: there, 5 in the legacy mode a user's config may select).
ATTEMPTS = 3
#: Shorter strings are not treated as secrets when messages are cleaned (test keys such as
#: "testing" would blank ordinary words; real AWS keys are 20 and 40 characters).
SECRET_MIN = 8


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
    description: str = ""  # kept by `sxcloud adopt aws`: EC2 replaces a group that changes it


def session(region: str, profile: str | None = None) -> Any:
    """A boto3 session from the standard credential chain (and `profile`, if given)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ProfileNotFound

    try:
        return boto3.session.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as error:
        raise LookupProblem(f"{error}", "--profile") from None
    except BotoCoreError as error:  # a config file that cannot be parsed, ...
        raise LookupProblem(f"cannot read the AWS configuration: {_first_line(error)}",
                            "--profile") from None


def client(aws: Any, *, endpoint_url: str | None = None, timeout: float = TIMEOUT) -> Any:
    """An EC2 client of the session `aws`, fenced to Describe calls, with bounded waits.

    `timeout` bounds connecting and each read, and a request is tried at most
    ATTEMPTS times, so that an endpoint that does not answer cannot hold the audit for long.
    """
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    config = Config(connect_timeout=timeout, read_timeout=timeout,
                    retries={"mode": "standard", "total_max_attempts": ATTEMPTS})
    try:
        ec2 = aws.client("ec2", endpoint_url=endpoint_url, config=config)
    except ValueError as error:  # botocore: "Invalid endpoint: ...", an invalid region
        raise LookupProblem(f"{_first_line(error)} (give a URL such as https://ec2.eu-central-1."
                            "amazonaws.com)", "--endpoint-url") from None
    except BotoCoreError as error:
        raise LookupProblem(f"cannot make an EC2 client: {_first_line(error)}") from None
    fence_read_only(ec2)
    return ec2


def ec2_client(region: str, *, profile: str | None = None, endpoint_url: str | None = None,
               timeout: float = TIMEOUT) -> Any:
    """An EC2 client from the standard boto3 credential chain, fenced to Describe calls."""
    return client(session(region, profile), endpoint_url=endpoint_url, timeout=timeout)


def secrets(aws: Any) -> list[str]:
    """The credential strings the session `aws` signs with, to keep them out of messages.

    Called only when a message is about to be shown: the credentials are resolved by then
    (the client resolved them), so this costs no further lookup in the usual case.
    """
    from botocore.exceptions import BotoCoreError

    try:
        found = aws.get_credentials()
        frozen = found.get_frozen_credentials() if found else None
    except BotoCoreError:
        return []
    if frozen is None:
        return []
    return [s for s in (frozen.secret_key, frozen.token, frozen.access_key)
            if s and len(s) >= SECRET_MIN]


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
              for g in _items(page, "SecurityGroups")]
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
        groups = _items(_call(client.describe_security_groups, GroupIds=[group_id]),
                        "SecurityGroups")
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
    return [rule for page in pages for rule in _items(page, "SecurityGroupRules")]


def _items(page: Any, key: str) -> list[Any]:
    """The list under `key` of an answer; an answer without one is an empty list."""
    items = page.get(key, []) if isinstance(page, dict) else None
    if not isinstance(items, list):
        raise LookupProblem(f"the EC2 endpoint's answer has no list of {key}")
    return items


def _group(item: dict[str, Any]) -> Group:
    if not isinstance(item, dict) or not item.get("GroupId"):
        raise LookupProblem("the EC2 endpoint returned a security group without a GroupId")
    tags = {t.get("Key", ""): t.get("Value", "") for t in item.get("Tags", [])}
    return Group(item["GroupId"], item.get("GroupName", ""), item.get("VpcId", ""), tags,
                 item.get("Description", ""))


def _call(method: Any, **kwargs: Any) -> Any:
    """Call boto3; a paginator's pages are read here too, so errors surface in one place."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

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
    except ResponseParserError as error:  # not a BotoCoreError: an answer that is not EC2's
        raise LookupProblem(f"the answer of the EC2 endpoint cannot be read as the EC2 API's "
                            f"XML ({_first_line(error)}); is the endpoint an EC2 endpoint?",
                            "--endpoint-url") from None


def _problem(error: Exception) -> LookupProblem:
    """A boto3 error in the user's terms, with the option that would change the outcome."""
    from botocore.exceptions import ClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import (HTTPClientError, NoCredentialsError, NoRegionError,
                                     PartialCredentialsError, ReadTimeoutError)

    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return LookupProblem(f"{error}; sxcloud uses the standard AWS credential chain "
                             "(environment, shared credentials and config files, --profile, "
                             "instance or container role)", "--profile")
    if isinstance(error, BotoConnectionError):  # refused, unresolvable, TLS, proxy, timeout
        return LookupProblem(f"{_first_line(error)} (tried {ATTEMPTS} times)", "--endpoint-url")
    if isinstance(error, ReadTimeoutError):
        return LookupProblem(f"the EC2 endpoint did not answer: {_first_line(error)} (tried "
                             f"{ATTEMPTS} times, --timeout seconds each)", "--endpoint-url")
    if isinstance(error, HTTPClientError):  # a connection closed mid-answer, ...
        return LookupProblem(f"{_first_line(error)}", "--endpoint-url")
    if isinstance(error, NoRegionError):
        return LookupProblem(f"{error}", "--region")
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return LookupProblem(f"AWS refused {error.operation_name}: {info.get('Code')}: "
                             f"{_first_line(info.get('Message') or '')}")
    return LookupProblem(_first_line(error))


def _first_line(error: object) -> str:
    """The first line of an error's text (a message for one line of output)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
