"""One escaper per output medium (ARCHITECTURE.md, "Trust boundaries").

Every string that came from input (a deployment file, a plan, a path) passes through the
escaper of the medium it is written to: Terraform JSON, the terminal. Markdown and Mermaid
have theirs in sxcloud.review. Nothing here imports beyond the standard library.
"""

from __future__ import annotations

import re
import unicodedata

# --- Terraform JSON -------------------------------------------------------------------------

#: Terraform evaluates `${...}` (interpolation) and `%{...}` (template directives) in every
#: string of a JSON configuration; `$${` and `%%{` are its escapes for the literal text.
#: https://developer.hashicorp.com/terraform/language/syntax/json#string-expressions
_TEMPLATE = re.compile(r"([$%])\{")
_ESCAPED = re.compile(r"([$%])\1\{")
_SCAN = re.compile(r"\$\$\{|%%\{|([$%])\{")  # an escape, or (group 1) a template opening


def terraform(text: str) -> str:
    """A literal string as Terraform JSON must spell it so that nothing in it is evaluated."""
    return _TEMPLATE.sub(r"\1\1{", text)


def terraform_unescape(text: str) -> str:
    """What Terraform reads from a JSON string written by `terraform` (the inverse)."""
    return _ESCAPED.sub(r"\1{", text)


def has_template(text: str) -> bool:
    """True if Terraform would evaluate part of `text`: a `${` or `%{` that is not one of
    the escapes `$${` / `%%{`, scanned left to right as Terraform's template scanner does
    (at each place an escape is tried first and skipped whole)."""
    return "{" in text and any(m.group(1) for m in _SCAN.finditer(text))


# --- terminal -------------------------------------------------------------------------------

def _unsafe(char: str) -> bool:
    # Cc: C0 and C1 controls, DEL (escape sequences, line breaks, carriage returns).
    # Cf: format characters (bidi overrides and isolates that reorder what a reader sees,
    # zero-width characters). Zl/Zp: Unicode's own line and paragraph separators.
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def terminal(text: object) -> str:
    """Text that prints as itself on one line of a terminal: every control, format and
    line-separator character is shown as a Python-style escape (\\x1b, \\n, \\u202e)."""
    out = []
    for char in str(text):
        if _unsafe(char):
            code = ord(char)
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
                       or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"))
        else:
            out.append(char)
    return "".join(out)


def control_characters(text: str) -> list[str]:
    """The distinct unsafe characters in `text`, as `terminal` shows them (for messages)."""
    return sorted({terminal(c) for c in text if _unsafe(c)})


def excerpt(text: object, limit: int = 60) -> str:
    """A short, terminal-safe excerpt of a value for an error message."""
    shown = terminal(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
