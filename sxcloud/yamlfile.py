"""Read a deployment file's YAML as bounded, JSON-like data (issue 9).

A deployment file arrives in pull requests from anyone who can push a branch, so reading it
must be safe before any stage looks at it:

- the file is at most MAX_BYTES long, and nests at most MAX_DEPTH collections deep;
- anchors and aliases are refused: a deployment file needs none, and they are what makes a
  625-byte file expand to millions of nodes (the "billion laughs");
- explicit tags (`!!binary`, `!!set`, `!!int abc`, `!foo`) are refused, and so is every plain
  scalar YAML would read as something JSON has not (dates, timestamps, floats, `.nan`,
  `.inf`, merge keys): only strings, whole numbers, booleans and null are built, so nothing
  downstream ever sees a date or bytes. One key takes a plain date, `exceptions[N].expires`
  (spec/config.md): its text is kept as a string, as if it were quoted;
- keys are strings, each given once.

The document is built from PyYAML's event stream (its parser is a state machine and does not
recurse), not by its composer and constructor (which do), so that a deep document is refused
at the first level too deep instead of raising RecursionError.

Every problem is one line naming the file, the line and the column. Nothing of the file's
content is quoted except a short escaped excerpt of the offending scalar: a deployment file
that is a symlink to a credentials file must not have its content printed. PyYAML's own
messages are reduced to their one-line `problem` without the quoted source line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

import yaml
from yaml.constructor import SafeConstructor

from .errors import InputError
from .escape import excerpt

#: 1 MiB. The largest example is under 2 KB. A file at the clouds' own limits (Azure: 4,000
#: addresses per rule side; AWS: 1,000 rules per group) written as one CIDR per line is about
#: 200 KB, so 1 MiB leaves room for comments and still bounds what is read, parsed and held.
MAX_BYTES = 1 << 20

#: The deepest valid document nests 7 collections (file > aws > backend > s3 > assume_role >
#: policy_arns > entry). 20 leaves room for future keys and stays far below Python's
#: recursion limit for everything that walks the data afterwards (jsonschema, json.dumps).
MAX_DEPTH = 20

#: Whole numbers are written in decimal; 18 digits keep them in 64 bits (and far below
#: Python's 4,300-digit limit for int(), which a 5,000-digit number would hit).
_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9]{0,17})")

_TAG = "tag:yaml.org,2002:"
_NOT_JSON = {
    f"{_TAG}float": "is read as a floating-point number; no key takes one (quote it if it is text)",
    f"{_TAG}timestamp": "is read as a date; quote it if it is text",
    f"{_TAG}merge": "is a YAML merge key; write the keys out instead",
    f"{_TAG}value": "is read as a YAML value key; quote it if it is text",
}
#: The one place a plain YAML date is read (as its text): an exception's expiry.
_DATE_KEY = re.compile(r"exceptions\[[0-9]+\]\.expires")
_RESOLVER = yaml.resolver.Resolver()  # PyYAML's implicit types, to find out what a scalar means
# libyaml's parser when PyYAML was built with it (ten times faster on a large file), else
# PyYAML's own; both are state machines that produce the same events.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Refused(Exception):
    """A problem at a place in the file (mark), to become one line of an InputError."""

    def __init__(self, mark: Any, message: str, key: str = ""):
        super().__init__(message)
        self.mark, self.message, self.key = mark, message, key


def read(path: Path) -> Any:
    """The JSON-like content of the YAML file at `path` (at most MAX_BYTES are read)."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InputError.one(path, "", "no such file") from None
    except OSError as error:
        raise InputError.one(path, "", f"cannot be read: {error.strerror or type(error).__name__}") from None
    _check_size(len(raw), path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError.one(path, "", f"is not UTF-8 text (byte {error.start})") from None
    return parse(text, path)


def parse(text: str, path: Path) -> Any:
    """The JSON-like content of a YAML text; `path` names it in messages."""
    _check_size(len(text.encode("utf-8", "surrogatepass")), path)
    try:
        return _build(yaml.parse(text, Loader=_LOADER))
    except _Refused as refused:
        problem = (path, _where(refused.key, refused.mark), refused.message)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = (path, _where("", mark), f"is not valid YAML: {excerpt(error.problem, 120)}")
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        problem = (path, f"line {line}, column {column}",
                   f"is not valid YAML: character #x{error.character:04x} is not allowed")
    except yaml.YAMLError as error:  # any other PyYAML error: its kind only, no content
        problem = (path, "", f"is not valid YAML ({type(error).__name__})")
    raise InputError([problem])


def _check_size(size: int, path: Path) -> None:
    if size > MAX_BYTES:
        raise InputError.one(path, "", f"is larger than {MAX_BYTES >> 20} MiB; a deployment "
                             "file is a few kilobytes")


def _where(key: str, mark: Any) -> str:
    at = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{key} ({at})" if key and at else (key or at)


class _Frame:
    """A collection being built: a list, or a mapping with the key awaiting its value."""

    __slots__ = ("value", "key", "path")

    def __init__(self, value: list[Any] | dict[str, Any], path: str):
        self.value, self.key, self.path = value, None, path

    def wants_key(self) -> bool:
        return isinstance(self.value, dict) and self.key is None

    def child_path(self) -> str:
        if isinstance(self.value, list):
            return f"{self.path}[{len(self.value)}]"
        key = excerpt(self.key, 40)  # a key may be as long as the file
        return f"{self.path}.{key}" if self.path else key


def _build(events: Iterable[yaml.Event]) -> Any:
    stack: list[_Frame] = []
    root: Any = None
    documents = 0
    for event in events:
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _Refused(event.start_mark, "holds a second YAML document (---); a "
                               "deployment file is one document")
            continue
        if not isinstance(event, (yaml.NodeEvent, yaml.CollectionEndEvent)):
            continue  # stream and document ends
        if isinstance(event, yaml.CollectionEndEvent):
            done = stack.pop()
            if not stack:
                root = done.value
            else:
                _add(stack[-1], done.value, event)
            continue
        where = stack[-1].child_path() if stack and not stack[-1].wants_key() else (
            stack[-1].path if stack else "")
        _refuse_node_features(event, where)
        if isinstance(event, yaml.CollectionStartEvent):
            if stack and stack[-1].wants_key():
                raise _Refused(event.start_mark, "a list or mapping cannot be a key", where)
            if len(stack) >= MAX_DEPTH:
                raise _Refused(event.start_mark, f"nests deeper than {MAX_DEPTH} levels", where)
            container: list[Any] | dict[str, Any] = (
                {} if isinstance(event, yaml.MappingStartEvent) else [])
            stack.append(_Frame(container, where))
            continue
        value = _scalar(event, where)  # a ScalarEvent: the rest were refused above
        if not stack:
            root = value
        else:
            _add(stack[-1], value, event)
    return root


def _refuse_node_features(event: yaml.NodeEvent, where: str) -> None:
    if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
        raise _Refused(event.start_mark, "YAML anchors and aliases (&name, *name) are not "
                       "allowed; write the value out", where)
    if getattr(event, "tag", None) is not None:
        shown = "!!" + event.tag[len(_TAG):] if event.tag.startswith(_TAG) else event.tag
        raise _Refused(event.start_mark, f"explicit YAML tags ({excerpt(shown, 40)}) are not "
                       "allowed; write plain values", where)


def _scalar(event: yaml.ScalarEvent, where: str) -> Any:
    text = event.value
    if not event.implicit[0]:  # quoted or a block scalar: a string
        return text
    tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
    if tag == f"{_TAG}str" or (tag == f"{_TAG}timestamp" and _DATE_KEY.fullmatch(where)):
        return text
    if tag == f"{_TAG}null":
        return None
    if tag == f"{_TAG}bool":
        return SafeConstructor.bool_values[text.lower()]
    if tag == f"{_TAG}int":
        if _DECIMAL.fullmatch(text):
            return int(text)
        raise _Refused(event.start_mark, f"'{excerpt(text)}' is not a whole number in decimal "
                       "of at most 18 digits (quote it if it is text)", where)
    reason = _NOT_JSON.get(tag, f"is read as YAML type {excerpt(tag, 40)}; quote it if it is text")
    raise _Refused(event.start_mark, f"'{excerpt(text)}' {reason}", where)


def _add(frame: _Frame, value: Any, event: yaml.Event) -> None:
    if isinstance(frame.value, list):
        frame.value.append(value)
    elif frame.key is None:
        if not isinstance(value, str):
            shown = "null" if value is None else excerpt(str(value).lower()
                                                         if isinstance(value, bool) else value)
            raise _Refused(event.start_mark, f"key {shown} is not text; quote it", frame.path)
        if value in frame.value:
            raise _Refused(event.start_mark, f"key '{excerpt(value)}' appears twice", frame.path)
        frame.key = value
    else:
        frame.value[frame.key] = value
        frame.key = None
