"""Checks of a deployment file's values that its JSON Schema cannot state (issue 9).

- The data is JSON-like (string keys; strings, whole numbers, booleans, null, lists,
  mappings), bounded in depth, and no key or value holds a control or format character.
  The YAML reader already ensures most of this; `parse` is also called with data that did not
  come from YAML (tests, the property test), and every later stage relies on it.
- CIDR blocks: valid, with a prefix length, without host bits or an IPv6 scope id.
- Roles are not the Internet: no range is wider than any one organisation's network, and no
  role (nor all roles together) covers half or more of an address family.
- Endpoint URLs (`aws.endpoints`, and the audits'): http/https, a host that is a DNS name or an IP literal, an optional
  port, a path from a safe character set, nothing else.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from pathlib import Path
from typing import Any, Iterable, Union

from .escape import control_characters, excerpt
from .yamlfile import MAX_DEPTH

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
Problems = list[tuple[Path, str, str]]


def key_name(parts: Iterable[Any]) -> str:
    """'roles', 'admin_pc', 1 -> 'roles.admin_pc[1]' (long keys cut to an excerpt)."""
    out = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            shown = excerpt(part, 40)
            out += f".{shown}" if out else shown
    return out


# --- JSON-like data -------------------------------------------------------------------------

def data_problems(data: Any, path: Path) -> Problems:
    """Keys that are not strings, values that are not JSON-like, nesting deeper than the YAML
    reader allows, and control or format characters in any key or value."""
    problems: Problems = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        value, where = stack.pop()
        if isinstance(value, (dict, list)) and len(where) >= MAX_DEPTH:
            problems.append((path, key_name(where), f"nests deeper than {MAX_DEPTH} levels"))
        elif isinstance(value, dict):
            for name, item in reversed(list(value.items())):
                if not isinstance(name, str):
                    problems.append((path, key_name(where), f"key {excerpt(name)} is not text"))
                elif _unsafe(name):
                    problems.append((path, key_name(where), "a key holds control or format "
                                     f"characters ({', '.join(control_characters(name))})"))
                else:
                    stack.append((item, (*where, name)))
        elif isinstance(value, list):
            stack.extend((item, (*where, i)) for i, item in reversed(list(enumerate(value))))
        elif isinstance(value, str):
            if _unsafe(value):
                problems.append((path, key_name(where), "holds control or format characters "
                                 f"({', '.join(control_characters(value))}); none is valid in "
                                 "a deployment file"))
        elif not (value is None or isinstance(value, (bool, int))):
            problems.append((path, key_name(where), f"is a {type(value).__name__}; a deployment "
                             "file holds only text, whole numbers, true/false, lists and mappings"))
    return problems


def _unsafe(text: str) -> bool:
    # isprintable() is False for every character escape.terminal escapes (and for a few it
    # does not, such as private-use ones); it is the fast path for the common, clean case.
    return not text.isprintable() and bool(control_characters(text))


# --- CIDRs and roles ------------------------------------------------------------------------

#: The widest range one role may name. IPv4 /8 is the largest private block (10.0.0.0/8) and
#: the largest allocation any one organisation holds; IPv6 /7 is the unique-local block
#: (fc00::/7), the largest range that is internal anywhere. Anything wider names other
#: people's networks (2000::/3 is the whole IPv6 Internet, 0.0.0.0/1 half the IPv4 one).
WIDEST_PREFIX = {4: 8, 6: 7}


def network(entry: Any, path: Path, key: str, problems: Problems) -> IPNetwork | None:
    """A CIDR block from the file, or None after adding the problem with it."""
    if not isinstance(entry, str):
        problems.append((path, key, f"must be a CIDR string such as 10.0.0.0/16, not "
                         f"{excerpt(repr(entry))}"))
        return None
    text, shown = entry.strip(), excerpt(entry)
    if "%" in text:  # ipaddress keeps a scope id in str(), and it would reach the output
        problems.append((path, key, f"'{shown}' has an IPv6 scope id (%...); a CIDR block "
                         "names no interface"))
        return None
    if "/" not in text:
        try:
            host = ipaddress.ip_address(text)
        except ValueError:
            problems.append((path, key, f"'{shown}' is not a CIDR block (such as 10.0.0.0/16)"))
        else:
            problems.append((path, key, f"'{shown}' is a host address without a prefix length; "
                             f"write {host}/{host.max_prefixlen}"))
        return None
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as error:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            problems.append((path, key, f"'{shown}' is not a valid CIDR block: "
                             f"{excerpt(error, 80)}"))
        else:
            problems.append((path, key, f"'{shown}' has host bits set; the network is {loose}"))
        return None


def too_wide(net: IPNetwork) -> str | None:
    """Why one range is too wide for any role, or None."""
    if net.prefixlen == 0:
        return (f"{net} is the whole Internet; a role must name its own hosts or networks "
                "(the Internet is built in)")
    widest = WIDEST_PREFIX[net.version]
    if net.prefixlen < widest:
        return (f"{net} is wider than /{widest}, wider than any one organisation's network; "
                "a role must name its own hosts or networks")
    return None


def coverage_problems(networks: Iterable[IPNetwork], subject: str) -> list[str]:
    """What is wrong with the share of each address family the ranges cover together
    (`subject` names them in the messages)."""
    networks = list(networks)
    out = []
    for version, family in ((4, "IPv4"), (6, "IPv6")):
        nets = [n for n in networks if n.version == version]
        if not nets:
            continue
        covered = _union_size(nets)
        whole = 2 ** (32 if version == 4 else 128)
        if covered == whole:
            out.append(f"together {subject} are the whole {family} Internet; a role must "
                       "name its own hosts or networks (the Internet is built in)")
        elif covered * 2 >= whole:
            out.append(f"together {subject} cover half or more of the {family} address "
                       "space; a role must name its own hosts or networks")
    return out


def _union_size(networks: list[IPNetwork]) -> int:
    """How many addresses the networks cover together (sorted intervals, merged: ipaddress's
    collapse_addresses takes seconds for the 20,000 ranges a large file may hold)."""
    total, end = 0, -1
    for first, last in sorted((int(n.network_address), int(n.broadcast_address)) for n in networks):
        if last > end:
            total += last - max(first, end + 1) + 1
            end = last
    return total


# --- aws.endpoints --------------------------------------------------------------------------

_NETLOC = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::([0-9]{1,5}))?")
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_PATH = re.compile(r"(?:[A-Za-z0-9._~/-]|%[0-9A-Fa-f]{2})*")


#: scheme://user[:password]@ at the start of a value: userinfo, which a URL must not carry here.
_USERINFO = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s]*@")


def url_userinfo(text: str) -> bool:
    """True if `text` is a URL that carries a user name or password."""
    return bool(_USERINFO.match(text.strip()))


def endpoint_problem(url: str, schemes: tuple[str, ...] = ("http", "https")) -> str | None:
    """Why `url` is not an endpoint URL sxcloud sends requests to, or None: the one check for
    `aws.endpoints` (written into cdk.tf.json) and the audits' endpoints (which get the
    caller's credentials). Accepted: `scheme://host[:port][/path]`, a scheme from `schemes`
    in lower case, a DNS name or an IP literal, a port 1-65535, a path of letters, digits,
    `-._~/` and %-escapes. A URL with a user name or password is never echoed."""
    if url_userinfo(url):  # first: no other message may echo a password
        return "holds a user name or password; give credentials in the environment, never in a URL"
    shown = f"'{excerpt(url)}'"
    if control_characters(url):  # urlsplit would silently drop tabs and line breaks
        return f"{shown} holds control characters; an endpoint is a plain URL"
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as error:  # "Invalid IPv6 URL", "Port out of range 0-65535", ...
        detail = "; a port is a number from 1 to 65535" if "Port" in str(error) else ""
        return f"{shown} is not a URL ({excerpt(error)}){detail}"
    if parts.scheme not in schemes or not url.startswith(f"{parts.scheme}://"):
        return f"{shown} is not an {' or '.join(f'{s}://' for s in schemes)} URL"
    if "@" in parts.netloc:
        return "holds a user name or password; give credentials in the environment, never in a URL"
    if parts.query or parts.fragment or "?" in url or "#" in url:
        return f"{shown} has a query or fragment; an endpoint is scheme, host, port and path"
    netloc = _NETLOC.fullmatch(parts.netloc)
    if not netloc or not _host_ok(netloc.group(1)):
        odd = "" if parts.netloc.isascii() and parts.netloc.isprintable() and " " not in \
            parts.netloc else "; it holds spaces or characters outside printable ASCII"
        return f"{shown} has no valid host name or IP address{odd}"
    if port == 0:
        return f"{shown} has port 0; a port is a number from 1 to 65535"
    if not _PATH.fullmatch(parts.path):
        return (f"{shown} has a path with characters other than letters, digits, "
                "'-', '.', '_', '~', '/' and %-escapes")
    return None


def _host_ok(host: str) -> bool:
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])  # a scope id (%) cannot reach here: see _NETLOC
        except ValueError:
            return False
        return True
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        labels = host.split(".")
        # A DNS name: 1-63 character labels, 253 characters in all, and a last label that is
        # not all digits (so that 300.1.1.1 is not taken for a name).
        return (len(host) <= 253 and all(_LABEL.fullmatch(label) for label in labels)
                and not labels[-1].isdigit())
    return True
