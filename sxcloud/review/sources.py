"""Where the base version of the deployment files comes from: other files, or a git ref.

`--base-ref REF` reads each head file's path as it is at REF, so a pull request's review
compares the branch with its target without a second checkout. A file that does not exist
at REF is new: its stacks are reported as added in full.

Symbolic links are read as the deploy job reads them: a path that is a link, or lies under a
linked folder, is the file the link names *at that version*. The head is the working tree;
the base is resolved inside REF's tree, link by link (`resolve`), never through the head's
links (which would read the head's file twice and show no change). Each link the head's path
passes through that the base does not have with the same target (a link the change adds or
retargets) is a finding of the file's stacks (`Base.links`). A base link that leaves the
repository cannot be read at REF: bad input.

Git is asked with plumbing that reads its arguments literally: the ref after
`--end-of-options` (and never one that starts with '-'), the path as a literal pathspec
(`GIT_LITERAL_PATHSPECS=1`, so `[eu].yaml` is that file and not a pattern), the file by its
blob id (`git cat-file blob`). File names and contents are bytes until decoded here.
"""

from __future__ import annotations

import os
import subprocess
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..config import Deployment, load_text
from ..errors import InputError
from ..escape import control_characters
from . import policyfile
from .settings import SettingChange


#: Links followed for one path before it is refused as a loop (Linux's own limit is 40).
MAX_LINKS = 40

FILE, FOLDER, LINK = "file", "folder", "link"


@dataclass(frozen=True)
class Link:
    """A symbolic link met while resolving a path: where it is, and what it names."""

    path: str  # inside the repository, '/'-separated
    target: str  # as written in the link


@dataclass(frozen=True)
class Base:
    deployments: list[Deployment]
    label: str  # how the report names the base, e.g. "origin/main"
    new_files: list[str]  # head files that do not exist in the base
    #: Each head path's version at the base (only those that exist there): a stack is
    #: matched by its file as well as by its name, so a renamed deployment is a rename.
    by_path: dict[Path, Deployment] = field(default_factory=dict)
    #: Per head path, the links the change adds or retargets on its way (each a finding).
    links: dict[Path, list[SettingChange]] = field(default_factory=dict)


class Escapes(Exception):
    """A link names a path outside the repository (absolute, or above its top)."""

    def __init__(self, links: list[Link]):
        super().__init__(links[-1].path)
        self.link, self.links = links[-1], links


#: path -> (FILE|FOLDER|LINK, what it holds: a link's target; in git, a file's blob id)
Entry = Callable[[str], "tuple[str, str] | None"]


def resolve(entry: Entry, relative: str) -> tuple[str | None, list[Link]]:
    """The file `relative` names in a tree whose entries `entry` reads, following links as
    the operating system does; None when there is no such file. Also every link met."""
    pending = relative.split("/")
    done: list[str] = []
    links: list[Link] = []
    while pending:
        name = pending.pop(0)
        if name in ("", "."):
            continue
        if name == "..":
            if not done:
                raise Escapes(links or [Link(relative, relative)])
            done.pop()
            continue
        current = "/".join([*done, name])
        found = entry(current)
        if found is None:
            return None, links
        kind, target = found
        if kind == LINK:
            link = Link(current, target)
            links.append(link)
            if len(links) > MAX_LINKS:
                raise InputError.one(relative, "", f"passes through more than {MAX_LINKS} "
                                     "symbolic links (a loop?)")
            if target.startswith("/"):
                raise Escapes(links)
            pending = target.split("/") + pending  # relative to the link's folder: `done`
            continue
        if pending and kind != FOLDER:
            return None, links
        done.append(name)
    return ("/".join(done) if done else None), links


def _git_entry(root: Path, commit: str) -> Entry:
    """Entries of the tree of `commit`, read with plumbing that takes the path literally:
    `ls-tree` finds its mode and object, `cat-file` reads a link's target."""
    def entry(relative: str) -> tuple[str, str] | None:
        listed = _git(root, "ls-tree", "-z", "--full-tree", commit, "--", relative,
                      literal=True)
        wanted = os.fsencode(relative)
        for line in listed.stdout.split(b"\0"):
            meta, _, name = line.partition(b"\t")
            parts = meta.split()
            if name != wanted or len(parts) != 3:
                continue
            if parts[0] == b"120000":
                blob = _git(root, "cat-file", "blob", parts[2].decode("ascii")).stdout
                return LINK, os.fsdecode(blob)
            kind = {b"tree": FOLDER, b"blob": FILE}.get(parts[1], "other")
            return kind, parts[2].decode("ascii")
        return None
    return entry


def _disk_entry(top: Path) -> Entry:
    """Entries of the working tree under `top`, without following the last link."""
    def entry(relative: str) -> tuple[str, str] | None:
        where = top / relative
        try:
            mode = where.lstat().st_mode
        except OSError:
            return None
        if stat.S_ISLNK(mode):
            return LINK, os.readlink(where)
        return (FOLDER if stat.S_ISDIR(mode) else FILE), ""
    return entry


def _in_repository(path: Path, top: Path) -> tuple[Path, str] | None:
    """The folder through which `path` (as given, links unresolved) enters the repository
    whose top is `top`, and the path inside it; None when it does not."""
    absolute = Path(os.path.abspath(path))
    real = top.resolve()
    for ancestor in reversed(absolute.parents):  # the outermost first: the longest path
        if ancestor.resolve() == real:
            return ancestor, absolute.relative_to(ancestor).as_posix()
    return None


def _changed_links(head: list[Link], base: Entry, ref: str) -> list[SettingChange]:
    """A finding for each link of the head's path that the base lacks or names otherwise."""
    out = []
    for link in head:
        before = base(link.path)
        if before == (LINK, link.target):
            continue
        was = (f"a link to {before[1]}" if before and before[0] == LINK
               else "not a link" if before else "not there")
        out.append(SettingChange(
            f"link {link.path}", was, f"a link to {link.target}",
            f"{link.path} is now a symbolic link to {link.target} (at {ref}: {was}). The "
            "deploy job reads the file it names, so the change decides anew what the stack "
            "is built from.", True))
    return out


def _git(cwd: Path, *args: str, literal: bool = False) -> subprocess.CompletedProcess[bytes]:
    """Run git in `cwd`; output as bytes (file names and contents are not ours to decode).
    `literal`: pathspecs are file names, not patterns (`[eu].yaml` is that file)."""
    env = {**os.environ, "GIT_LITERAL_PATHSPECS": "1"} if literal else None
    try:
        return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, check=False,
                              env=env)
    except FileNotFoundError:
        raise InputError.one("--base-ref", "", "needs git, which is not installed") from None


def _check_ref(ref: str, option: str = "--base-ref") -> None:
    if not ref or ref.startswith("-") or control_characters(ref):
        # git reads a leading '-' as an option; no branch or tag name starts with one.
        raise InputError.one(option, "", f"'{ref}' is not a git ref")


def at_ref(paths: list[Path], ref: str) -> Base:
    """The deployment files at `ref`, from the git repository each path is in."""
    _check_ref(ref)
    deployments = []
    new = []
    problems = []
    commits: dict[Path, str] = {}
    by_path: dict[Path, Deployment] = {}
    links: dict[Path, list[SettingChange]] = {}
    for path in paths:
        folder = Path(os.path.abspath(path)).parent
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
        inside = _in_repository(path, root)
        if inside is None:
            problems.append((path, "--base-ref", "reaches its file through a link out of its "
                             "git repository, so there is no version of it at the ref"))
            continue
        entry = _git_entry(root, commits[root])
        try:
            head_links = resolve(_disk_entry(inside[0]), inside[1])[1]
        except Escapes as escape:  # the head reads a file outside: its links still count
            head_links = escape.links
        try:
            relative, _ = resolve(entry, inside[1])
        except Escapes as escape:
            problems.append((path, "--base-ref", f"at '{ref}', {escape.link.path} is a link "
                             f"to {escape.link.target}, outside the repository"))
            continue
        links[path] = _changed_links(head_links, entry, ref)
        found = None if relative is None else entry(relative)
        if found is None:
            new.append(str(path))  # not in the base: every opening of it is added
            continue
        if found[0] != FILE:
            problems.append((path, "--base-ref", f"{relative} is not a file at '{ref}'"))
            continue
        name = Path(f"{ref}:{relative}")
        blob = _git(root, "cat-file", "blob", found[1]).stdout
        try:
            by_path[path] = load_text(blob.decode("utf-8"), name)
            deployments.append(by_path[path])
        except UnicodeDecodeError as error:
            problems.append((name, "", f"cannot be read: {error}"))
        except InputError as error:
            problems.extend(error.problems)
    if problems:
        raise InputError(problems)
    return Base(deployments, ref, new, by_path, {p: f for p, f in links.items() if f})


def policy_at(paths: list[Path], ref: str,
              option: str = "--policy-ref") -> policyfile.Policy:
    """The review policy file (`policyfile.PATH`) at `ref`, in the git repository of the
    first deployment file (or of the working folder); none there is an empty policy. Never
    read from the working tree: the change under review must not decide what is trusted.
    `option` names the ref in messages."""
    _check_ref(ref, option)
    folder = Path(os.path.abspath(paths[0])).parent if paths else Path.cwd()
    top = _git(folder, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise InputError.one(option, "", f"{folder} is not in a git repository, so "
                             f"there is no {policyfile.PATH} at '{ref}'")
    root = Path(os.fsdecode(top.stdout.strip()))
    found = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options",
                 f"{ref}^{{commit}}")
    if found.returncode != 0:
        raise InputError.one(option, "", f"'{ref}' is not a commit in the git "
                             f"repository {root}")
    entry = _git_entry(root, found.stdout.decode("ascii").strip())
    name = f"{ref}:{policyfile.PATH}"
    try:
        relative, _ = resolve(entry, policyfile.PATH)
    except Escapes:
        raise InputError.one(name, "", "is a link out of the repository") from None
    listed = None if relative is None else entry(relative)
    if listed is None:
        return policyfile.NONE
    if listed[0] != FILE:
        raise InputError.one(name, "", "is not a file")
    blob = _git(root, "cat-file", "blob", listed[1]).stdout
    try:
        return policyfile.from_text(blob.decode("utf-8"), name)
    except UnicodeDecodeError as error:
        raise InputError.one(name, "", f"is not UTF-8 text (byte {error.start})") from None
