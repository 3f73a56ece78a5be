"""Where the base version of the deployment files comes from: other files, or a git ref.

`--base-ref REF` reads each head file's path as it is at REF (`git show REF:path`), so a
pull request's review compares the branch with its target without a second checkout. A
file that does not exist at REF is new: its stacks are reported as added in full.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..config import Deployment, load_text
from ..errors import InputError


@dataclass(frozen=True)
class Base:
    deployments: list[Deployment]
    label: str  # how the report names the base, e.g. "origin/main"
    new_files: list[str]  # head files that do not exist in the base


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True,
                              check=False)
    except FileNotFoundError:
        raise InputError.one("--base-ref", "", "needs git, which is not installed") from None


def at_ref(paths: list[Path], ref: str) -> Base:
    """The deployment files at `ref`, from the git repository each path is in."""
    deployments = []
    new = []
    problems = []
    checked: set[Path] = set()
    for path in paths:
        folder = path.resolve().parent
        top = _git(folder, "rev-parse", "--show-toplevel")
        if top.returncode != 0:
            problems.append((path, "--base-ref", "is not in a git repository, so there is no "
                             f"version of it at '{ref}'"))
            continue
        root = Path(top.stdout.strip())
        if root not in checked:
            found = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
            if found.returncode != 0:
                problems.append(("--base-ref", "", f"'{ref}' is not a commit in the git "
                                 f"repository of {path} (fetch it first, e.g. "
                                 f"'git fetch origin {ref.split('/')[-1]}')"))
                continue
            checked.add(root)
        relative = path.resolve().relative_to(root.resolve()).as_posix()
        shown = _git(root, "show", f"{ref}:{relative}")
        if shown.returncode != 0:
            new.append(str(path))  # not in the base: every opening of it is added
            continue
        try:
            deployments.append(load_text(shown.stdout, Path(f"{ref}:{relative}")))
        except InputError as error:
            problems.extend(error.problems)
    if problems:
        raise InputError(problems)
    return Base(deployments, ref, new)
