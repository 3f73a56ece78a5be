"""Values as sxcloud writes them into Terraform JSON: text from input is literal, references are not.

Terraform evaluates `${...}` and `%{...}` in every string of a JSON configuration, keys of
maps included. Nothing that came from a deployment file may be evaluated, so every string
is written through `escape.terraform`, except the references sxcloud builds itself, which
are marked by their type (`Reference`), never recognised by their text.

`literal` is the one walk both writers use: the CDK's typed layer (sxcloud/cdk.py) and the
CDK-free attribute builders that verify's sweep evaluates (aws/attributes.py,
azure/attributes.py). This module imports only the standard library.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from . import escape


class Reference(str):
    """A Terraform expression that sxcloud built itself: `${aws_security_group.appliance.id}`,
    or the CDK token of a resource attribute. It is written as it is, unescaped."""

    __slots__ = ()


#: Deeper nesting than this is refused: no Terraform value sxcloud writes comes near it, and
#: the CDK's runtime (jsii) fails on a few hundred levels.
MAX_DEPTH = 16

#: Integers beyond this lose precision in JSON readers that use doubles (jsii's Node.js).
MAX_INTEGER = 2**53


def literal(value: Any, keep: Callable[[str], bool] | None = None, _depth: int = 0) -> Any:
    """`value` (nested dicts, lists, tuples and scalars) as Terraform JSON must spell it to
    be read literally: each string and map key escaped, each Reference left as it is.

    `keep(text)` may spare further strings (the typed layer passes a test for CDK tokens
    that it cannot tell from text otherwise). Raises TypeError for a value that is not
    JSON (a date, a set, bytes, NaN, an integer beyond 2**53, nesting deeper than
    MAX_DEPTH): callers that take input turn that into an InputError.
    """
    if _depth > MAX_DEPTH:
        raise TypeError(f"nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, Reference):
        return str(value)
    if isinstance(value, str):
        return value if keep is not None and keep(value) else escape.terraform(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if abs(value) > MAX_INTEGER:
            raise TypeError("an integer beyond ±2**53, which JSON readers cannot hold exactly")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"{value} is not a number JSON can hold")
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"a key of type {type(key).__name__} is not a string")
            if key == "__proto__":  # Node.js (jsii) would set an object's prototype with it
                raise TypeError("the key __proto__ cannot be written")
            out[literal(key, keep, _depth + 1)] = literal(item, keep, _depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [literal(item, keep, _depth + 1) for item in value]
    raise TypeError(f"a {type(value).__name__} is not a JSON value")
