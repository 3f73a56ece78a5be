"""Checks of a deployment file's values that its JSON Schema cannot state (issue 9).

- The data is JSON-like (string keys; strings, whole numbers, booleans, null, lists,
  mappings), bounded in depth, and no key or value holds a control or format character,
  nor anything the CDK reads as a token (`${TfToken[...]}`, a number token).
  The YAML reader already ensures most of this; `parse` is also called with data that did not
  come from YAML (tests, the property test), and every later stage relies on it.
- CIDR blocks: valid, with a prefix length, without host bits or an IPv6 scope id.
- Roles are not the Internet: no range is wider than any one organisation's network, and no
  role (nor all roles together) covers half or more of an address family or of the routed
  IPv6 Internet (2000::/3).
- Endpoint URLs (`aws.endpoints`, and the audits'): http/https, a host that is a DNS name or an IP literal, an optional
  port, a path from a safe character set, nothing else.
"""

from __future__ import annotations

import ipaddress
import re
import struct
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
                elif cdk_token(name):
                    problems.append((path, key_name(where), f"key {excerpt(name)} {cdk_token(name)}"))
                else:
                    stack.append((item, (*where, name)))
        elif isinstance(value, list):
            stack.extend((item, (*where, i)) for i, item in reversed(list(enumerate(value))))
        elif isinstance(value, str):
            if _unsafe(value):
                problems.append((path, key_name(where), "holds control or format characters "
                                 f"({', '.join(control_characters(value))}); none is valid in "
                                 "a deployment file"))
            elif cdk_token(value):
                problems.append((path, key_name(where), cdk_token(value)))
        elif isinstance(value, int) and not isinstance(value, bool) and cdk_token(value):
            problems.append((path, key_name(where), cdk_token(value)))
        elif not (value is None or isinstance(value, (bool, int))):
            problems.append((path, key_name(where), f"is a {type(value).__name__}; a deployment "
                             "file holds only text, whole numbers, true/false, lists and mappings"))
    return problems


# What the CDK (cdktn 0.24 / cdktf 0.21, lib/tokens/private/encoding.js and token.js) reads
# as a token in a value it synthesizes, rather than as the value itself: the string markers
# `${TfToken[`, `#{TfToken[` (a list) and `&{TfToken[` (a map); a number whose top 16 bits
# are 0xfdff (a number token) or 0xfbff (a number list token), also when written inside a
# string (its number-token regex below, read with parseFloat); and the map sentinels. A value
# the CDK resolves becomes a reference, even a cross-stack one, or fails the synth.
_TOKEN_MARKER = "TfToken["
_TOKEN_NUMBER = re.compile(r"[-|\d|.\+]+(e[-|\d|.|e|E|\+]+)")
_FLOAT_PREFIX = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_TOKEN_DOUBLE_TAGS = (0xFDFF, 0xFBFF)
_MAP_SENTINELS = ("String Map Token Value", "Any Map Token Value", -123456789)


def cdk_token(value: str | int) -> str | None:
    """Why the CDK would read `value` (a key, a text or a whole number from the file) as a
    token, or None. Such input is refused, never passed on."""
    if value in _MAP_SENTINELS:
        return f"is {excerpt(repr(value))}, the CDK's placeholder for a map token"
    if isinstance(value, int):  # (the YAML reader takes 18 digits; `parse` takes any data)
        if abs(value) < 2 ** 1024 and _token_double(float(value)):
            return f"is {excerpt(value, 30)}, a number the CDK reads as a token"
        return None
    if _TOKEN_MARKER in value:
        return ("holds a CDK token marker (TfToken[); the CDK would read it as a reference, "
                "not as text")
    for match in _TOKEN_NUMBER.finditer(value):
        number = _FLOAT_PREFIX.match(match.group())
        if number and _token_double(float(number.group())):
            return (f"holds '{excerpt(match.group(), 40)}', a number the CDK reads as a token; "
                    "the CDK would write a reference instead")
    return None


def _token_double(number: float) -> bool:
    return struct.unpack("<Q", struct.pack("<d", number))[0] >> 48 in _TOKEN_DOUBLE_TAGS


def _unsafe(text: str) -> bool:
    # isprintable() is False for every character escape.terminal escapes (and for a few it
    # does not, such as private-use ones); it is the fast path for the common, clean case.
    return not text.isprintable() and bool(control_characters(text))


# --- CIDRs and roles ------------------------------------------------------------------------

#: The widest range one role may name. IPv4 /8 is the largest private block (10.0.0.0/8) and
#: the largest allocation any one organisation holds; IPv6 /7 is the unique-local block
#: (fc00::/7), the largest range that is internal anywhere. Anything wider names other
#: people's networks (0.0.0.0/1 is half the IPv4 Internet).
WIDEST_PREFIX = {4: 8, 6: 7}

#: The routed IPv6 Internet: IANA's global unicast space (RFC 4291 section 2.4; IANA's IPv6
#: Address Space registry), from which the registries allocate. ::/0 is mostly unassigned, so
#: "half of IPv6" is measured against this, not against ::/0.
ROUTED_IPV6 = ipaddress.IPv6Network("2000::/3")

#: The widest range one organisation holds in the routed IPv6 space. The registries' figures:
#: the RIPE NCC's initial allocation to an LIR is a /29, and of its 22,682 IPv6 allocations
#: 68 are /28 or wider (policy proposal 2024-02 and its impact analysis, 2025,
#: https://www.ripe.net/community/policies/proposals/2024-02/); the widest allocations to
#: operators are /19s (2003::/19 Deutsche Telekom, 2a01:c000::/19 France Telecom, RIPE NCC)
#: and /20s (2400::/20 KORNET, 2001:8000::/20 Telstra, APNIC). The one wider block, the US
#: Department of Defense's /13, is no network a mail gateway's role names. See docs/security.md.
WIDEST_ROUTED_IPV6 = 19


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
    if net.version == 6 and net.prefixlen < WIDEST_ROUTED_IPV6 and net.subnet_of(ROUTED_IPV6):
        return (f"{net} is wider than /{WIDEST_ROUTED_IPV6}, wider than any allocation in the "
                f"routed IPv6 Internet ({ROUTED_IPV6}); a role must name its own hosts or networks")
    return None


def coverage_problems(networks: Iterable[IPNetwork], subject: str) -> list[str]:
    """What is wrong with the share of each address family, and of the routed IPv6 Internet,
    that the ranges cover together (`subject` names them in the messages)."""
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
        elif version == 6:
            routed = _union_size(nets, ROUTED_IPV6)
            if routed == ROUTED_IPV6.num_addresses:
                out.append(f"together {subject} are the whole routed IPv6 Internet "
                           f"({ROUTED_IPV6}); a role must name its own hosts or networks "
                           "(the Internet is built in)")
            elif routed * 2 >= ROUTED_IPV6.num_addresses:
                out.append(f"together {subject} cover half or more of the routed IPv6 "
                           f"Internet ({ROUTED_IPV6}); a role must name its own hosts or networks")
    return out


def _union_size(networks: list[IPNetwork], within: IPNetwork | None = None) -> int:
    """How many addresses the networks cover together, or of them those inside `within`
    (sorted intervals, merged: ipaddress's collapse_addresses takes seconds for the 20,000
    ranges a large file may hold)."""
    low, high = (int(within.network_address), int(within.broadcast_address)) if within \
        else (0, 2 ** 128)
    total, end = 0, -1
    for first, last in sorted((int(n.network_address), int(n.broadcast_address)) for n in networks):
        first, last = max(first, low), min(last, high)
        if last > end and first <= last:
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
