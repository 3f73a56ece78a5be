"""The credential an audit reads Azure with.

By default azure-identity's DefaultAzureCredential (environment, workload identity, managed
identity, Azure CLI, ...). When SXCLOUD_AZURE_TOKEN is set, its value is used as a static
bearer token instead: CI jobs often hold one from `az account get-access-token` and have no
other way to sign in. Imported only when an audit runs (it imports the Azure SDK).
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from typing import Any

from azure.core.credentials import AccessToken

from .. import escape
from ..errors import InputError

TOKEN_ENV = "SXCLOUD_AZURE_TOKEN"

# A token whose expiry cannot be read is assumed good for this long; ARM answers 401 if not.
_UNKNOWN_LIFETIME = 3600


#: What a bearer token may hold: visible ASCII. (RFC 6750's b64token is narrower; this is
#: what an HTTP header carries unchanged.) Anything else, a line break above all, would
#: break the header or the encoding of the request, and the error would print the token.
_TOKEN_CHARACTERS = re.compile(r"^[\x21-\x7e]+$")


class StaticTokenCredential:
    """A TokenCredential that hands out one given bearer token, whatever the scope."""

    def __init__(self, token: str, expires_on: int) -> None:
        self._token = AccessToken(token, expires_on)

    @property
    def tokens(self) -> list[str]:
        """The tokens handed out (to keep them out of messages)."""
        return [self._token.token]

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return self._token

    def close(self) -> None:
        """Nothing to release (DefaultAzureCredential has something; callers close either)."""


class RememberingCredential:
    """Another TokenCredential that remembers each token it hands out, so that no message
    shows one (an endpoint may echo the token it was sent)."""

    def __init__(self, credential: Any) -> None:
        self._credential = credential
        self.tokens: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        token = self._credential.get_token(*scopes, **kwargs)
        self.tokens.append(token.token)
        return token

    def close(self) -> None:
        self._credential.close()


def expiry(token: str) -> int | None:
    """The `exp` claim of a JWT access token, read without verifying it (ARM verifies)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return int(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def static_token(value: str, now: float | None = None) -> StaticTokenCredential:
    """The credential for the value of SXCLOUD_AZURE_TOKEN; refuses an empty or expired one."""
    token = value.strip()
    if token.lower().startswith("bearer "):  # pasted from an Authorization header
        token = token[len("bearer "):].strip()
    if not token:
        raise InputError.one(TOKEN_ENV, "", "is set but empty; unset it to use "
                             "DefaultAzureCredential, or set it to an ARM access token")
    if not _TOKEN_CHARACTERS.match(token):  # say which kind of character, never the token
        kind = ("a line break or another control character" if escape.control_characters(token)
                else "a space" if " " in token else "a character outside ASCII")
        raise InputError.one(TOKEN_ENV, "", f"holds {kind}, which no bearer token holds; set "
                             "it to the access token alone (az account get-access-token "
                             "--query accessToken -o tsv)")
    now = time.time() if now is None else now
    expires_on = expiry(token)
    if expires_on is not None and expires_on <= now:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(expires_on))
        raise InputError.one(TOKEN_ENV, "", f"the token expired at {stamp}; get a new one "
                             "(az account get-access-token)")
    return StaticTokenCredential(token, expires_on or int(now) + _UNKNOWN_LIFETIME)


def static_token_set() -> bool:
    """Whether the audit will send the static token in SXCLOUD_AZURE_TOKEN."""
    return os.environ.get(TOKEN_ENV) is not None


def choose() -> tuple[StaticTokenCredential | RememberingCredential, str]:
    """The credential to use and how to name it in messages. Both kinds list the tokens
    they handed out in `tokens`, and have `close()`."""
    value = os.environ.get(TOKEN_ENV)
    if value is not None:
        return static_token(value), f"the token in {TOKEN_ENV}"
    from azure.identity import DefaultAzureCredential

    return RememberingCredential(DefaultAzureCredential()), "DefaultAzureCredential"
