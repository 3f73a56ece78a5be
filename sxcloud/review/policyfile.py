"""The review policy file: what the team trusts, read from the base version only.

`.sxcloud/review.yaml` at the top of the repository, read at the git ref the review compares
with (`--base-ref`, or `--policy-ref` with `--plan`), never from the working tree: a pull
request that edits it changes nothing until the change is merged, so it cannot trust its own
host or exempt its own group.

```yaml
version: 1
trusted_hosts:        # hosts that may receive state, credentials or tokens
  - host: tfstate.corp.example
    reason: the platform team's state server
other_groups:         # security groups / NSGs whose rules the review need not judge
  - group: sg-0aaaabbbbccccdddd
    reason: the shared platform group, reviewed in the platform repository
```

A host is a DNS name or an IP address, matched exactly (no wildcards, no port). A group is
named as the plan names it: an id (`sg-...`, an NSG's ARM id), the Terraform address of the
group resource (`module.platform.aws_security_group.shared`), or, for an NSG, its
`RESOURCE_GROUP/NAME`; letters are matched in any case. The file is read with the bounded
YAML reader of the deployment files; a file that breaks these rules is bad input (exit 2),
one line per problem naming the key.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .. import yamlfile
from ..errors import InputError
from ..escape import control_characters, excerpt

PATH = ".sxcloud/review.yaml"
NAME_MAX = 300  # characters of a group name (an ARM id fits)
_DNS = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*"
                  r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_LISTS = {"trusted_hosts": "host", "other_groups": "group"}


@dataclass(frozen=True)
class Trusted:
    value: str  # the host or group, lower case
    reason: str


@dataclass(frozen=True)
class Policy:
    hosts: tuple[Trusted, ...] = ()
    groups: tuple[Trusted, ...] = ()
    source: str = ""  # where it was read, e.g. "origin/main:.sxcloud/review.yaml"; "" none

    def host(self, host: str) -> Trusted | None:
        """The entry that trusts `host`, if any."""
        return next((t for t in self.hosts if t.value == host.lower()), None)

    def group(self, names: Iterable[str]) -> Trusted | None:
        """The entry that names a group known by any of `names`, if any."""
        wanted = {n.lower() for n in names}
        return next((t for t in self.groups if t.value in wanted), None)


NONE = Policy()


def parse(data: Any, path: Path) -> Policy:
    """A policy file's content, validated; every problem is one line naming the key."""
    problems: list[tuple[Path | str, str, str]] = []
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError.one(path, "", "must be a mapping (version, trusted_hosts, other_groups)")
    if data.get("version") != 1:
        problems.append((path, "version", "must be 1"))
    for key in data:
        if key not in ("version", *_LISTS):
            problems.append((path, str(key), "unknown key; the keys are version, "
                             "trusted_hosts and other_groups"))
    found: dict[str, list[Trusted]] = {key: [] for key in _LISTS}
    for key, field_name in _LISTS.items():
        entries = data.get(key, [])
        if not isinstance(entries, list):
            problems.append((path, key, "must be a list"))
            continue
        for index, entry in enumerate(entries):
            where = f"{key}[{index}]"
            problem = _entry_problem(entry, field_name)
            if problem:
                problems.append((path, where, problem))
            else:
                found[key].append(Trusted(entry[field_name].lower(), entry["reason"]))
    if problems:
        raise InputError(problems)
    return Policy(tuple(found["trusted_hosts"]), tuple(found["other_groups"]), str(path))


def _entry_problem(entry: Any, field_name: str) -> str | None:
    if not isinstance(entry, dict) or set(entry) != {field_name, "reason"}:
        return f"must be a mapping of exactly '{field_name}' and 'reason'"
    value, reason = entry[field_name], entry["reason"]
    if not isinstance(reason, str) or not reason.strip() or control_characters(reason):
        return "reason: must be plain text, not empty"
    if not isinstance(value, str) or not value or control_characters(value):
        return f"{field_name}: must be plain text, not empty"
    if field_name == "host" and not _is_host(value.lower()):
        return f"host: '{excerpt(value)}' is not a DNS name or an IP address (no scheme, port or *)"
    if len(value) > NAME_MAX:
        return f"{field_name}: longer than {NAME_MAX} characters"
    return None


def _is_host(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return bool(_DNS.fullmatch(text)) and not text.rsplit(".", 1)[-1].isdigit()


def from_text(text: str, name: str) -> Policy:
    """The policy file's text (as read from git), validated; `name` names it in messages."""
    path = Path(name)
    return parse(yamlfile.parse(text, path), path)
