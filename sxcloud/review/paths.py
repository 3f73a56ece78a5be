"""How the report names a file: relative where possible, never this machine's root.

Its own module because both the review's assembly (build) and the verify result
(verification) name files, and neither should import the other for it.
"""

from __future__ import annotations

from pathlib import Path

from ..config import builtin_example


def display_path(path: Path | str) -> str:
    """A path as the report shows it: relative to the working folder where possible, else
    its name; the built-in example by that name. The text is raw: the Markdown and Mermaid
    escapers make it safe for their medium."""
    path = Path(path)
    if path.is_absolute():
        if path == builtin_example():
            return "built-in example"
        try:
            return path.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return path.name
    return path.as_posix()
