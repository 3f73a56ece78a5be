"""Where an audit may send credentials (endpoint URLs, checked before any client is made),
and keeping credentials out of its messages.

An audit signs its requests with the caller's live credentials (AWS keys and session token,
an Azure bearer token). An endpoint named in a deployment file, or given on the command line
from a CI variable, could send them to someone else. So every endpoint is parsed strictly
(by the loader's own check of endpoint URLs), and `plain_http_refused` and `arm_host_refused` decide whether credentials may go
there. Messages echo a URL only as a short escaped excerpt, never one that holds a user name
or password, and `redact` takes any credential out of text that came from an endpoint.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ... import escape
from ...errors import InputError
from ...validation import endpoint_problem

LOOPBACK_NAMES = ("localhost",)

MAX_TIMEOUT = 600  # seconds; more is a typo, not a wish


def check_timeout(seconds: float, where: Path | str) -> None:
    """Refuse a --timeout that is not a sensible number of seconds (NaN included)."""
    if not 0 < seconds <= MAX_TIMEOUT:
        raise InputError.one(where, "--timeout", f"{seconds:g} is not a number of seconds "
                             f"above 0 and at most {MAX_TIMEOUT}")


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
    """The endpoint `url` given at `source`/`key`, or an InputError that says what is wrong
    (the loader's own check, `validation.endpoint_problem`, with a scheme from `schemes`)."""
    text = url.strip()
    problem = endpoint_problem(text, schemes)
    if problem:
        raise InputError.one(source, key, problem)
    parts = urlsplit(text)
    return Endpoint(text.rstrip("/"), parts.scheme, (parts.hostname or "").lower())


def plain_http_refused(endpoint: Endpoint) -> str | None:
    """Why credentials may not go to `endpoint` over plain http, or None if they may."""
    if endpoint.scheme != "http" or endpoint.loopback:
        return None
    return (f"is plain http to {escape.excerpt(endpoint.host)}: the audit would send signed "
            "requests and any session token unencrypted. sxcloud uses plain http only to "
            "this machine (127.0.0.0/8, ::1, localhost); use https")


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
