"""Where an audit may send credentials (endpoint URLs, checked before any client is made),
and keeping credentials out of its messages.

An audit signs its requests with the caller's live credentials (AWS keys and session token,
an Azure bearer token). An endpoint named in a deployment file, or given on the command line
from a CI variable, could send them to someone else. So every endpoint is parsed strictly
here, and `plain_http_refused` and `arm_host_refused` decide whether credentials may go
there. Messages echo a URL only as a short escaped excerpt, never one that holds a user name
or password, and `redact` takes any credential out of text that came from an endpoint.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ... import escape
from ...errors import InputError

#: A DNS name: dot-separated labels of letters, digits and inner hyphens (a trailing dot is
#: the root, as DNS allows). Anything else in the host part is refused, not guessed at.
_DNS_NAME = re.compile(r"^(?=.{1,253}\.?$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_SAFE_PATH = re.compile(r"^[A-Za-z0-9._~/-]*$")

LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class Endpoint:
    """A parsed endpoint URL: scheme, host (lower case, no brackets), and the URL to use."""

    url: str  # as given, without surrounding blanks or a trailing slash
    scheme: str
    host: str

    @property
    def loopback(self) -> bool:
        """Whether the host is this machine: 127.0.0.0/8, ::1 (also IPv4-mapped), localhost."""
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (and ::ffff:127.x.y.z), nothing else."""
    if host.lower().rstrip(".") in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def parse(url: str, source: Path | str, key: str, schemes: tuple[str, ...]) -> Endpoint:
    """The endpoint `url` given at `source`/`key`, or an InputError that says what is wrong.

    Accepts `scheme://host[:port][/path]` with a scheme from `schemes`, a DNS name or an IP
    address as host, a port 1-65535 and a plain path; refuses everything else (user info,
    query, fragment, control characters, an unparsable host or port).
    """
    def refuse(reason: str, echo: bool = True) -> InputError:
        shown = f"'{escape.excerpt(url)}' " if echo else ""
        return InputError.one(source, key, f"{shown}{reason}")

    text = url.strip()
    if "@" in text:  # first: no other message may echo a password
        raise refuse("holds a user name or password (or an @); sxcloud sends credentials "
                     "only in its own signed requests, never in a URL", echo=False)
    if escape.control_characters(text):
        raise refuse("holds control characters; an endpoint is a plain URL")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:  # "Invalid IPv6 URL", "Port out of range 0-65535", ...
        raise refuse(f"is not a URL ({escape.excerpt(error)})")
    if parts.scheme.lower() not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise refuse(f"is not an {wanted} URL")
    host = parts.hostname or ""
    if not host or not (_DNS_NAME.match(host) or _ip(host)):
        raise refuse("has no valid host name or IP address")
    if port == 0:
        raise refuse("has port 0; a port is 1-65535")
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise refuse("has a query or fragment; an endpoint is scheme, host, port and path")
    if not _SAFE_PATH.match(parts.path):
        raise refuse("has a path with characters other than letters, digits and ._~/-")
    return Endpoint(text.rstrip("/"), parts.scheme.lower(), host.lower())


def plain_http_refused(endpoint: Endpoint) -> str | None:
    """Why credentials may not go to `endpoint` over plain http, or None if they may."""
    if endpoint.scheme != "http" or endpoint.loopback:
        return None
    return (f"is plain http to {escape.excerpt(endpoint.host)}: the audit would send signed "
            "requests and any session token unencrypted. sxcloud uses plain http only to "
            "this machine (127.0.0.0/8, ::1, localhost); use https")


def _ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


#: What stands for a credential in a message.
REDACTED = "[credential removed]"
#: The longest message an audit prints (most of its text may come from an endpoint).
MESSAGE_MAX = 1000


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every secret in `secrets` replaced (an endpoint may echo what it got)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def redacted(error: InputError, secrets: list[str], limit: int = MESSAGE_MAX) -> InputError:
    """`error` with `secrets` taken out of its messages, each cut to `limit` characters
    (after redaction, so that no cut leaves part of a secret)."""
    return InputError([(path, key, escape.excerpt(redact(message, secrets), limit))
                       for path, key, message in error.problems])
