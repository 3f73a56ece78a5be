"""Errors sxcloud reports to its user."""

from __future__ import annotations

from pathlib import Path

from . import escape


class InputError(Exception):
    """Bad input: the command exits with status 2 and writes nothing.

    Each problem names the file and the key it concerns.
    """

    def __init__(self, problems: list[tuple[Path | str, str, str]]):
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    @classmethod
    def one(cls, path: Path | str, key: str, message: str) -> "InputError":
        return cls([(path, key, message)])

    def lines(self) -> list[str]:
        """One terminal-safe line per problem (a path or key from input may hold anything)."""
        return [escape.terminal(f"{path}: {key}: {message}" if key else f"{path}: {message}")
                for path, key, message in self.problems]
