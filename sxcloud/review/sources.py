"""Where the base version of the deployment files comes from: other files, or a git ref.

`--base-ref REF` reads each head file's path as it is at REF, so a pull request's review
compares the branch with its target without a second checkout. A file that does not exist
at REF is new: its stacks are reported as added in full.

Git is asked with plumbing that reads its arguments literally: the ref after
`--end-of-options` (and never one that starts with '-'), the path as a literal pathspec
(`GIT_LITERAL_PATHSPECS=1`, so `[eu].yaml` is that file and not a pattern), the file by its
blob id (`git cat-file blob`). File names and contents are bytes until decoded here.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..config import Deployment, load_text
from ..errors import InputError
from ..escape import control_characters


@dataclass(frozen=True)
class Base:
    deployments: list[Deployment]
    label: str  # how the report names the base, e.g. "origin/main"
    new_files: list[str]  # head files that do not exist in the base


def _git(cwd: Path, *args: str, literal: bool = False) -> subprocess.CompletedProcess[bytes]:
    """Run git in `cwd`; output as bytes (file names and contents are not ours to decode).
    `literal`: pathspecs are file names, not patterns (`[eu].yaml` is that file)."""
    env = {**os.environ, "GIT_LITERAL_PATHSPECS": "1"} if literal else None
    try:
        return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, check=False,
                              env=env)
    except FileNotFoundError:
        raise InputError.one("--base-ref", "", "needs git, which is not installed") from None


def _blob(root: Path, commit: str, relative: str, ref: str) -> bytes | None:
    """The file at `relative` in `commit` (None: not there), read with plumbing that takes
    the path literally: `ls-tree` finds its blob, `cat-file` reads it."""
    listed = _git(root, "ls-tree", "-z", "--full-tree", commit, "--", relative, literal=True)
    wanted = os.fsencode(relative)
    for entry in listed.stdout.split(b"\0"):
        meta, _, name = entry.partition(b"\t")
        parts = meta.split()
        if name == wanted and len(parts) == 3:
            if parts[1] != b"blob":
                raise InputError.one("--base-ref", "", f"{relative} is not a file at '{ref}'")
            return _git(root, "cat-file", "blob", parts[2].decode("ascii")).stdout
    return None


def at_ref(paths: list[Path], ref: str) -> Base:
    """The deployment files at `ref`, from the git repository each path is in."""
    if not ref or ref.startswith("-") or control_characters(ref):
        # git reads a leading '-' as an option; no branch or tag name starts with one.
        raise InputError.one("--base-ref", "", f"'{ref}' is not a git ref")
    deployments = []
    new = []
    problems = []
    commits: dict[Path, str] = {}
    for path in paths:
        folder = path.resolve().parent
        top = _git(folder, "rev-parse", "--show-toplevel")
        if top.returncode != 0:
            problems.append((path, "--base-ref", "is not in a git repository, so there is no "
                             f"version of it at '{ref}'"))
            continue
        root = Path(os.fsdecode(top.stdout.strip()))
        if root not in commits:
            found = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options",
                         f"{ref}^{{commit}}")
            if found.returncode != 0:
                problems.append(("--base-ref", "", f"'{ref}' is not a commit in the git "
                                 f"repository of {path} (fetch it first, e.g. "
                                 f"'git fetch origin {ref.split('/')[-1]}')"))
                continue
            commits[root] = found.stdout.decode("ascii").strip()
        relative = path.resolve().relative_to(root.resolve()).as_posix()
        blob = _blob(root, commits[root], relative, ref)
        if blob is None:
            new.append(str(path))  # not in the base: every opening of it is added
            continue
        name = Path(f"{ref}:{relative}")
        try:
            deployments.append(load_text(blob.decode("utf-8"), name))
        except UnicodeDecodeError as error:
            problems.append((name, "", f"cannot be read: {error}"))
        except InputError as error:
            problems.extend(error.problems)
    if problems:
        raise InputError(problems)
    return Base(deployments, ref, new)
